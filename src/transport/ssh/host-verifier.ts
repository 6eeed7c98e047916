/**
 * Host key verification for one hop, as an ssh2 `hostVerifier`: reads the known_hosts files,
 * decides with the pure `checkHostKey`, and on refusal records a TransportError (kind "host-key")
 * for the connect code to throw instead of ssh2's generic "Host denied".
 *
 * - known key → accept;
 * - unknown host → refuse with the SHA256 fingerprint and the `--accept-new-host-keys` hint, or,
 *   when new keys are accepted, append a line to the first known_hosts file (created 0600 in a
 *   0700 directory when missing) and accept;
 * - changed key (same type, different key), key of a type other than the known ones, or a revoked
 *   key → ALWAYS refuse, whatever the options say.
 */
import { appendFile, mkdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { TransportError } from "../transport.ts";
import {
  checkHostKey,
  fingerprintSha256,
  formatKnownHostLine,
  keyTypeOfBlob,
  knownHostName,
  knownKeyTypes,
  parseKnownHosts,
  type KnownHostEntry,
} from "./known-hosts.ts";

export const ACCEPT_NEW_FLAG = "--accept-new-host-keys";

export interface HostKeyPolicy {
  /** The host name as the user wrote it (for messages and TransportError.host). */
  label: string;
  /** "" for the target, "jump host X " for a jump (message prefix). */
  role?: string;
  hostname: string;
  port: number;
  hostKeyAlias?: string;
  /** Read and written; the first one receives new keys. */
  userKnownHostsFiles: string[];
  /** Read only. */
  globalKnownHostsFiles: string[];
  acceptNewHostKeys: boolean;
}

export interface LoadedKnownHosts {
  entries: KnownHostEntry[];
  /** The names looked up for this hop. */
  names: string[];
}

export async function loadKnownHosts(policy: HostKeyPolicy): Promise<LoadedKnownHosts> {
  const files = [...policy.userKnownHostsFiles, ...policy.globalKnownHostsFiles];
  const entries: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new TransportError(policy.label, "host-key", `cannot read known_hosts file ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    entries.push(...parseKnownHosts(text, file));
  }
  return { entries, names: lookupNames(policy) };
}

/** OpenSSH looks up HostKeyAlias as is, else `host` / `[host]:port`. */
export function lookupNames(policy: Pick<HostKeyPolicy, "hostname" | "port" | "hostKeyAlias">): string[] {
  return [policy.hostKeyAlias ? policy.hostKeyAlias.toLowerCase() : knownHostName(policy.hostname, policy.port)];
}

/** ssh2 host key algorithms with the types already known for the host first (as OpenSSH orders them). */
export function hostKeyAlgorithms(known: LoadedKnownHosts): string[] {
  const all = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
  ];
  const preferred = knownKeyTypes(known.entries, known.names).flatMap((type) =>
    type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : all.includes(type) ? [type] : [],
  );
  return [...new Set([...preferred, ...all])];
}

export interface HostVerifier {
  verify: (key: Buffer, callback: (valid: boolean) => void) => void;
  /** Set when the key was refused. */
  refusal(): TransportError | undefined;
}

// Long: each host-key verdict (known, new, changed, revoked, …) with its own message, sharing one refusal record.
export function makeHostVerifier(policy: HostKeyPolicy, known: LoadedKnownHosts): HostVerifier {
  let refused: TransportError | undefined;
  const where = `${policy.role ?? ""}${policy.hostname}${policy.port === 22 ? "" : ` port ${policy.port}`}`;
  const files = [...policy.userKnownHostsFiles, ...policy.globalKnownHostsFiles].join(", ") || "(no known_hosts file)";

  const verify = (key: Buffer, callback: (valid: boolean) => void): void => {
    const verdict = checkHostKey(known.entries, known.names, key);
    const keyType = keyTypeOfBlob(key);
    const fingerprint = fingerprintSha256(key);
    switch (verdict.status) {
      case "known":
        callback(true);
        return;
      case "revoked":
        refused = new TransportError(
          policy.label,
          "host-key",
          `REFUSED: the ${keyType} host key of ${where} (${fingerprint}) is marked @revoked in ${verdict.entry.source}`,
        );
        callback(false);
        return;
      case "changed": {
        const expected = verdict.expected.map((entry) => `${fingerprintSha256(entry.key)} (${entry.source})`).join(", ");
        refused = new TransportError(
          policy.label,
          "host-key",
          `@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\n` +
            `The ${keyType} host key of ${where} is now ${fingerprint}, but known_hosts says ${expected}.\n` +
            `Someone could be intercepting the connection (man-in-the-middle), or the host was reinstalled. ` +
            `Nothing was run. If the change is expected, remove the old line (ssh-keygen -R ${known.names[0] ?? where}) and connect again.`,
        );
        callback(false);
        return;
      }
      case "unknown": {
        if (verdict.otherTypes.length > 0) {
          refused = new TransportError(
            policy.label,
            "host-key",
            `REFUSED: ${where} presented a ${keyType} key (${fingerprint}), but known_hosts (${files}) only knows ` +
              `${verdict.otherTypes.join(", ")} keys for it. Treating this as a changed host key. Nothing was run.`,
          );
          callback(false);
          return;
        }
        if (!policy.acceptNewHostKeys) {
          refused = new TransportError(
            policy.label,
            "host-key",
            `unknown host key for ${where}: ${keyType} ${fingerprint} is not in ${files}. ` +
              `Check the fingerprint (on the host: ssh-keygen -lf /etc/ssh/ssh_host_${keyType.replace(/^ssh-|-.*$/g, "")}_key.pub), ` +
              `then run again with ${ACCEPT_NEW_FLAG} to trust it and record it.`,
          );
          callback(false);
          return;
        }
        const file = policy.userKnownHostsFiles[0];
        if (!file) {
          refused = new TransportError(
            policy.label,
            "host-key",
            `cannot record the new host key of ${where}: no known_hosts file configured`,
          );
          callback(false);
          return;
        }
        appendKnownHostLine(file, formatKnownHostLine(known.names[0] ?? knownHostName(policy.hostname, policy.port), key)).then(
          () => {
            known.entries.push(...parseKnownHosts(formatKnownHostLine(known.names[0] ?? "", key), file));
            callback(true);
          },
          (error: unknown) => {
            refused = new TransportError(
              policy.label,
              "host-key",
              `cannot record the new host key in ${file}: ${(error as Error).message}`,
              {
                cause: error,
              },
            );
            callback(false);
          },
        );
        return;
      }
    }
  };
  return { verify, refusal: () => refused };
}

/** Append a line, creating the file 0600 (and its directory 0700) when missing. */
export async function appendKnownHostLine(file: string, line: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  let needsNewline = false;
  try {
    const info = await stat(file);
    if (info.size > 0) {
      const content = await readFile(file);
      needsNewline = content[content.length - 1] !== 0x0a;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  // The mode applies only when the file is created (an existing file keeps its own).
  await appendFile(file, `${needsNewline ? "\n" : ""}${line}\n`, { mode: 0o600 });
}
