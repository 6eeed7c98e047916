/**
 * verifyDns: a read-only step that checks a mail domain's DNS — the A record of the mail host,
 * the domain's MX, its SPF policy — from the controller (node:dns, a LocalRead). DNS lives at the
 * registrar, not on the host, so a problem is reported with **the record to add**, in zone-file
 * form, ready to paste: `example.org. IN MX 10 mail.example.org.`
 *
 * Decisions:
 * - `resolver`: "ip" or "ip:port" ("[v6]:port" for IPv6); default the controller's system resolver.
 *   One try per query with a per-query timeout, and a hard bound on the whole lookup.
 * - NXDOMAIN (the name does not exist) and NODATA (it exists, no records of that type) are drift,
 *   and say which. A timeout, SERVFAIL, REFUSED or unreachable resolver says nothing about the
 *   records: the read fails (ReadFailedError), naming the resolver.
 * - A: the name's A records must be exactly `address` (an extra address is drift: "remove …").
 * - MX: some MX of the domain must be `host` with `priority`; other MX records (backups) are fine.
 *   Host names compare case-insensitively, without the trailing dot.
 * - SPF (RFC 7208): the TXT records of the domain, each one's strings joined with no separator
 *   (§3.3); the SPF record is the one that is "v=spf1" or starts with "v=spf1 " (case-insensitive,
 *   §4.5); none → missing; more than one → drift (a PermError for every receiver, §4.5) listing all.
 *   Policies compare term by term, in order (SPF evaluates left to right): whitespace runs
 *   collapsed, terms lower-cased (mechanism, modifier and domain names are case-insensitive,
 *   §4.6.1/§7.1), an explicit "+" qualifier dropped ("+mx" is "mx"). Nothing else is normalised
 *   (no include expansion, no reordering).
 * - AAAA (when the server speaks IPv6): like A, for an IPv6 address.
 * - PTR (forward-confirmed reverse DNS): the address's reverse name must point to the host name
 *   (receivers check it; the A/AAAA check confirms the forward half).
 * - DKIM: the TXT at `<selector>._domainkey.<domain>` must carry the host's public key: the p= tag
 *   compared exactly (whitespace removed, RFC 6376 §3.6.1), and k= must be rsa when given.
 *   `record` may be a function, read at diff time (a dkimKey step's record(): the key on the host).
 * - DMARC: the TXT at `_dmarc.<domain>` starting with v=DMARC1 (RFC 7489 §6.4); tags compared
 *   as a set (names lower-cased, whitespace trimmed; order does not matter); more than one → drift.
 */
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { parseStepParams } from "./params.ts";
import { EVERYTHING } from "../playbook/resources.ts";

const hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(?!-)[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/, "not a DNS name")
  .transform((name) => name.replace(/\.$/, "").toLowerCase());

const verifyDnsParams = z
  .object({
    resolver: z
      .string()
      .refine((value) => parseResolver(value) !== null, "must be an IP address, optionally with :port ([v6]:port)")
      .optional(),
    a: z
      .object({ name: hostname, address: z.string().refine((v) => isIP(v) === 4, "must be an IPv4 address") })
      .strict()
      .optional(),
    mx: z
      .object({ domain: hostname, host: hostname, priority: z.number().int().min(0).max(65535) })
      .strict()
      .optional(),
    spf: z
      .object({
        domain: hostname,
        policy: z.string().refine((p) => isSpf(p), 'must start with "v=spf1"'),
      })
      .strict()
      .optional(),
    aaaa: z
      .object({ name: hostname, address: z.string().refine((v) => isIP(v) === 6, "must be an IPv6 address") })
      .strict()
      .optional(),
    ptr: z
      .object({ address: z.string().refine((v) => isIP(v) !== 0, "must be an IP address"), name: hostname })
      .strict()
      .optional(),
    dkim: z
      .object({
        domain: hostname,
        selector: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "a selector (DNS labels)"),
        /** "v=DKIM1; k=rsa; p=…", or a function giving it when the step diffs. */
        record: z.union([
          z.string().regex(/(^|;)\s*p=/, "must contain p="),
          z.custom<() => string | undefined>((v) => typeof v === "function"),
        ]),
      })
      .strict()
      .optional(),
    dmarc: z
      .object({ domain: hostname, policy: z.string().regex(/^v=DMARC1\s*(;|$)/, 'must start with "v=DMARC1;"') })
      .strict()
      .optional(),
    /** Per-query timeout (one try); the whole read is bounded by max(2 × this, this + 2 s). */
    timeoutMs: z.number().int().positive().max(60_000).default(5_000),
  })
  .strict()
  .refine((p) => p.a || p.mx || p.spf || p.aaaa || p.ptr || p.dkim || p.dmarc, "at least one of a, aaaa, mx, spf, ptr, dkim, dmarc");

export type VerifyDnsParams = z.input<typeof verifyDnsParams>;

/** A lookup's outcome: the records, or NXDOMAIN / NODATA (both determinate). */
export type Lookup<T> = { status: "ok"; records: T[] } | { status: "nxdomain" } | { status: "nodata" };

export interface DnsState {
  a?: Lookup<string>;
  mx?: Lookup<{ exchange: string; priority: number }>;
  /** TXT records of the SPF domain, each one's strings joined. */
  txt?: Lookup<string>;
  aaaa?: Lookup<string>;
  ptr?: Lookup<string>;
  dkim?: Lookup<string>;
  dmarc?: Lookup<string>;
}

export function verifyDns(input: VerifyDnsParams): Step<DnsState> {
  const params = parseStepParams("verifyDns", verifyDnsParams, input);
  const what = [
    params.a && `A ${params.a.name}`,
    params.aaaa && `AAAA ${params.aaaa.name}`,
    params.mx && `MX ${params.mx.domain}`,
    params.spf && `SPF ${params.spf.domain}`,
    params.ptr && `PTR ${params.ptr.address}`,
    params.dkim && `DKIM ${dkimName(params.dkim)}`,
    params.dmarc && `DMARC _dmarc.${params.dmarc.domain}`,
  ]
    .filter(Boolean)
    .join(", ");
  return {
    kind: "verify-dns",
    name: `verify dns ${what}${params.resolver ? ` (@${params.resolver})` : ""}`,
    // Records live at the registrar, asked of this machine's resolver: no step on the host changes
    // them. A resolver given by address may be the host itself (a DNS server it runs): then it
    // depends on everything pending.
    requires: params.resolver ? [EVERYTHING] : [],
    read: () => ({ local: () => lookupAll(params) }),
    diff(current): Change | null {
      const problems: string[] = [];
      if (params.a && current.a) problems.push(...aProblems(params.a, current.a));
      if (params.mx && current.mx) problems.push(...mxProblems(params.mx, current.mx));
      if (params.spf && current.txt) problems.push(...spfProblems(params.spf, current.txt));
      if (params.aaaa && current.aaaa) problems.push(...aProblems(params.aaaa, current.aaaa, "AAAA"));
      if (params.ptr && current.ptr) problems.push(...ptrProblems(params.ptr, current.ptr));
      if (params.dkim && current.dkim) {
        const record = typeof params.dkim.record === "function" ? params.dkim.record() : params.dkim.record;
        problems.push(...dkimProblems(dkimName(params.dkim), record, current.dkim));
      }
      if (params.dmarc && current.dmarc) problems.push(...dmarcProblems(params.dmarc, current.dmarc));
      return problems.length === 0 ? null : { summary: problems.join("; ") };
    },
  };
}

type Params = z.output<typeof verifyDnsParams>;

async function lookupAll(params: Params): Promise<DnsState> {
  const resolver = new Resolver({ timeout: params.timeoutMs, tries: 1 });
  const server = params.resolver ?? resolver.getServers().join(", ");
  if (params.resolver) resolver.setServers([params.resolver]);
  const failures: string[] = [];
  const run = async <T>(label: string, query: () => Promise<T[]>): Promise<Lookup<T> | undefined> => {
    try {
      return await lookup(query);
    } catch (error) {
      failures.push(`${label}: ${describeDnsError(error, server, params.timeoutMs)}`);
      return undefined;
    }
  };
  // c-ares's own timeout is the first bound (it may overshoot a short one a little); this is the hard one.
  const hardLimit = Math.max(params.timeoutMs * 2, params.timeoutMs + 2000);
  let timer: NodeJS.Timeout | undefined;
  const bounded = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      resolver.cancel();
      reject(new ReadFailedError(`DNS lookups did not finish within ${hardLimit} ms (resolver ${server})`));
    }, hardLimit);
  });
  try {
    const txtOf = (name: string) => async () => (await resolver.resolveTxt(name)).map((chunks) => chunks.join(""));
    const [a, mx, txt, aaaa, ptr, dkim, dmarc] = await Promise.race([
      Promise.all([
        params.a ? run(`A of ${params.a.name}`, () => resolver.resolve4(params.a!.name)) : undefined,
        params.mx ? run(`MX of ${params.mx.domain}`, () => resolver.resolveMx(params.mx!.domain)) : undefined,
        params.spf ? run(`TXT of ${params.spf.domain}`, txtOf(params.spf.domain)) : undefined,
        params.aaaa ? run(`AAAA of ${params.aaaa.name}`, () => resolver.resolve6(params.aaaa!.name)) : undefined,
        params.ptr ? run(`PTR of ${params.ptr.address}`, () => resolver.reverse(params.ptr!.address)) : undefined,
        params.dkim ? run(`TXT of ${dkimName(params.dkim)}`, txtOf(dkimName(params.dkim))) : undefined,
        params.dmarc ? run(`TXT of _dmarc.${params.dmarc.domain}`, txtOf(`_dmarc.${params.dmarc.domain}`)) : undefined,
      ]),
      bounded,
    ]);
    if (failures.length > 0) throw new ReadFailedError(`cannot verify DNS: ${failures.join("; ")}`);
    return {
      ...(a ? { a } : {}),
      ...(mx ? { mx: normalizeMx(mx) } : {}),
      ...(txt ? { txt } : {}),
      ...(aaaa ? { aaaa } : {}),
      ...(ptr ? { ptr: ptr.status === "ok" ? { status: "ok" as const, records: ptr.records.map(normalizeName) } : ptr } : {}),
      ...(dkim ? { dkim } : {}),
      ...(dmarc ? { dmarc } : {}),
    };
  } finally {
    clearTimeout(timer);
  }
}

async function lookup<T>(query: () => Promise<T[]>): Promise<Lookup<T>> {
  try {
    const records = await query();
    return records.length === 0 ? { status: "nodata" } : { status: "ok", records };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOTFOUND") return { status: "nxdomain" };
    if (code === "ENODATA") return { status: "nodata" };
    throw error;
  }
}

function normalizeMx(mx: Lookup<{ exchange: string; priority: number }>): Lookup<{ exchange: string; priority: number }> {
  if (mx.status !== "ok") return mx;
  return { status: "ok", records: mx.records.map((r) => ({ exchange: normalizeName(r.exchange), priority: r.priority })) };
}

function describeDnsError(error: unknown, server: string, timeoutMs: number): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case "ETIMEOUT":
      return `no answer within ${timeoutMs} ms from resolver ${server}`;
    case "ESERVFAIL":
      return `SERVFAIL from resolver ${server}`;
    case "EREFUSED":
      return `query REFUSED by resolver ${server}`;
    case "ECONNREFUSED":
      return `resolver ${server} unreachable (connection refused)`;
    case "ECANCELLED":
      return `cancelled (no answer from resolver ${server})`;
    default:
      return `${code ?? "error"} from resolver ${server}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

// ---- diff (pure) ----

function aProblems(want: { name: string; address: string }, got: Lookup<string>, type: "A" | "AAAA" = "A"): string[] {
  const record = `${fqdn(want.name)} IN ${type} ${want.address}`;
  if (got.status !== "ok") return [`${type} of ${want.name}: ${absent(got, type)}; add: ${record}`];
  const same = (address: string) => (type === "A" ? address === want.address : sameIpv6(address, want.address));
  const has = got.records.some(same);
  const extra = got.records.filter((address) => !same(address));
  if (has && extra.length === 0) return [];
  if (!has) return [`${type} of ${want.name} is ${got.records.join(", ")}; want: ${record}`];
  return [`${type} of ${want.name} has extra address ${extra.join(", ")}; remove it (keep: ${record})`];
}

function sameIpv6(a: string, b: string): boolean {
  const expand = (address: string) => new URL(`http://[${address}]/`).hostname;
  return expand(a) === expand(b);
}

function ptrProblems(want: { address: string; name: string }, got: Lookup<string>): string[] {
  const record = `${reverseName(want.address)}. IN PTR ${fqdn(want.name)}`;
  if (got.status !== "ok") return [`PTR of ${want.address}: ${absent(got, "PTR")}; ask your provider to set: ${record}`];
  if (got.records.includes(normalizeName(want.name))) return [];
  return [`PTR of ${want.address} is ${got.records.map(fqdn).join(", ")}, not ${fqdn(want.name)}; ask your provider to set: ${record}`];
}

/** The in-addr.arpa / ip6.arpa name of an address (what a PTR record is published under). */
export function reverseName(address: string): string {
  if (isIP(address) === 4) return `${address.split(".").reverse().join(".")}.in-addr.arpa`;
  const [head = "", tail] = new URL(`http://[${address}]/`).hostname.slice(1, -1).split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const hex = groups.map((g) => g.padStart(4, "0")).join("");
  return `${hex.split("").reverse().join(".")}.ip6.arpa`;
}

function dkimName(dkim: { selector: string; domain: string }): string {
  return `${dkim.selector}._domainkey.${dkim.domain}`;
}

/** DKIM tag list (RFC 6376 §3.2): name=value pairs separated by ";", whitespace around ignored. */
function tags(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of text.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) map.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return map;
}

function dkimProblems(name: string, record: string | undefined, got: Lookup<string>): string[] {
  if (record === undefined) return [`DKIM of ${name}: the host's key is not known yet (its step did not read it)`];
  const add = `${fqdn(name)} IN TXT ${txtData(record)}`;
  if (got.status !== "ok") return [`DKIM of ${name}: ${absent(got, "TXT")}; add: ${add}`];
  const want = (tags(record).get("p") ?? "").replace(/\s+/g, "");
  const keys = got.records.filter((text) => tags(text).has("p"));
  if (keys.length === 0) return [`DKIM of ${name}: no TXT record with a p= key; add: ${add}`];
  if (keys.length > 1) return [`DKIM of ${name}: ${keys.length} key records; keep only: ${add}`];
  const published = tags(keys[0] as string);
  const key = (published.get("p") ?? "").replace(/\s+/g, "");
  if (key === "") return [`DKIM of ${name}: the key is revoked (empty p=); publish: ${add}`];
  if (key !== want)
    return [
      `DKIM of ${name}: the published key is not the host's (p=${key.slice(0, 16)}…, host has p=${want.slice(0, 16)}…); replace with: ${add}`,
    ];
  const k = published.get("k")?.toLowerCase();
  if (k !== undefined && k !== "rsa") return [`DKIM of ${name}: k=${k}, the host's key is rsa; replace with: ${add}`];
  return [];
}

function dmarcProblems(want: { domain: string; policy: string }, got: Lookup<string>): string[] {
  const name = `_dmarc.${want.domain}`;
  const add = `${fqdn(name)} IN TXT ${txtData(want.policy)}`;
  if (got.status !== "ok") return [`DMARC of ${want.domain}: ${absent(got, "TXT")}; add: ${add}`];
  const records = got.records.filter((text) => /^v=DMARC1\s*(;|$)/i.test(text));
  if (records.length === 0) return [`DMARC of ${want.domain}: no TXT record starts with v=DMARC1; add: ${add}`];
  if (records.length > 1)
    return [`DMARC of ${want.domain}: ${records.length} DMARC records (receivers ignore them all); keep only: ${add}`];
  const have = tags(records[0] as string);
  const wanted = tags(want.policy);
  const same = have.size === wanted.size && [...wanted].every(([tag, value]) => have.get(tag)?.toLowerCase() === value.toLowerCase());
  return same ? [] : [`DMARC of ${want.domain} is ${JSON.stringify(records[0])}; want: ${add}`];
}

function mxProblems(
  want: { domain: string; host: string; priority: number },
  got: Lookup<{ exchange: string; priority: number }>,
): string[] {
  const record = `${fqdn(want.domain)} IN MX ${want.priority} ${fqdn(want.host)}`;
  if (got.status !== "ok") return [`MX of ${want.domain}: ${absent(got, "MX")}; add: ${record}`];
  if (got.records.some((r) => r.exchange === want.host && r.priority === want.priority)) return [];
  const same = got.records.find((r) => r.exchange === want.host);
  if (same) return [`MX of ${want.domain}: ${fqdn(want.host)} has priority ${same.priority}; want: ${record}`];
  const list = got.records.map((r) => `${r.priority} ${fqdn(r.exchange)}`).join(", ");
  return [`MX of ${want.domain} is ${list}; add: ${record}`];
}

function spfProblems(want: { domain: string; policy: string }, got: Lookup<string>): string[] {
  const record = `${fqdn(want.domain)} IN TXT ${txtData(want.policy)}`;
  if (got.status !== "ok") return [`SPF of ${want.domain}: ${absent(got, "TXT")}; add: ${record}`];
  const spf = got.records.filter(isSpf);
  if (spf.length === 0) return [`SPF of ${want.domain}: missing (no TXT record starts with v=spf1); add: ${record}`];
  if (spf.length > 1) {
    const all = spf.map((s) => JSON.stringify(s)).join(", ");
    return [`SPF of ${want.domain}: ${spf.length} SPF records (${all}) — RFC 7208 §4.5 makes that a PermError; keep only: ${record}`];
  }
  const [current = ""] = spf;
  if (sameSpf(current, want.policy)) return [];
  return [`SPF of ${want.domain} is ${JSON.stringify(current)}; want: ${record}`];
}

function absent(got: { status: "nxdomain" | "nodata" }, type: string): string {
  return got.status === "nxdomain" ? "missing (NXDOMAIN: the name does not exist)" : `missing (the name has no ${type} records)`;
}

/** RFC 7208 §4.5: an SPF record is exactly "v=spf1" or starts with "v=spf1 ". */
export function isSpf(text: string): boolean {
  const lower = text.toLowerCase();
  return lower === "v=spf1" || lower.startsWith("v=spf1 ");
}

/** Term-by-term comparison: whitespace collapsed, lower case, "+" qualifier dropped. */
export function sameSpf(a: string, b: string): boolean {
  const terms = (policy: string) =>
    policy
      .trim()
      .split(/\s+/)
      .map((term) => term.toLowerCase().replace(/^\+/, ""));
  const x = terms(a);
  const y = terms(b);
  return x.length === y.length && x.every((term, i) => term === y[i]);
}

/** TXT RDATA in zone-file form: quoted strings of at most 255 bytes, `"` and `\` escaped. */
export function txtData(text: string): string {
  const chunks: string[] = [];
  for (let i = 0; i < text.length || chunks.length === 0; i += 255) chunks.push(text.slice(i, i + 255));
  return chunks.map((chunk) => `"${chunk.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(" ");
}

function fqdn(name: string): string {
  return `${normalizeName(name)}.`;
}

function normalizeName(name: string): string {
  return name.replace(/\.$/, "").toLowerCase();
}

/** "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:53" → valid; anything else → null. */
export function parseResolver(value: string): { address: string; port: number } | null {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value);
  const plain = /^([^:]+)(?::(\d{1,5}))?$/.exec(value);
  const [address, port] = bracketed ? [bracketed[1], bracketed[2]] : plain ? [plain[1], plain[2]] : isIP(value) === 6 ? [value] : [];
  if (!address || isIP(address) === 0) return null;
  const number = port === undefined ? 53 : Number(port);
  return number >= 1 && number <= 65535 ? { address, port: number } : null;
}
