/**
 * SSH keys: one test client key pair for the whole machine, and one ed25519 host key per host
 * name, both cached outside the repo so known_hosts entries stay valid across runs.
 */
import fs from "node:fs";
import path from "node:path";
import { CACHE_DIR, HOSTKEY_DIR, TEST_KEY_PATH } from "./paths.ts";
import { check } from "./run.ts";

/** Generate into a temp name, then rename: a killed keygen never leaves half a key pair. */
async function keygen(target: string, comment: string): Promise<void> {
  if (fs.existsSync(target) && fs.existsSync(`${target}.pub`)) return;
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  const tmp = `${target}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.rmSync(`${tmp}.pub`, { force: true });
  await check("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", tmp]);
  fs.renameSync(`${tmp}.pub`, `${target}.pub`);
  fs.renameSync(tmp, target);
}

export async function ensureTestKey(): Promise<{ privateKeyPath: string; publicKey: string }> {
  fs.mkdirSync(CACHE_DIR, { recursive: true, mode: 0o700 });
  await keygen(TEST_KEY_PATH, "provision-testhosts");
  return { privateKeyPath: TEST_KEY_PATH, publicKey: fs.readFileSync(`${TEST_KEY_PATH}.pub`, "utf8").trim() };
}

export interface HostKey {
  privateKey: string;
  publicKey: string; // "ssh-ed25519 AAAA… comment"
}

export async function ensureHostKey(name: string): Promise<HostKey> {
  const file = path.join(HOSTKEY_DIR, name, "ssh_host_ed25519_key");
  await keygen(file, `root@${name}`);
  return {
    privateKey: fs.readFileSync(file, "utf8"),
    publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim(),
  };
}

/** "10.213.0.10 ssh-ed25519 AAAA…" — the plain known_hosts form (no comment, no hashing). */
export function knownHostsLine(address: string, publicKey: string): string {
  const [type, blob] = publicKey.split(/\s+/);
  return `${address} ${type} ${blob}`;
}
