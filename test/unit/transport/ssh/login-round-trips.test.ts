/**
 * The login in one round trip, right behind the key exchange:
 * - signed-first.ts: with a key file the signed request goes out at once, without ssh2's question
 *   first (RFC 4252 §7), and the server's check of that signature passes (ed25519 and RSA, whose
 *   hash must match the algorithm ssh2 picked); a refused key still ends in the usual auth error.
 * - auth-behind-service.ts: the first USERAUTH_REQUEST reaches the host with the request for the
 *   `ssh-userauth` service, not a round trip later after SERVICE_ACCEPT, and the host's real
 *   SERVICE_ACCEPT is not acted on a second time (one login, not two).
 * Checked against ssh2's own server on 127.0.0.1, which verifies signatures and records what each
 * connection asked for and when; `distant` holds what it sends for a one-way delay, so a client
 * that waited for SERVICE_ACCEPT could not log in sooner than that after the key exchange ended.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSsh } from "../../../../src/transport/ssh/ssh-transport.ts";
import { TransportError } from "../../../../src/transport/transport.ts";
import { startLoopbackSshd, type LoopbackSshd } from "./support/loopback-sshd.ts";

const DELAY_MS = 150;
let near: LoopbackSshd;
let distant: LoopbackSshd;

beforeAll(async () => {
  [near, distant] = await Promise.all([startLoopbackSshd(), startLoopbackSshd({ delayToClientMs: DELAY_MS })]);
});

afterAll(async () => {
  await Promise.all([near.stop(), distant.stop()]);
});

/** Log in to `sshd`, run `true`, close: what the server saw of that connection, and when. */
async function loginOnce(sshd: LoopbackSshd): Promise<{ events: string[]; at: number[] }> {
  const index = sshd.seen.length;
  const transport = await connectSsh(sshd.client());
  try {
    expect((await transport.exec("true")).exitCode).toBe(0);
  } finally {
    await transport.close();
  }
  return { events: sshd.seen[index] ?? [], at: sshd.seenAt[index] ?? [] };
}

const logins = (events: string[]) => events.filter((event) => event.startsWith("auth"));

describe("public key login without the question first", () => {
  it("sends one signed request, which the server verifies, and never the question", async () => {
    expect(logins((await loginOnce(near)).events)).toEqual(["auth publickey"]);
  });

  it("an RSA key signs with the algorithm ssh2 picked (rsa-sha2-*): the server's check passes", async () => {
    const rsa = await startLoopbackSshd({ clientKeyType: "rsa" });
    try {
      expect(logins((await loginOnce(rsa)).events)).toEqual(["auth publickey"]);
    } finally {
      await rsa.stop();
    }
  });

  it("a key the server does not accept fails as before: an auth error naming what was tried", async () => {
    const stranger = join(near.identityFile, "..", "stranger");
    await writeFile(stranger, ssh2.utils.generateKeyPairSync("ed25519").private, { mode: 0o600 });
    const index = near.seen.length;
    const error = await connectSsh({ ...near.client(), identityFiles: [stranger] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).kind).toBe("auth");
    expect((error as Error).message).toContain("stranger");
    expect(logins(near.seen[index] ?? [])).toEqual(["auth publickey"]);
  });
});

describe("the login behind the service request", () => {
  it("reaches the host before SERVICE_ACCEPT could have reached the client, and happens once", async () => {
    const { events, at } = await loginOnce(distant);
    const handshake = at[events.indexOf("handshake")] as number;
    const login = at[events.indexOf("auth publickey")] as number;
    // The service request went with the client's NEWKEYS, the login right behind it.
    expect(login - handshake).toBeLessThan(DELAY_MS / 2);
    expect(logins(events)).toEqual(["auth publickey"]);
    expect(events.filter((event) => event === "ready")).toEqual(["ready"]);
  });
});
