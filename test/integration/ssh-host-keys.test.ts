/**
 * Host key verification and authentication against a real sshd: unknown hosts are refused with
 * the fingerprint (or trusted and recorded on request), changed keys are always refused before
 * anything runs, hashed known_hosts entries work, and a refused login says what was tried.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fingerprintSha256, knownHostName } from "../../src/transport/ssh/index.ts";
import { TransportError } from "../../src/transport/transport.ts";
import { connectAs, fleet, host } from "./ssh-support.ts";

const tmp = mkdtempSync(path.join(os.tmpdir(), "provision-hostkeys-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function keyBlobOf(line: string): Buffer {
  return Buffer.from(line.trim().split(/\s+/)[2] ?? "", "base64");
}

async function failure(promise: Promise<unknown>): Promise<TransportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
  const type = Buffer.from("ssh-ed25519");
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return Buffer.concat([u32(type.length), type, u32(raw.length), raw]);
}

describe.skipIf(!fleet)("ssh transport: host keys and auth", () => {
  it("refuses an unknown host, showing its SHA256 fingerprint and --accept-new-host-keys", async () => {
    const target = host(0);
    const knownHosts = path.join(tmp, "unknown", "known_hosts");
    const error = await failure(connectAs(target, "root", { knownHostsFiles: [knownHosts] }));
    expect(error.kind).toBe("host-key");
    expect(error.host).toBe(target.address);
    expect(error.message).toContain(fingerprintSha256(keyBlobOf(target.hostKeyLine)));
    expect(error.message).toContain("--accept-new-host-keys");
  });

  it("with acceptNewHostKeys trusts the unknown host and records it (0600 file, 0700 dir)", async () => {
    const target = host(0);
    const dir = path.join(tmp, "accept");
    const knownHosts = path.join(dir, "known_hosts");
    const t = await connectAs(target, "root", { knownHostsFiles: [knownHosts], acceptNewHostKeys: true });
    try {
      expect((await t.exec("echo ok")).stdout.toString()).toBe("ok\n");
    } finally {
      await t.close();
    }
    const recorded = readFileSync(knownHosts, "utf8");
    const [, type, blob] = target.hostKeyLine.split(/\s+/);
    expect(recorded).toBe(`${knownHostName(target.address, target.port)} ${type} ${blob}\n`);
    expect(statSync(knownHosts).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // Known now: no flag needed, nothing appended.
    const again = await connectAs(target, "root", { knownHostsFiles: [knownHosts] });
    await again.close();
    expect(readFileSync(knownHosts, "utf8")).toBe(recorded);
  });

  it("refuses a CHANGED host key before any command, even with acceptNewHostKeys", async () => {
    const target = host(0);
    const knownHosts = path.join(tmp, "changed_known_hosts");
    const wrong = ed25519Blob();
    const original = `${knownHostName(target.address, target.port)} ssh-ed25519 ${wrong.toString("base64")}\n`;
    writeFileSync(knownHosts, original);
    const started = Date.now();
    const error = await failure(connectAs(target, "root", { knownHostsFiles: [knownHosts], acceptNewHostKeys: true }));
    expect(error.kind).toBe("host-key");
    expect(error.message).toMatch(/CHANGED/);
    expect(error.message).toContain(fingerprintSha256(keyBlobOf(target.hostKeyLine)));
    expect(error.message).toContain(fingerprintSha256(wrong));
    expect(readFileSync(knownHosts, "utf8")).toBe(original);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("accepts a hashed known_hosts entry (ssh-keygen -H)", async () => {
    const target = host(0);
    const knownHosts = path.join(tmp, "hashed_known_hosts");
    const [, type, blob] = target.hostKeyLine.split(/\s+/);
    writeFileSync(knownHosts, `${knownHostName(target.address, target.port)} ${type} ${blob}\n`);
    execFileSync("ssh-keygen", ["-H", "-f", knownHosts], { stdio: "ignore" });
    expect(readFileSync(knownHosts, "utf8").startsWith("|1|")).toBe(true);
    const t = await connectAs(target, "root", { knownHostsFiles: [knownHosts] });
    await t.close();
  });

  it("a refused login is TransportError 'auth' naming user, host and the keys tried", async () => {
    const target = host(0);
    const key = path.join(tmp, "stranger_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    const error = await failure(connectAs(target, "root", { identityFiles: [key, path.join(tmp, "missing_key")] }));
    expect(error.kind).toBe("auth");
    expect(error.message).toContain(`root@${target.address}`);
    expect(error.message).toContain(key);
    expect(error.message).toContain("missing_key");
  });

  it("an encrypted key is decrypted with the configured passphrase", async () => {
    const target = host(0);
    const key = path.join(tmp, "encrypted_ed25519");
    execFileSync("cp", [fleet!.privateKeyPath, key]);
    execFileSync("chmod", ["600", key]);
    execFileSync("ssh-keygen", ["-q", "-p", "-N", "open sesame", "-P", "", "-f", key]);
    const { secret } = await import("../../src/shell/secret.ts");
    const t = await connectAs(target, "root", { identityFiles: [key], passphrase: secret("open sesame") });
    await t.close();
    const error = await failure(connectAs(target, "root", { identityFiles: [key], promptPassphrase: async () => undefined, env: {} }));
    expect(error.kind).toBe("auth");
    expect(error.message).toMatch(/encrypted/);
  });

  it("a closed port is TransportError 'connect' quickly", async () => {
    const error = await failure(connectAs({ ...host(0), port: 1 }, "root", { readyTimeout: 3_000 }));
    expect(["connect", "timeout"]).toContain(error.kind);
  });
});
