/**
 * What a step touches, so `--check` can tell a state that depends on a pending change from one
 * that does not (see Step.provides / Step.requires).
 *
 * A resource is `scheme:name`, hierarchical: `path:/etc/postfix/main.cf` (segments split on "/"),
 * `iptables:ipv4:filter:INPUT` (split on ":"). Two resources overlap when one is a prefix of the
 * other, segment by segment — so a step that creates /etc/motd.d overlaps one that edits
 * /etc/motd.d/x, and a rule in ipv4 filter/INPUT overlaps the saved ipv4 ruleset
 * (`iptables:ipv4`). `*` overlaps everything: what a package install or a user's undeclared step
 * may change, and what a verification (an SMTP login) depends on.
 */

export type Resource = string;

export const EVERYTHING: Resource = "*";

/** `path:/etc/x`: a file or directory (and, by prefix, everything under a directory). */
export function pathResource(path: string): Resource {
  return `path:${path}`;
}

/**
 * `node:/etc/motd.d`: one directory itself (its existence, owner, mode), not what is inside it.
 * Creating a directory does not change a file in it (that file is as absent after as before), so
 * `directory` provides its node: a `file` step below a directory that would be created stays an
 * exact "would change — create" in --check, not unknown. A node overlaps the same node, and any
 * `path:` resource (a subtree) that contains it.
 */
export function pathNodeResource(path: string): Resource {
  return `node:${path}`;
}

/** True when a change to `a` may change what is read of `b` (or the other way round). */
export function overlaps(a: Resource, b: Resource): boolean {
  if (a === EVERYTHING || b === EVERYTHING) return true;
  const aNode = a.startsWith("node:");
  const bNode = b.startsWith("node:");
  if (aNode || bNode) {
    const node = segments(`path:${(aNode ? a : b).slice("node:".length)}`);
    const other = aNode ? b : a;
    if (other.startsWith("node:")) return segments(`path:${other.slice("node:".length)}`).join("/") === node.join("/");
    // A subtree holds the node when the subtree's path is a prefix of the node's.
    const tree = segments(other);
    return tree.length <= node.length && tree.every((segment, i) => segment === node[i]);
  }
  const left = segments(a);
  const right = segments(b);
  const shared = Math.min(left.length, right.length);
  for (let i = 0; i < shared; i += 1) if (left[i] !== right[i]) return false;
  return true;
}

/** True when something of `provided` overlaps something of `required`. */
export function anyOverlap(provided: readonly Resource[], required: readonly Resource[]): boolean {
  return provided.some((p) => required.some((r) => overlaps(p, r)));
}

function segments(resource: Resource): string[] {
  const colon = resource.indexOf(":");
  if (colon < 0) return [resource];
  const scheme = resource.slice(0, colon);
  const rest = resource.slice(colon + 1);
  return [scheme, ...(scheme === "path" ? rest.split("/").filter(Boolean) : rest.split(":"))];
}
