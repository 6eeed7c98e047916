/**
 * Public key login in one round trip (signed-first.ts): with a key file, the signed request goes
 * out at once, without ssh2's question first (RFC 4252 §7), and the server's check of that
 * signature passes. A key the server refuses still ends in the usual authentication error.
 * Checked against ssh2's own server on 127.0.0.1, which verifies the signature and records whether
 * a request carried one.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSsh } from "../../../../src/transport/ssh/ssh-transport.ts";
import { TransportError } from "../../../../src/transport/transport.ts";
import { startLoopbackSshd, type LoopbackSshd } from "./support/loopback-sshd.ts";

let sshd: LoopbackSshd;

beforeAll(async () => {
  sshd = await startLoopbackSshd();
});

afterAll(async () => {
  await sshd.stop();
});

describe("public key login without the question first", () => {
  it("sends one signed request, which the server verifies, and never the question", async () => {
    const index = sshd.seen.length;
    const transport = await connectSsh(sshd.client());
    try {
      expect((await transport.exec("true")).exitCode).toBe(0);
    } finally {
      await transport.close();
    }
    const auths = (sshd.seen[index] ?? []).filter((event) => event.startsWith("auth"));
    expect(auths).toEqual(["auth publickey"]);
  });

  it("an RSA key signs with the algorithm ssh2 picked (rsa-sha2-*): the server's check passes", async () => {
    const rsa = await startLoopbackSshd({ clientKeyType: "rsa" });
    try {
      const transport = await connectSsh(rsa.client());
      await transport.close();
      expect((rsa.seen[0] ?? []).filter((event) => event.startsWith("auth"))).toEqual(["auth publickey"]);
    } finally {
      await rsa.stop();
    }
  });

  it("a key the server does not accept fails as before: an auth error naming what was tried", async () => {
    const stranger = join(sshd.identityFile, "..", "stranger");
    await writeFile(stranger, ssh2.utils.generateKeyPairSync("ed25519").private, { mode: 0o600 });
    const index = sshd.seen.length;
    const error = await connectSsh({ ...sshd.client(), identityFiles: [stranger] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).kind).toBe("auth");
    expect((error as Error).message).toContain("stranger");
    expect((sshd.seen[index] ?? []).filter((event) => event.startsWith("auth"))).toEqual(["auth publickey"]);
  });
});
