/**
 * Closing a direct SSH connection does not wait for the host's answer to the disconnect: that is a
 * round trip at the end of every run (0.1 s at 100 ms). The server here answers 200 ms late (a
 * one-way delay on what it sends); close() must return well before that, and the server must
 * still get the disconnect (its connection closes, the command it ran is done).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSsh } from "../../../../src/transport/ssh/ssh-transport.ts";
import { startLoopbackSshd, type LoopbackSshd } from "./support/loopback-sshd.ts";

const DELAY_MS = 200;
let sshd: LoopbackSshd;

beforeAll(async () => {
  sshd = await startLoopbackSshd({ delayToClientMs: DELAY_MS });
});

afterAll(async () => {
  await sshd.stop();
});

describe("closing a direct connection", () => {
  it("returns without waiting a round trip for the host, which still sees the disconnect", async () => {
    const index = sshd.seen.length;
    const transport = await connectSsh(sshd.client());
    expect((await transport.exec("true")).exitCode).toBe(0);
    const started = Date.now();
    await transport.close();
    // Before: ~DELAY_MS (the host's close reached us one delay later).
    expect(Date.now() - started).toBeLessThan(DELAY_MS / 2);
    const deadline = Date.now() + 5_000;
    while (!sshd.seen[index]?.includes("close") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const events = sshd.seen[index] ?? [];
    expect(events.slice(-3)).toEqual(["ready", "exec", "close"]);
  });
});
