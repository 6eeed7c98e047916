/**
 * The transport's authGate (early connections, src/cli/early-connections.ts): the handshake runs
 * at once, the login only when the gate opens; a closed gate ends the connection with no login.
 * Checked against ssh2's own server on 127.0.0.1, which records what the client asked for.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSsh } from "../../../../src/transport/ssh/ssh-transport.ts";
import { TransportError } from "../../../../src/transport/transport.ts";
import { startLoopbackSshd, type LoopbackSshd } from "./support/loopback-sshd.ts";

let sshd: LoopbackSshd;
/** What the server saw, per connection, in order. */
let seen: string[][];

beforeAll(async () => {
  sshd = await startLoopbackSshd();
  seen = sshd.seen;
});

afterAll(async () => {
  await sshd.stop();
});

function connect(authGate: Promise<void>) {
  return connectSsh({ ...sshd.client(), authGate });
}

/** Bounded wait for the server to record `event` on its connection number `index`. */
async function untilSeen(index: number, event: string, timeoutMs = 5_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const events = seen[index];
    if (events?.includes(event)) return events;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the server never saw ${event} on connection ${index}: ${JSON.stringify(seen[index])}`);
}

function gate() {
  let open!: () => void;
  let shut!: (reason: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    shut = reject;
  });
  // As EarlyConnections does: a gate closed before anyone waits on it is not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, open, shut };
}

describe("authGate: handshake now, login later", () => {
  it("the key exchange completes before the gate opens; the login waits for it", async () => {
    const g = gate();
    const index = seen.length;
    const connecting = connect(g.promise);
    const events = await untilSeen(index, "handshake");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events.filter((e) => e.startsWith("auth"))).toEqual([]);
    g.open();
    const transport = await connecting;
    expect(events).toContain("auth publickey");
    expect(events).toContain("ready");
    await transport.close();
  });

  it("a gate closed after the handshake ends the connection with no login attempted", async () => {
    const g = gate();
    const index = seen.length;
    const connecting = connect(g.promise).then(
      () => undefined,
      (error: unknown) => error,
    );
    const events = await untilSeen(index, "handshake");
    g.shut(new Error("vars invalid"));
    const error = await connecting;
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).message).toMatch(/closed before authentication: vars invalid/);
    await untilSeen(index, "close");
    expect(events.filter((e) => e.startsWith("auth") || e === "ready")).toEqual([]);
  });

  it("a gate closed before the handshake ends it at once, with no login", async () => {
    const g = gate();
    g.shut(new Error("playbook did not load"));
    const before = seen.length;
    const started = Date.now();
    const error = await connect(g.promise).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(/closed before authentication: playbook did not load/);
    // Not the 15 s handshake timeout: the gate's rejection ends it.
    expect(Date.now() - started).toBeLessThan(5_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const events of seen.slice(before)) expect(events.filter((e) => e.startsWith("auth"))).toEqual([]);
  });
});
