/**
 * The login right behind the service request (auth-behind-service.ts): the first USERAUTH_REQUEST
 * reaches the host with the request for the `ssh-userauth` service, not a round trip later after
 * the host's SERVICE_ACCEPT; the host's real SERVICE_ACCEPT is not acted on a second time (one
 * login, not two). Checked against ssh2's own server behind a one-way delay on what it sends: a
 * client that waited for SERVICE_ACCEPT could not log in sooner than that delay after the key
 * exchange ended at the server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSsh } from "../../../../src/transport/ssh/ssh-transport.ts";
import { startLoopbackSshd, type LoopbackSshd } from "./support/loopback-sshd.ts";

const DELAY_MS = 150;
let sshd: LoopbackSshd;

beforeAll(async () => {
  sshd = await startLoopbackSshd({ delayToClientMs: DELAY_MS });
});

afterAll(async () => {
  await sshd.stop();
});

describe("the login behind the service request", () => {
  it("reaches the host before SERVICE_ACCEPT could have reached the client, and happens once", async () => {
    const index = sshd.seen.length;
    const transport = await connectSsh(sshd.client());
    try {
      expect((await transport.exec("true")).exitCode).toBe(0);
    } finally {
      await transport.close();
    }
    const events = sshd.seen[index] ?? [];
    const at = sshd.seenAt[index] ?? [];
    const handshake = at[events.indexOf("handshake")] as number;
    const login = at[events.indexOf("auth publickey")] as number;
    // The service request went with the client's NEWKEYS, the login right behind it.
    expect(login - handshake).toBeLessThan(DELAY_MS / 2);
    expect(events.filter((event) => event.startsWith("auth"))).toEqual(["auth publickey"]);
    expect(events.filter((event) => event === "ready")).toEqual(["ready"]);
  });
});
