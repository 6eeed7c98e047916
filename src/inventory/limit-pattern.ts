/**
 * `--limit PATTERN`, Ansible-like. Terms are separated by commas (or colons when there is no
 * comma): `web,db`, `web:db`. A term is a group name (its hosts, children included), a host name,
 * a glob over both (`web*`, `db?.example.com`) or a regex over both (`~^web0[1-3]`). Prefixes:
 * `&term` keeps only hosts also in term, `!term` removes term's hosts. As in Ansible, the order
 * of terms does not matter: plain terms are united first, then `&` intersects, then `!` removes;
 * a pattern of only `&`/`!` terms starts from every host.
 */
export interface LimitTerm {
  op: "union" | "intersect" | "exclude";
  pattern: string;
}

export class LimitError extends Error {
  override readonly name = "LimitError";
}

export function parseLimit(limit: string): LimitTerm[] {
  const parts = splitTerms(limit.trim());
  const terms = parts.map((part): LimitTerm => {
    const op = part.startsWith("!") ? "exclude" : part.startsWith("&") ? "intersect" : "union";
    const pattern = op === "union" ? part : part.slice(1);
    if (pattern === "") throw new LimitError(`--limit ${limit}: empty term after "${part}"`);
    return { op, pattern };
  });
  if (terms.length === 0) throw new LimitError("--limit: empty pattern");
  return terms;
}

function splitTerms(limit: string): string[] {
  if (limit.includes(","))
    return limit
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
  // An IPv6 address is one term, not a list of colon-separated ones.
  if (/^[0-9a-fA-F]*:[0-9a-fA-F:]*:[0-9a-fA-F:]*$/.test(limit) && limit.includes("::")) return [limit];
  // Colons inside a regex term (`~…`) or a range (`[1:3]`) are not separators.
  if (limit.includes("~") || /\[[^\]]*:[^\]]*\]/.test(limit)) return [limit];
  return limit
    .split(":")
    .map((t) => t.trim())
    .filter(Boolean);
}

/** Universe: host names (in order) and, for each group name, the names of its hosts. */
export interface LimitUniverse {
  hosts: readonly string[];
  groupHosts: ReadonlyMap<string, readonly string[]>;
}

/** The hosts a limit selects, and the terms that matched nothing (worth a warning). */
export function applyLimit(terms: readonly LimitTerm[], universe: LimitUniverse): { hosts: Set<string>; unmatched: string[] } {
  const unmatched: string[] = [];
  const resolveTerm = (term: LimitTerm): Set<string> => {
    const found = matchTerm(term.pattern, universe);
    if (found.size === 0) unmatched.push(`${term.op === "exclude" ? "!" : term.op === "intersect" ? "&" : ""}${term.pattern}`);
    return found;
  };
  const unions = terms.filter((t) => t.op === "union");
  let result = new Set<string>(unions.length ? [] : universe.hosts);
  for (const term of unions) for (const host of resolveTerm(term)) result.add(host);
  for (const term of terms.filter((t) => t.op === "intersect")) {
    const keep = resolveTerm(term);
    result = new Set([...result].filter((h) => keep.has(h)));
  }
  for (const term of terms.filter((t) => t.op === "exclude")) {
    const drop = resolveTerm(term);
    result = new Set([...result].filter((h) => !drop.has(h)));
  }
  return { hosts: result, unmatched };
}

function matchTerm(pattern: string, universe: LimitUniverse): Set<string> {
  const out = new Set<string>();
  let test: (name: string) => boolean;
  if (pattern.startsWith("~")) {
    let regex: RegExp;
    try {
      regex = new RegExp(pattern.slice(1));
    } catch (error) {
      throw new LimitError(`--limit: invalid regular expression ${pattern}: ${(error as Error).message}`);
    }
    test = (name) => regex.test(name);
  } else if (/[*?]/.test(pattern)) {
    const regex = globToRegex(pattern);
    test = (name) => regex.test(name);
  } else {
    test = (name) => name === pattern;
  }
  for (const [group, hosts] of universe.groupHosts) if (test(group)) for (const h of hosts) out.add(h);
  for (const host of universe.hosts) if (test(host)) out.add(host);
  return out;
}

export function globToRegex(glob: string): RegExp {
  const body = [...glob].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${body}$`);
}
