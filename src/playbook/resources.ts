/**
 * What a step touches, so `--check` can tell a state that depends on a pending change from one
 * that does not (see Step.provides / Step.requires).
 *
 * A resource is `scheme:name`, hierarchical: `path:/etc/postfix/main.cf` (segments split on "/"),
 * `iptables:ipv4:filter:INPUT` (split on ":"). A resource names one thing: `path:/etc/motd.d` is
 * that directory (its existence, owner, mode), not the files in it — creating the directory does
 * not change what a file step in it reads. A tree covers everything under it: `path:/etc/apt/**`,
 * `iptables:ipv4:*` (every chain). Two resources overlap when they are equal, or when a tree
 * contains the other. `*` overlaps everything: what a package install or a user's undeclared step
 * may change, and what a verification (an SMTP login) depends on.
 */

export type Resource = string;

export const EVERYTHING: Resource = "*";

/** `path:/etc/x`: one file or directory. */
export function pathResource(path: string): Resource {
  return `path:${path}`;
}

/** `path:/etc/apt/**`: a directory and everything under it. */
export function pathTree(path: string): Resource {
  return `path:${path.replace(/\/+$/, "")}/**`;
}

/**
 * `account:user:bob:shell`, `account:group:mail:members`: one field of an account, so a user whose
 * password changes does not make the step reading that user's home unknown. The field `*` is the
 * whole account (its creation or removal).
 */
export function accountResource(
  kind: "user" | "group",
  name: string,
  field: "*" | "exists" | "uid" | "gid" | "group" | "groups" | "members" | "shell" | "home" | "comment" | "password" | "keys",
): Resource {
  return `account:${kind}:${name.replaceAll(":", "%3A")}:${field}`;
}

/** True when a change to `a` may change what is read of `b` (or the other way round). */
export function overlaps(a: Resource, b: Resource): boolean {
  if (a === EVERYTHING || b === EVERYTHING) return true;
  const left = parse(a);
  const right = parse(b);
  const shared = Math.min(left.segments.length, right.segments.length);
  for (let i = 0; i < shared; i += 1) if (left.segments[i] !== right.segments[i]) return false;
  if (left.segments.length === right.segments.length) return true;
  // One is under the other: only a tree covers what is under it.
  return left.segments.length < right.segments.length ? left.tree : right.tree;
}

/** True when something of `provided` overlaps something of `required`. */
export function anyOverlap(provided: readonly Resource[], required: readonly Resource[]): boolean {
  return provided.some((p) => required.some((r) => overlaps(p, r)));
}

function parse(resource: Resource): { segments: string[]; tree: boolean } {
  const colon = resource.indexOf(":");
  if (colon < 0) return { segments: [resource], tree: false };
  const scheme = resource.slice(0, colon);
  const rest = resource.slice(colon + 1);
  const parts = scheme === "path" ? rest.split("/").filter(Boolean) : rest.split(":");
  const tree = parts.at(-1) === (scheme === "path" ? "**" : "*");
  return { segments: [scheme, ...(tree ? parts.slice(0, -1) : parts)], tree };
}
