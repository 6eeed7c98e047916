/**
 * known_hosts as OpenSSH reads it, as pure functions (no file system): parse the text, match a
 * host (name + port) against the entries, and decide what a presented host key means —
 * known, unknown, changed or revoked. Also the fingerprint OpenSSH prints and the line we append.
 *
 * Supported: plain names and addresses, comma-separated lists, `[host]:port` for ports other than
 * 22, wildcards `*` and `?`, negation `!pattern`, hashed entries `|1|base64(salt)|base64(hmac)`
 * (HMAC-SHA1 of the host name keyed with the salt), markers `@revoked` (the key is refused for
 * the hosts the line names; `*` names all) and `@cert-authority` (certificates are not supported: such lines are
 * skipped, so they neither trust nor refuse).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export type KnownHostMarker = "cert-authority" | "revoked";

export interface KnownHostEntry {
  /** The host field as written (one hashed entry, or a comma-separated pattern list). */
  hosts: string;
  marker?: KnownHostMarker;
  /** Key type as written, e.g. "ssh-ed25519". */
  keyType: string;
  /** The decoded key blob (the same bytes the server sends). */
  key: Buffer;
  /** Where it came from, for messages: "file:line". */
  source: string;
}

/** Parse known_hosts text. Malformed lines are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string, sourceName = "known_hosts"): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostMarker | undefined;
    if (fields[0]?.startsWith("@")) {
      const name = fields.shift()?.slice(1);
      if (name !== "cert-authority" && name !== "revoked") return; // unknown marker: skip the line
      marker = name;
    }
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) return;
    const key = Buffer.from(keyBase64, "base64");
    if (key.length === 0) return;
    entries.push({ hosts, marker, keyType, key, source: `${sourceName}:${index + 1}` });
  });
  return entries;
}

/** The name OpenSSH looks up: `host` for port 22, `[host]:port` otherwise. Lower-cased. */
export function knownHostName(host: string, port = 22): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** `|1|salt|hash` for a name, as `ssh-keygen -H` writes it (salt random unless given). */
export function hashKnownHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac("sha1", salt).update(name).digest();
  return `|1|${salt.toString("base64")}|${hash.toString("base64")}`;
}

/** Glob match with `*` and `?` (OpenSSH's match_pattern), case-insensitive. */
export function matchPattern(name: string, pattern: string): boolean {
  const s = name.toLowerCase();
  const p = pattern.toLowerCase();
  // Iterative wildcard match with backtracking to the last `*`: linear-ish, no regex.
  let si = 0;
  let pi = 0;
  let starPi = -1;
  let starSi = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === "?" || p[pi] === s[si])) {
      si += 1;
      pi += 1;
    } else if (pi < p.length && p[pi] === "*") {
      starPi = pi;
      starSi = si;
      pi += 1;
    } else if (starPi >= 0) {
      pi = starPi + 1;
      starSi += 1;
      si = starSi;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === "*") pi += 1;
  return pi === p.length;
}

/**
 * Does a host field match `name` (as built by knownHostName)? For a pattern list: no if any
 * negated pattern matches, else yes if any positive pattern matches (OpenSSH's match_hostname).
 */
export function hostFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith("|1|")) return hashedMatches(hosts, name);
  let positive = false;
  for (const raw of hosts.split(",")) {
    if (raw === "") continue;
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (matchPattern(name, pattern)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

function hashedMatches(field: string, name: string): boolean {
  const parts = field.split("|"); // ["", "1", salt, hash]
  if (parts.length !== 4 || parts[1] !== "1") return false;
  const salt = Buffer.from(parts[2] ?? "", "base64");
  const expected = Buffer.from(parts[3] ?? "", "base64");
  if (salt.length === 0 || expected.length !== 20) return false;
  const actual = createHmac("sha1", salt).update(name.toLowerCase()).digest();
  return timingSafeEqual(actual, expected);
}

/** The key type named inside an SSH key blob (its first length-prefixed string). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) return "unknown";
  return blob.subarray(4, 4 + length).toString("latin1");
}

/** `SHA256:` + unpadded base64 of sha256(blob), exactly as OpenSSH prints it. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export type HostKeyVerdict =
  | { status: "known"; entry: KnownHostEntry }
  | { status: "unknown"; otherTypes: string[] }
  | { status: "changed"; expected: KnownHostEntry[] }
  | { status: "revoked"; entry: KnownHostEntry };

/**
 * Decide what a presented key means for `name` (see knownHostName). Several names may be given
 * (e.g. the HostKeyAlias, or the address): an entry matching any of them counts.
 * - a matching `@revoked` line with this key → revoked (refuse, whatever else is known);
 * - an entry with this exact key → known;
 * - an entry of the same key type with a different key → changed (always refuse);
 * - only entries of other key types → unknown, with `otherTypes` set: the caller must not treat
 *   it as a simple new host (OpenSSH also warns); we refuse it as a changed key unless told.
 */
export function checkHostKey(entries: readonly KnownHostEntry[], names: string | readonly string[], key: Buffer): HostKeyVerdict {
  const nameList = typeof names === "string" ? [names] : names;
  const matching = entries.filter((entry) => nameList.some((name) => hostFieldMatches(entry.hosts, name)));
  // As in OpenSSH, a revoked line applies to the hosts it names (`*` names every host).
  const revoked = matching.find((entry) => entry.marker === "revoked" && entry.key.equals(key));
  if (revoked) return { status: "revoked", entry: revoked };
  const plain = matching.filter((entry) => entry.marker === undefined);
  const exact = plain.find((entry) => entry.key.equals(key));
  if (exact) return { status: "known", entry: exact };
  const keyType = keyTypeOfBlob(key);
  const sameType = plain.filter((entry) => entry.keyType === keyType || keyTypeOfBlob(entry.key) === keyType);
  if (sameType.length > 0) return { status: "changed", expected: sameType };
  return { status: "unknown", otherTypes: [...new Set(plain.map((entry) => entry.keyType))] };
}

/** The key types known for a host, to prefer them in the key exchange (as OpenSSH does). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], names: readonly string[]): string[] {
  const types = entries
    .filter((entry) => entry.marker === undefined && names.some((name) => hostFieldMatches(entry.hosts, name)))
    .map((entry) => keyTypeOfBlob(entry.key));
  return [...new Set(types)];
}

/** A known_hosts line for a newly trusted key (plain, not hashed, so a human can read it). */
export function formatKnownHostLine(name: string, key: Buffer): string {
  return `${name} ${keyTypeOfBlob(key)} ${key.toString("base64")}`;
}
