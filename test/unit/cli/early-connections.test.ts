/**
 * EarlyConnections (src/cli/early-connections.ts): which hosts connect early, that their logins
 * wait for open(), that close() before open() ends them unauthenticated, and that each early
 * connection is used once. The connect function is a fake that records the gate it was given.
 */
import { describe, expect, it } from "vitest";
import { EarlyConnections, type EarlyConnectionPlan } from "../../../src/cli/early-connections.ts";
import type { ConnectTarget } from "../../../src/cli/connect.ts";
import type { ConnectionArgs } from "../../../src/cli/options.ts";
import { TransportError, type Transport } from "../../../src/transport/transport.ts";

interface Call {
  name: string;
  gated: boolean;
  /** "login" once the gate opened, "refused" once it closed, "waiting" before. */
  state: "waiting" | "login" | "refused";
  closed: boolean;
}

function fakeConnect(failWith?: (name: string) => Error) {
  const calls: Call[] = [];
  const connect = (target: ConnectTarget, _args: ConnectionArgs, gate?: Promise<void>): Promise<Transport> => {
    const call: Call = { name: target.name, gated: gate !== undefined, state: gate ? "waiting" : "login", closed: false };
    calls.push(call);
    const transport = { close: async () => void (call.closed = true) } as unknown as Transport;
    if (!gate) return failWith ? Promise.reject(failWith(target.name)) : Promise.resolve(transport);
    return gate.then(
      () => {
        call.state = "login";
        if (failWith) throw failWith(target.name);
        return transport;
      },
      (reason: unknown) => {
        call.state = "refused";
        throw reason;
      },
    );
  };
  return { calls, connect };
}

const args = {} as ConnectionArgs;
const hosts = (...names: string[]): ConnectTarget[] => names.map((name) => ({ name }));
const plan = (over: Partial<EarlyConnectionPlan> = {}): EarlyConnectionPlan => ({
  targets: hosts("web1", "web2", "web3"),
  concurrency: 2,
  eligible: true,
  acceptNewHostKeys: false,
  ...over,
});

describe("early connections", () => {
  it("the first `concurrency` SSH hosts connect at once, gated; the logins wait for open()", async () => {
    const { calls, connect } = fakeConnect();
    const early = new EarlyConnections(plan(), args, connect);
    expect(early.started).toBe(2);
    expect(calls.map((c) => [c.name, c.gated])).toEqual([
      ["web1", true],
      ["web2", true],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls.map((c) => c.state)).toEqual(["waiting", "waiting"]);
    early.open();
    await early.take({ name: "web1" });
    expect(calls[0]?.state).toBe("login");
    // A host not connected early (web3), and a second take of web1 (a reconnect): new connections, ungated.
    await early.take({ name: "web3" });
    await early.take({ name: "web1" });
    expect(calls.slice(2).map((c) => [c.name, c.gated])).toEqual([
      ["web3", false],
      ["web1", false],
    ]);
    await early.close();
    // web2 was never taken: closed at the end.
    expect(calls[1]?.closed).toBe(true);
  });

  it("close() before open(): every early connection is refused the login", async () => {
    const { calls, connect } = fakeConnect();
    const early = new EarlyConnections(plan(), args, connect);
    await early.close();
    expect(calls.map((c) => c.state)).toEqual(["refused", "refused"]);
  });

  it("no early connection for list modes, --batch/--shard (eligible: false), --accept-new-host-keys, local targets", () => {
    for (const p of [
      plan({ eligible: false }),
      plan({ acceptNewHostKeys: true }),
      plan({ targets: [{ name: "localhost" }, { name: "box", connection: "local" }, { name: "x", connection: "docker" }] }),
    ]) {
      const { calls, connect } = fakeConnect();
      expect(new EarlyConnections(p, args, connect).started).toBe(0);
      expect(calls).toEqual([]);
    }
  });

  it("an early failure is the host's failure when it runs; a timeout after a long-held gate connects again", async () => {
    const refused = fakeConnect((name) => new TransportError(name, "connect", "cannot connect: ECONNREFUSED"));
    const early = new EarlyConnections(plan({ targets: hosts("a"), concurrency: 1 }), args, refused.connect);
    early.open();
    await expect(early.take({ name: "a" })).rejects.toThrow(/ECONNREFUSED/);
    expect(refused.calls).toHaveLength(1);

    const timedOut = fakeConnect((name) => new TransportError(name, "timeout", "no SSH handshake within 15000 ms"));
    const held = new EarlyConnections(plan({ targets: hosts("b"), concurrency: 1 }), args, timedOut.connect);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    held.open();
    await expect(held.take({ name: "b" })).rejects.toThrow(/no SSH handshake/);
    // Tried again, without a gate.
    expect(timedOut.calls.map((c) => c.gated)).toEqual([true, false]);
  });
});
