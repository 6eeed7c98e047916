/**
 * tlsCertificate: a certificate chain and its private key on the host, for one host name.
 *
 * Two sources:
 * - `selfSigned: { days }` — generated ON THE HOST with `openssl req -x509` (the private key never
 *   leaves it), SAN = DNS:<hostname>. Regenerated when a file is missing, the key does not match
 *   the certificate, the certificate does not cover the host name, or it expires within
 *   `renewBeforeDays` (default 30; `openssl -checkend` on the host's clock).
 * - `files: { chain, key }` — given on the controller (the playbook reads them): checked here
 *   before anything is sent (controller-certificate.ts: a key that does not match, a certificate
 *   without the host name, one expiring within the window are refused, naming the files). The
 *   chain is written as a file (0644); the key travels only on stdin as a Secret (0600 root) and
 *   is never in a diff or report. Drift: the installed chain's bytes differ, or the key's public
 *   half is not the certificate's.
 *
 * Both files are owned by root (Postfix reads them as root before it drops privileges). In
 * --check, the read says exactly which of these holds; nothing is guessed.
 *
 * `fingerprint()` gives the SHA-256 fingerprint of the certificate the host has (after this
 * step's read, or after its apply): verifySmtp compares it with what the server presents.
 */
import { z } from "zod";
import type { Change, Step } from "../playbook/step.ts";
import { isSecret, type Secret } from "../shell/secret.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import { writeRemoteFile } from "../transport/remote-file.ts";
import { filePath, parseStepParams } from "./params.ts";
import {
  CERTIFICATE_READ_TOOLS,
  certificateReadCommand,
  parseCertificateRead,
  type CertificateState,
  type FileMeta,
} from "./tls/certificate-read.ts";
import { checkControllerCertificate, type ControllerCertificate } from "./tls/controller-certificate.ts";
import { pathResource } from "../playbook/resources.ts";

const dnsName = z
  .string()
  .regex(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i, "must be a fully qualified host name");

const tlsCertificateParams = z
  .object({
    hostname: dnsName,
    /** Where the host keeps the chain (leaf first) and the key. */
    certFile: filePath,
    keyFile: filePath,
    selfSigned: z
      .object({ days: z.number().int().min(2).max(36_500).default(365) })
      .strict()
      .optional(),
    files: z
      .object({
        chain: z.string().min(1),
        key: z.custom<Secret>(isSecret, "must be a secret (the private key travels on stdin only)"),
        /** Names of the controller files, for messages. */
        chainName: z.string().min(1).default("the certificate chain"),
        keyName: z.string().min(1).default("the private key"),
      })
      .strict()
      .optional(),
    renewBeforeDays: z.number().int().min(0).max(3650).default(30),
    notify: z.array(z.string()).optional(),
  })
  .strict()
  .refine((p) => Boolean(p.selfSigned) !== Boolean(p.files), "give exactly one of selfSigned or files")
  .refine((p) => p.certFile !== p.keyFile, "certFile and keyFile must be different files")
  .refine((p) => !p.selfSigned || p.renewBeforeDays < p.selfSigned.days, "renewBeforeDays must be less than selfSigned.days");

export type TlsCertificateParams = z.input<typeof tlsCertificateParams>;
type Params = z.output<typeof tlsCertificateParams>;

const CERT_META: FileMeta = { owner: "root", group: "root", mode: "0644" };
const KEY_META: FileMeta = { owner: "root", group: "root", mode: "0600" };

export interface TlsCertificateStep extends Step<CertificateState> {
  /** SHA-256 fingerprint ("AB:CD:…") of the certificate on the host, once read or applied. */
  fingerprint(): string | undefined;
}

/** What diff decided: generate a self-signed pair, write the given key / chain, fix either's owner and mode. */
export interface TlsCertificatePlan {
  generate: boolean;
  writeKey: boolean;
  writeChain: boolean;
  fixCertMeta: boolean;
  fixKeyMeta: boolean;
}

export interface TlsCertificateChange extends Change {
  plan: TlsCertificatePlan;
}

/** What differs, each with the words the summary gives it. */
interface Plan {
  /** selfSigned: why a new pair is generated; files: why the chain / key are written. */
  generate: string[];
  writeChain: string | null;
  writeKey: string | null;
  certMeta: string[];
  keyMeta: string[];
}

export function tlsCertificate(input: TlsCertificateParams): TlsCertificateStep {
  const p = parseStepParams("tlsCertificate", tlsCertificateParams, input);
  const given: ControllerCertificate | null = p.files
    ? checkControllerCertificate({ ...p.files, hostname: p.hostname, renewBeforeDays: p.renewBeforeDays })
    : null;
  const readOptions = { certFile: p.certFile, keyFile: p.keyFile, hostname: p.hostname, renewBeforeDays: p.renewBeforeDays };
  let installedFingerprint: string | undefined;

  return {
    kind: "tls-certificate",
    name: `tls certificate ${p.hostname} (${p.certFile})`,
    provides: [pathResource(p.certFile), pathResource(p.keyFile)],
    requires: [pathResource(p.certFile), pathResource(p.keyFile)],
    notify: p.notify,
    fingerprint: () => installedFingerprint,
    read: () => ({
      command: certificateReadCommand(readOptions),
      requiresTools: CERTIFICATE_READ_TOOLS,
      parse: (result) => {
        const state = parseCertificateRead(result, readOptions);
        installedFingerprint = state.installed?.fingerprint256;
        return state;
      },
    }),
    diff(current): TlsCertificateChange | null {
      const x = differences(p, given, current);
      const parts = [
        ...(x.generate.length ? [`generate a self-signed certificate for ${p.hostname}: ${x.generate.join(", ")}`] : []),
        ...(x.writeChain ? [x.writeChain] : []),
        ...(x.writeKey ? [x.writeKey] : []),
        ...x.certMeta,
        ...x.keyMeta,
      ];
      if (!parts.length) return null;
      return {
        summary: parts.join("; "),
        plan: actions(x),
      };
    },
    async apply({ session }, _current, change: TlsCertificateChange) {
      const x = change.plan;
      if (x.generate && p.selfSigned) {
        const result = await session.runOrThrow(generateCommand(p.certFile, p.keyFile, p.hostname, p.selfSigned.days));
        installedFingerprint = /Fingerprint=([0-9A-F:]+)/i.exec(result.stdout.toString("utf8"))?.[1]?.toUpperCase();
      }
      if (x.writeKey || x.writeChain) await session.runOrThrow(directoriesCommand(p.certFile, p.keyFile));
      // The key first: its temp file is written under umask 077 and made 0600 before the rename.
      if (x.writeKey && p.files) {
        await writeRemoteFile(session, p.keyFile, p.files.key, KEY_META);
      }
      if (x.writeChain && given) {
        await writeRemoteFile(session, p.certFile, given.chain, CERT_META);
      }
      if (given) installedFingerprint = given.fingerprint256;
      const meta: ShellCommand[] = [];
      if (x.fixCertMeta) meta.push(fixMeta(p.certFile, CERT_META));
      if (x.fixKeyMeta) meta.push(fixMeta(p.keyFile, KEY_META));
      if (meta.length) await session.runOrThrow(joinCommands(meta, " && "));
    },
  };
}

/** What differs between the host's pair and the wanted one. */
function differences(p: Params, given: ControllerCertificate | null, s: CertificateState): Plan {
  const keyMatches = s.installed !== undefined && s.keyPublicSha256 === s.installed.publicKeySha256;
  const result: Plan = { generate: [], writeChain: null, writeKey: null, certMeta: [], keyMeta: [] };
  if (!given) {
    result.generate = selfSignedReasons(s, keyMatches, p.hostname, p.renewBeforeDays, p.certFile, p.keyFile);
  } else {
    if (!s.cert) result.writeChain = `install ${p.certFile}`;
    else if (s.installed?.fileSha256 !== given.chainSha256)
      result.writeChain = `replace ${p.certFile} (${describeInstalled(s)} → ${given.fingerprint256.slice(0, 23)}…)`;
    if (!s.key) result.writeKey = `install ${p.keyFile}`;
    else if (s.keyPublicSha256 !== given.publicKeySha256)
      result.writeKey = `replace ${p.keyFile} (it does not match the given certificate)`;
  }
  const replacedCert = result.generate.length > 0 || result.writeChain !== null;
  const replacedKey = result.generate.length > 0 || result.writeKey !== null;
  if (s.cert && !replacedCert) result.certMeta = metaChanges(p.certFile, s.cert, CERT_META);
  if (s.key && !replacedKey) result.keyMeta = metaChanges(p.keyFile, s.key, KEY_META);
  return result;
}

function actions(x: Plan): TlsCertificatePlan {
  return {
    generate: x.generate.length > 0,
    writeKey: x.writeKey !== null,
    writeChain: x.writeChain !== null,
    fixCertMeta: x.certMeta.length > 0,
    fixKeyMeta: x.keyMeta.length > 0,
  };
}

function selfSignedReasons(
  s: CertificateState,
  keyMatches: boolean,
  hostname: string,
  renewBeforeDays: number,
  certFile: string,
  keyFile: string,
): string[] {
  if (!s.cert) return [`${certFile} is missing`];
  if (!s.key) return [`${keyFile} is missing`];
  if (s.certUnreadable || !s.installed) return [`${certFile} is not a readable certificate`];
  const reasons: string[] = [];
  if (s.keyPublicSha256 === "unreadable") reasons.push(`${keyFile} is not a readable private key`);
  else if (!keyMatches) reasons.push(`${keyFile} does not match the certificate`);
  if (!s.installed.coversHostname) reasons.push(`the certificate does not cover ${hostname}`);
  if (s.installed.expiresWithinWindow) reasons.push(`it expires ${s.installed.notAfter} (within renewBeforeDays, ${renewBeforeDays})`);
  return reasons;
}

function describeInstalled(s: CertificateState): string {
  return s.installed ? `${s.installed.fingerprint256.slice(0, 23)}…` : "not a readable certificate";
}

function metaChanges(path: string, have: FileMeta, want: FileMeta): string[] {
  const changes: string[] = [];
  if (have.owner !== want.owner || have.group !== want.group) changes.push(`${have.owner}:${have.group} → ${want.owner}:${want.group}`);
  if (have.mode !== want.mode) changes.push(`mode ${have.mode} → ${want.mode}`);
  return changes.length ? [`${path}: ${changes.join(", ")}`] : [];
}

function fixMeta(path: string, want: FileMeta): ShellCommand {
  return sh`chown -- ${`${want.owner}:${want.group}`} ${path} && chmod -- ${want.mode} ${path}`;
}

/** writeRemoteFile needs the directories to exist: made 0755 (chain) and 0700 (key) when missing. */
function directoriesCommand(certFile: string, keyFile: string): ShellCommand {
  const certDir = parent(certFile);
  const keyDir = parent(keyFile);
  return sh`[ -d ${certDir} ] || { mkdir -p -- ${certDir} && chmod 0755 ${certDir}; }
[ -d ${keyDir} ] || { mkdir -p -- ${keyDir} && chmod 0700 ${keyDir}; }`;
}

function parent(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/**
 * Both files are generated as temp files beside their targets (umask 077), given their owner and
 * mode, then renamed: a reader sees the old pair or the new one (the two renames are adjacent;
 * an interruption between them leaves a mismatched pair that the next read reports and repairs).
 */
function generateCommand(certFile: string, keyFile: string, hostname: string, days: number): ShellCommand {
  return sh`set -e; umask 077; cert=${certFile}; key=${keyFile}
${directoriesCommand(certFile, keyFile)}
tk=$(mktemp ${`${parent(keyFile)}/.provision-key.XXXXXX`}); tc=$(mktemp ${`${parent(certFile)}/.provision-cert.XXXXXX`})
trap 'rm -f "$tk" "$tc"' EXIT
if ! err=$(openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days ${days} -subj ${`/CN=${hostname}`} -addext ${`subjectAltName=DNS:${hostname}`} -keyout "$tk" -out "$tc" 2>&1 >/dev/null); then
  printf '%s\n' "$err" >&2; exit 1
fi
chown root:root "$tk" "$tc"; chmod 0600 "$tk"; chmod 0644 "$tc"
mv -f -- "$tk" "$key"; mv -f -- "$tc" "$cert"
trap - EXIT
openssl x509 -in "$cert" -noout -fingerprint -sha256`;
}
