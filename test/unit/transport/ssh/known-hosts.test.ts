import { execFileSync } from "node:child_process";
import { createHash, createHmac, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkHostKey,
  fingerprintSha256,
  formatKnownHostLine,
  hashKnownHostName,
  hostFieldMatches,
  keyTypeOfBlob,
  knownHostName,
  matchPattern,
  parseKnownHosts,
} from "../../../../src/transport/ssh/known-hosts.ts";
import { appendKnownHostLine, makeHostVerifier, loadKnownHosts, hostKeyAlgorithms } from "../../../../src/transport/ssh/host-verifier.ts";

/** An SSH wire-format key blob: string type, then opaque bytes (enough for matching). */
function blob(type: string, seed: string): Buffer {
  const typeBuf = Buffer.from(type);
  const body = createHash("sha256").update(seed).digest();
  const header = Buffer.alloc(4);
  header.writeUInt32BE(typeBuf.length);
  const bodyLen = Buffer.alloc(4);
  bodyLen.writeUInt32BE(body.length);
  return Buffer.concat([header, typeBuf, bodyLen, body]);
}

const ED_A = blob("ssh-ed25519", "a");
const ED_B = blob("ssh-ed25519", "b");
const RSA_A = blob("ssh-rsa", "rsa-a");
const line = (hosts: string, key: Buffer) => `${hosts} ${keyTypeOfBlob(key)} ${key.toString("base64")}`;

const tmp = mkdtempSync(path.join(os.tmpdir(), "provision-kh-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function hasSshKeygen(): boolean {
  try {
    execFileSync("ssh-keygen", ["-?"], { stdio: "ignore" });
    return true;
  } catch (error) {
    return (error as { status?: number }).status !== undefined && (error as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

describe("matchPattern", () => {
  it.each([
    ["web1.example.com", "web1.example.com", true],
    ["WEB1.example.com", "web1.EXAMPLE.com", true],
    ["web1.example.com", "*.example.com", true],
    ["example.com", "*.example.com", false],
    ["web1", "web?", true],
    ["web12", "web?", false],
    ["10.213.0.15", "10.213.0.*", true],
    ["[10.213.0.15]:2222", "[10.213.0.*]:2222", true],
    ["[10.213.0.15]:2222", "10.213.0.*", false],
    ["anything", "*", true],
    ["", "*", true],
    ["abc", "a*c*", true],
    ["abxc", "a*x?", true],
    ["abxcd", "a*x?", false],
    ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*a*c", false],
  ])("%s vs %s → %s", (name, pattern, expected) => {
    expect(matchPattern(name, pattern)).toBe(expected);
  });
});

describe("hostFieldMatches", () => {
  it("matches any entry of a comma-separated list", () => {
    expect(hostFieldMatches("a.example,10.0.0.1,b.example", "10.0.0.1")).toBe(true);
    expect(hostFieldMatches("a.example,10.0.0.1", "10.0.0.2")).toBe(false);
  });

  it("a matching negated pattern wins over positive ones", () => {
    expect(hostFieldMatches("*.example.com,!secret.example.com", "web.example.com")).toBe(true);
    expect(hostFieldMatches("*.example.com,!secret.example.com", "secret.example.com")).toBe(false);
    expect(hostFieldMatches("!secret.example.com", "other.example.com")).toBe(false); // negation alone never matches
  });

  it("uses [host]:port for ports other than 22", () => {
    expect(knownHostName("Host.Example", 22)).toBe("host.example");
    expect(knownHostName("10.213.0.10", 2222)).toBe("[10.213.0.10]:2222");
    expect(hostFieldMatches("[10.213.0.10]:2222", knownHostName("10.213.0.10", 2222))).toBe(true);
    expect(hostFieldMatches("10.213.0.10", knownHostName("10.213.0.10", 2222))).toBe(false);
    expect(hostFieldMatches("[10.213.0.10]:2222", knownHostName("10.213.0.10", 22))).toBe(false);
  });

  it("matches hashed entries |1|salt|HMAC-SHA1(salt, name)", () => {
    const salt = Buffer.from("0123456789abcdefghij");
    const manual = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("10.213.0.10").digest("base64")}`;
    expect(hashKnownHostName("10.213.0.10", salt)).toBe(manual);
    expect(hostFieldMatches(manual, "10.213.0.10")).toBe(true);
    expect(hostFieldMatches(manual, "10.213.0.11")).toBe(false);
    const withPort = hashKnownHostName("[10.213.0.10]:2222");
    expect(hostFieldMatches(withPort, "[10.213.0.10]:2222")).toBe(true);
    expect(hostFieldMatches(withPort, "10.213.0.10")).toBe(false);
    expect(hostFieldMatches("|1|bad|entry", "10.213.0.10")).toBe(false);
  });

  it.skipIf(!hasSshKeygen())("agrees with ssh-keygen -H (hashing) and ssh-keygen -F (lookup)", () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    const jwk = publicKey.export({ format: "jwk" });
    const raw = Buffer.from(jwk.x as string, "base64url");
    const type = Buffer.from("ssh-ed25519");
    const keyBlob = Buffer.concat([u32(type.length), type, u32(raw.length), raw]);
    const file = path.join(tmp, "hash_me");
    writeFileSync(file, `${line("web1.example.com", keyBlob)}\n${line("[10.213.0.10]:2222", keyBlob)}\n`);
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    const hashed = parseKnownHosts(readFileSync(file, "utf8"));
    expect(hashed).toHaveLength(2);
    for (const entry of hashed) expect(entry.hosts.startsWith("|1|")).toBe(true);
    expect(checkHostKey(hashed, "web1.example.com", keyBlob).status).toBe("known");
    expect(checkHostKey(hashed, knownHostName("10.213.0.10", 2222), keyBlob).status).toBe("known");
    expect(checkHostKey(hashed, "web2.example.com", keyBlob).status).toBe("unknown");

    // And the other way: ssh-keygen finds the entries we hash.
    const ours = path.join(tmp, "ours");
    writeFileSync(ours, `${hashKnownHostName("db.example.com")} ssh-ed25519 ${keyBlob.toString("base64")}\n`);
    const found = execFileSync("ssh-keygen", ["-F", "db.example.com", "-f", ours]).toString();
    expect(found).toContain("ssh-ed25519");

    // The fingerprint is the one ssh-keygen prints.
    const pub = path.join(tmp, "key.pub");
    writeFileSync(pub, `ssh-ed25519 ${keyBlob.toString("base64")} test\n`);
    const printed = execFileSync("ssh-keygen", ["-lf", pub]).toString();
    expect(printed).toContain(fingerprintSha256(keyBlob));
  });
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

describe("parseKnownHosts", () => {
  it("reads plain, hashed, marker and comment lines; skips malformed ones", () => {
    const text = [
      "# a comment",
      "",
      line("web1,10.0.0.1", ED_A),
      `${hashKnownHostName("db")} ${keyTypeOfBlob(ED_B)} ${ED_B.toString("base64")}`,
      `@revoked * ${keyTypeOfBlob(RSA_A)} ${RSA_A.toString("base64")}`,
      `@cert-authority *.example ${keyTypeOfBlob(ED_B)} ${ED_B.toString("base64")}`,
      "@unknown-marker web1 ssh-ed25519 AAAA",
      "justonefield",
      "web1 ssh-ed25519 not*base64!",
      `  ${line("indented", ED_A)}  trailing comment words`,
    ].join("\n");
    const entries = parseKnownHosts(text, "kh");
    expect(entries.map((e) => [e.hosts.startsWith("|1|") ? "hashed" : e.hosts, e.marker ?? "", e.source])).toEqual([
      ["web1,10.0.0.1", "", "kh:3"],
      ["hashed", "", "kh:4"],
      ["*", "revoked", "kh:5"],
      ["*.example", "cert-authority", "kh:6"],
      ["indented", "", "kh:10"],
    ]);
    expect(entries[0]?.key.equals(ED_A)).toBe(true);
  });

  it("handles CRLF line endings", () => {
    expect(parseKnownHosts(`${line("a", ED_A)}\r\n${line("b", ED_B)}\r\n`)).toHaveLength(2);
  });
});

describe("checkHostKey", () => {
  const entries = parseKnownHosts(
    [
      line("web1,10.0.0.1", ED_A),
      line("[10.0.0.1]:2222", ED_B),
      line("rsa-only", RSA_A),
      `@cert-authority * ${keyTypeOfBlob(ED_B)} ${ED_B.toString("base64")}`,
      `@revoked revoked-host ${keyTypeOfBlob(ED_B)} ${ED_B.toString("base64")}`,
      line("revoked-host", ED_B),
    ].join("\n"),
  );

  it("known when an entry holds this exact key", () => {
    expect(checkHostKey(entries, "web1", ED_A).status).toBe("known");
    expect(checkHostKey(entries, "10.0.0.1", ED_A).status).toBe("known");
    expect(checkHostKey(entries, "[10.0.0.1]:2222", ED_B).status).toBe("known");
  });

  it("changed when the host is known with another key of the same type", () => {
    const verdict = checkHostKey(entries, "web1", ED_B);
    expect(verdict.status).toBe("changed");
    if (verdict.status === "changed") expect(verdict.expected[0]?.key.equals(ED_A)).toBe(true);
    // The port matters: the 2222 entry does not vouch for port 22 and vice versa.
    expect(checkHostKey(entries, "[10.0.0.1]:2222", ED_A).status).toBe("changed");
  });

  it("unknown when nothing matches; reports other known key types", () => {
    expect(checkHostKey(entries, "web9", ED_A)).toEqual({ status: "unknown", otherTypes: [] });
    expect(checkHostKey(entries, "rsa-only", ED_A)).toEqual({ status: "unknown", otherTypes: ["ssh-rsa"] });
  });

  it("@cert-authority lines neither trust nor refuse", () => {
    expect(checkHostKey(entries, "anything.example", ED_B).status).toBe("unknown");
  });

  it("@revoked refuses the key even when it is also listed as known", () => {
    expect(checkHostKey(entries, "revoked-host", ED_B).status).toBe("revoked");
  });

  it("matches any of several names", () => {
    expect(checkHostKey(entries, ["nope", "web1"], ED_A).status).toBe("known");
  });
});

describe("fingerprint and formatting", () => {
  it("prints SHA256 like OpenSSH: unpadded base64", () => {
    const fp = fingerprintSha256(ED_A);
    expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fp).toBe(`SHA256:${createHash("sha256").update(ED_A).digest("base64").replace(/=+$/, "")}`);
  });

  it("formats an appendable line that parses back", () => {
    const text = formatKnownHostLine("[10.0.0.5]:2222", ED_A);
    expect(text).toBe(`[10.0.0.5]:2222 ssh-ed25519 ${ED_A.toString("base64")}`);
    expect(checkHostKey(parseKnownHosts(text), "[10.0.0.5]:2222", ED_A).status).toBe("known");
  });
});

describe("host verifier", () => {
  const policy = (file: string, accept: boolean) => ({
    label: "web1",
    hostname: "10.0.0.1",
    port: 22,
    userKnownHostsFiles: [file],
    globalKnownHostsFiles: [],
    acceptNewHostKeys: accept,
  });
  const verifyOnce = (verifier: ReturnType<typeof makeHostVerifier>, key: Buffer) =>
    new Promise<boolean>((resolve) => verifier.verify(key, resolve));

  it("refuses an unknown host with the fingerprint and the flag to accept it", async () => {
    const file = path.join(tmp, "none", "known_hosts");
    const p = policy(file, false);
    const verifier = makeHostVerifier(p, await loadKnownHosts(p));
    expect(await verifyOnce(verifier, ED_A)).toBe(false);
    const refusal = verifier.refusal();
    expect(refusal?.kind).toBe("host-key");
    expect(refusal?.message).toContain(fingerprintSha256(ED_A));
    expect(refusal?.message).toContain("--accept-new-host-keys");
    expect(refusal?.message.startsWith("web1: ")).toBe(true);
  });

  it("with acceptNewHostKeys appends the key to a new 0600 file in a new 0700 dir", async () => {
    const dir = path.join(tmp, "fresh-ssh");
    const file = path.join(dir, "known_hosts");
    const p = policy(file, true);
    const verifier = makeHostVerifier(p, await loadKnownHosts(p));
    expect(await verifyOnce(verifier, ED_A)).toBe(true);
    expect(readFileSync(file, "utf8")).toBe(`10.0.0.1 ssh-ed25519 ${ED_A.toString("base64")}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it("refuses a CHANGED key even with acceptNewHostKeys, and writes nothing", async () => {
    const file = path.join(tmp, "changed_known_hosts");
    writeFileSync(file, `${line("10.0.0.1", ED_A)}\n`);
    const p = policy(file, true);
    const verifier = makeHostVerifier(p, await loadKnownHosts(p));
    expect(await verifyOnce(verifier, ED_B)).toBe(false);
    expect(verifier.refusal()?.message).toMatch(/CHANGED/);
    expect(verifier.refusal()?.message).toContain(fingerprintSha256(ED_B));
    expect(readFileSync(file, "utf8")).toBe(`${line("10.0.0.1", ED_A)}\n`);
  });

  it("prefers the known key types in the key exchange", async () => {
    const file = path.join(tmp, "rsa_known_hosts");
    writeFileSync(file, `${line("10.0.0.1", RSA_A)}\n`);
    const p = policy(file, false);
    const algorithms = hostKeyAlgorithms(await loadKnownHosts(p));
    expect(algorithms.slice(0, 3)).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
    expect(algorithms).toContain("ssh-ed25519");
  });

  it("appends on a new line when the file lacks a final newline", async () => {
    const file = path.join(tmp, "no_newline");
    writeFileSync(file, line("a", ED_A));
    await appendKnownHostLine(file, line("b", ED_B));
    expect(readFileSync(file, "utf8")).toBe(`${line("a", ED_A)}\n${line("b", ED_B)}\n`);
  });
});
