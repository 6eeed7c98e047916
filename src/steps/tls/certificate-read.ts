/**
 * What a host has for one certificate + key pair, read in one batched command with openssl:
 * the files' metadata, the certificate file's sha256, its SHA-256 fingerprint and notAfter,
 * whether it covers the host name (`-checkhost`: SAN, wildcards as a TLS client matches them),
 * whether it expires within the renewal window (`-checkend`, the host's clock), and the sha256 of
 * the public key in the certificate and of the public key derived from the private key. The
 * private key's bytes never leave the host: only the hash of its *public* half is printed.
 */
import { ReadFailedError } from "../../playbook/step.ts";
import { sh, type ShellCommand } from "../../shell/sh.ts";
import type { ExecResult } from "../../transport/transport.ts";
import { keyValues, needTool } from "../../shell/read-output.ts";

export interface FileMeta {
  owner: string;
  group: string;
  mode: string;
}

export interface CertificateState {
  cert: FileMeta | null;
  key: FileMeta | null;
  /** Set when the certificate file exists and openssl parsed it. */
  installed?: {
    /** sha256 of the whole certificate file (the chain as written). */
    fileSha256: string;
    /** SHA-256 fingerprint of the first (leaf) certificate, "AB:CD:…" as openssl and node print it. */
    fingerprint256: string;
    notAfter: string;
    coversHostname: boolean;
    expiresWithinWindow: boolean;
    /** sha256 of the leaf's public key (PEM SubjectPublicKeyInfo). */
    publicKeySha256: string;
  };
  /** The certificate file exists but openssl cannot read it as a certificate. */
  certUnreadable?: boolean;
  /** sha256 of the public key derived from the private key file; "unreadable" when it is not a key. */
  keyPublicSha256?: string | "unreadable";
}

export interface CertificateReadOptions {
  certFile: string;
  keyFile: string;
  hostname: string;
  renewBeforeDays: number;
}

/** The tools `certificateReadCommand` needs (`RemoteRead.requiresTools`): openssl, once a file exists. */
export const CERTIFICATE_READ_TOOLS: readonly string[] = ["openssl"];

export function certificateReadCommand(o: CertificateReadOptions): ShellCommand {
  const seconds = o.renewBeforeDays * 86_400;
  return sh`cert=${o.certFile}; key=${o.keyFile}; name=${o.hostname}
meta() { if [ -f "$1" ]; then stat -c '%U %G %04a' -- "$1"; elif [ -e "$1" ]; then echo notfile; else echo absent; fi; }
echo "cert=$(meta "$cert")"
echo "key=$(meta "$key")"
if [ ! -f "$cert" ] && [ ! -f "$key" ]; then exit 0; fi
${needTool("openssl")}
if [ -f "$cert" ]; then
  if fp=$(openssl x509 -in "$cert" -noout -fingerprint -sha256 2>/dev/null) && end=$(openssl x509 -in "$cert" -noout -enddate 2>/dev/null) && pub=$(openssl x509 -in "$cert" -noout -pubkey 2>/dev/null); then
    echo "file_sha256=$(sha256sum < "$cert" | cut -d ' ' -f 1)"
    echo "fingerprint=\${fp#*=}"
    echo "not_after=\${end#*=}"
    echo "cert_pub=$(printf '%s\\n' "$pub" | sha256sum | cut -d ' ' -f 1)"
    case $(openssl x509 -in "$cert" -noout -checkhost "$name" 2>/dev/null) in *"does match"*) echo host=match ;; *) echo host=mismatch ;; esac
    if openssl x509 -in "$cert" -noout -checkend ${seconds} >/dev/null 2>&1; then echo expiring=no; else echo expiring=yes; fi
  else
    echo cert_parse=bad
  fi
fi
if [ -f "$key" ]; then
  if kp=$(openssl pkey -in "$key" -pubout 2>/dev/null); then echo "key_pub=$(printf '%s\\n' "$kp" | sha256sum | cut -d ' ' -f 1)"; else echo key_pub=unreadable; fi
fi`;
}

export function parseCertificateRead(result: ExecResult, o: CertificateReadOptions): CertificateState {
  if (result.exitCode !== 0) {
    throw new ReadFailedError(result.stderr.toString("utf8").trim() || `cannot read ${o.certFile}: exit ${result.exitCode}`);
  }
  const v = keyValues(result.stdout.toString("utf8"));
  const state: CertificateState = { cert: meta(v.get("cert"), o.certFile), key: meta(v.get("key"), o.keyFile) };
  if (v.get("cert_parse") === "bad") state.certUnreadable = true;
  const fileSha256 = v.get("file_sha256");
  if (fileSha256) {
    state.installed = {
      fileSha256,
      fingerprint256: (v.get("fingerprint") ?? "").toUpperCase(),
      notAfter: v.get("not_after") ?? "",
      coversHostname: v.get("host") === "match",
      expiresWithinWindow: v.get("expiring") === "yes",
      publicKeySha256: v.get("cert_pub") ?? "",
    };
  }
  const keyPub = v.get("key_pub");
  if (keyPub) state.keyPublicSha256 = keyPub;
  return state;
}

function meta(text: string | undefined, path: string): FileMeta | null {
  if (text === undefined || text === "absent") return null;
  if (text === "notfile") throw new ReadFailedError(`${path} exists and is not a regular file`);
  const [owner, group, mode] = text.split(" ");
  if (!owner || !group || !mode) throw new ReadFailedError(`cannot stat ${path}: ${JSON.stringify(text)}`);
  return { owner, group, mode };
}
