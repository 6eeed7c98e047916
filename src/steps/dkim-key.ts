/**
 * dkimKey: an OpenDKIM signing key for one domain and selector, GENERATED ON THE HOST with
 * `opendkim-genkey` (the private key never leaves it), owned by the opendkim user, mode 0600.
 *
 * The read derives the public half from the private key with openssl (never from the
 * `<selector>.txt` opendkim-genkey leaves beside it, which may be stale), so the state says
 * exactly which key signs. `record()` gives the DNS TXT record the user must publish at
 * `<selector>._domainkey.<domain>` ("v=DKIM1; k=rsa; p=…") once read or generated: verifyDns
 * compares it with DNS, and a change's summary shows it.
 *
 * Drift: the key is missing, is not a readable RSA key, or its owner/mode differ. A key is never
 * replaced because it differs from DNS: rotating a key is a decision (a new selector), not drift.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { sh } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const label = z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i, "must be a DNS label (letters, digits, -)");
const domain = z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i, "must be a domain name");

const dkimKeyParams = z
  .object({
    domain,
    selector: label,
    bits: z.number().int().min(1024).max(4096).default(2048),
    /** Keys live in <keyDir>/<domain>/<selector>.private. */
    keyDir: z.string().startsWith("/").default("/etc/opendkim/keys"),
    owner: z.string().min(1).default("opendkim"),
    group: z.string().min(1).default("opendkim"),
    notify: z.array(z.string()).optional(),
  })
  .strict();

export type DkimKeyParams = z.input<typeof dkimKeyParams>;

export interface DkimKeyState {
  key: { owner: string; group: string; mode: string } | null;
  /** Base64 DER SubjectPublicKeyInfo (the p= of the TXT record); "unreadable" when not a key. */
  publicKey?: string;
}

export interface DkimKeyStep extends Step<DkimKeyState> {
  readonly privateKeyFile: string;
  /** `<selector>._domainkey.<domain>` */
  readonly recordName: string;
  /** The TXT record's value for the key on the host, once read or generated. */
  record(): string | undefined;
}

export function dkimKey(input: DkimKeyParams): DkimKeyStep {
  const p = parseStepParams("dkimKey", dkimKeyParams, input);
  const dir = `${p.keyDir}/${p.domain.toLowerCase()}`;
  const file = `${dir}/${p.selector}.private`;
  const recordName = `${p.selector}._domainkey.${p.domain.toLowerCase()}`;
  let publicKey: string | undefined;
  const record = () => (publicKey ? dkimRecord(publicKey) : undefined);

  const regenerate = (s: DkimKeyState) => !s.key || s.publicKey === "unreadable" || !s.publicKey;
  const metaDrift = (s: DkimKeyState) =>
    s.key && !regenerate(s) ? [s.key.owner !== p.owner || s.key.group !== p.group ? `owner ${s.key.owner}:${s.key.group} → ${p.owner}:${p.group}` : "", s.key.mode !== "0600" ? `mode ${s.key.mode} → 0600` : ""].filter(Boolean) : [];

  return {
    kind: "dkim-key",
    name: `dkim key ${recordName} (${file})`,
    provides: [pathResource(file)],
    requires: [pathResource(file)],
    notify: p.notify,
    privateKeyFile: file,
    recordName,
    record,
    read: () => ({
      command: sh`f=${file}
if [ ! -e "$f" ]; then echo key=absent; exit 0; fi
echo "key=$(stat -c '%U %G %04a' -- "$f")"
command -v openssl >/dev/null 2>&1 || { echo "openssl not found: it is needed to read $f" >&2; exit 4; }
if pub=$(openssl pkey -in "$f" -pubout 2>/dev/null); then printf '%s\\n' "$pub" | grep -v -- '-----' | tr -d '\\n' | sed 's/^/public=/'; echo; else echo public=unreadable; fi`,
      parse: (result) => {
        const state = parseDkimRead(result, file);
        publicKey = state.publicKey && state.publicKey !== "unreadable" ? state.publicKey : undefined;
        return state;
      },
    }),
    diff(current): Change | null {
      if (regenerate(current)) {
        const why = !current.key ? "missing" : "not a readable private key";
        return { summary: `generate a ${p.bits}-bit key with opendkim-genkey (${file} is ${why}); then publish TXT ${recordName}` };
      }
      const meta = metaDrift(current);
      return meta.length ? { summary: `${file}: ${meta.join(", ")}` } : null;
    },
    async apply({ session }, current) {
      if (regenerate(current)) {
        // Generated in a temp dir beside the target and renamed: never a half-written key.
        const result = await session.check(sh`set -e; umask 077; dir=${dir}
mkdir -p -- "$dir"; chown ${`${p.owner}:${p.group}`} "$dir"; chmod 0750 "$dir"
tmp=$(mktemp -d "$dir/.provision-genkey.XXXXXX"); trap 'rm -rf "$tmp"' EXIT
opendkim-genkey -b ${p.bits} -s ${p.selector} -d ${p.domain} -D "$tmp"
chown ${`${p.owner}:${p.group}`} "$tmp"/${`${p.selector}.private`}; chmod 0600 "$tmp"/${`${p.selector}.private`}
mv -f -- "$tmp"/${`${p.selector}.private`} ${file}
openssl pkey -in ${file} -pubout | grep -v -- '-----' | tr -d '\\n'`);
        publicKey = result.stdout.toString("utf8").trim() || undefined;
        return;
      }
      await session.check(sh`chown -- ${`${p.owner}:${p.group}`} ${file} && chmod -- 0600 ${file}`);
    },
  };
}

/** The TXT value for a DKIM public key (RFC 6376 §3.6.1). */
export function dkimRecord(publicKey: string): string {
  return `v=DKIM1; k=rsa; p=${publicKey}`;
}

function parseDkimRead(result: ExecResult, file: string): DkimKeyState {
  if (result.exitCode !== 0) throw new ReadFailedError(result.stderr.toString("utf8").trim() || `cannot read ${file}: exit ${result.exitCode}`);
  const v = new Map<string, string>();
  for (const line of result.stdout.toString("utf8").split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) v.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const key = v.get("key");
  if (!key || key === "absent") return { key: null };
  const [owner, group, mode] = key.split(" ");
  if (!owner || !group || !mode) throw new ReadFailedError(`cannot stat ${file}: ${JSON.stringify(key)}`);
  const publicKey = v.get("public");
  return { key: { owner, group, mode }, ...(publicKey ? { publicKey } : {}) };
}
