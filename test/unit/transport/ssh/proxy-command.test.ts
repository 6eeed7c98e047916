/**
 * A ProxyCommand that fails: the error carries what it printed on stderr, even when the failure
 * ssh2 sees first is a write to the dead command (EPIPE) and the stderr has not been read yet.
 * No network: the "connection" is the command's stdio, and the command never reaches a host.
 */
import { describe, expect, it } from "vitest";
import { TransportError } from "../../../../src/transport/transport.ts";
import { connectSsh } from "../../../../src/transport/ssh/ssh-transport.ts";

async function connectError(proxyCommand: string): Promise<unknown> {
  return connectSsh({
    host: "127.0.0.1",
    user: "root",
    identityFiles: [],
    knownHostsFiles: [],
    sshConfigPath: false,
    agent: false,
    proxyCommand,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe("ProxyCommand failures", () => {
  it("a command that closes its stdin at once and says why a moment later: the message has its words", async () => {
    // stdin closed first, so ssh2's first write fails with EPIPE; the explanation comes 300 ms
    // later from a helper that outlives the TERM sent when the socket is torn down (as `ssh -W`'s
    // own children may). Before the fix the message was only "write EPIPE".
    const error = await connectError(`sh -c 'exec 0<&-; (trap "" TERM; sleep 0.3; echo proxy says no >&2) & wait'`);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).kind).toBe("connect");
    expect((error as TransportError).message).toMatch(/through ProxyCommand .*: proxy says no/);
  });

  it("a command that fails at once: the error names the command's stderr", async () => {
    const error = await connectError("sh -c 'echo proxy says no >&2; exit 3'");
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).message).toMatch(/proxy says no/);
  });
});
