/**
 * Which hosts a run targets: `--host NAME` (repeatable), `--group NAME` (repeatable) and
 * `--limit PATTERN` (see limit-pattern.ts).
 *
 * - `--host` and `--group` add up (a union); `--limit` then narrows it. A `--limit` alone narrows
 *   the whole inventory. Something must be selected: with an inventory, `--group all` runs
 *   everywhere (an inventory alone selects nothing, so a forgotten flag never means "every host").
 * - A `--host` not in the inventory is used as a plain name: the SSH transport resolves it through
 *   ~/.ssh/config like `ssh NAME`, and `localhost` runs on this machine.
 * - An unknown `--group`, or a `--limit` that leaves nothing, is an error that names it.
 * - Order is stable: inventory order (where each host first appears in the inventory), then plain
 *   `--host` names in command-line order. Each host once.
 */
import type { Inventory, InventoryHost } from "./inventory.ts";
import { applyLimit, parseLimit } from "./limit-pattern.ts";

export interface HostSelection {
  hosts?: readonly string[];
  groups?: readonly string[];
  limit?: string;
}

export class SelectionError extends Error {
  override readonly name = "SelectionError";
}

export interface Selected {
  hosts: InventoryHost[];
  /** Not errors, but worth saying (a `--limit` term that matched nothing). */
  warnings: string[];
}

export function selectHosts(inventory: Inventory | undefined, selection: HostSelection): Selected {
  const hostArgs = selection.hosts ?? [];
  const groupArgs = selection.groups ?? [];
  const limit = selection.limit;
  if (hostArgs.length === 0 && groupArgs.length === 0 && limit === undefined) {
    throw new SelectionError(
      inventory
        ? "no host selected: give --host NAME, --group NAME or --limit PATTERN (--group all for the whole inventory)"
        : "no host selected: give --host NAME (or --inventory FILE with --group or --limit)",
    );
  }
  const known = inventory?.hosts ?? new Map<string, InventoryHost>();
  const plain = unique(hostArgs.filter((name) => !known.has(name)));
  const universeHosts = [...known.keys(), ...plain];

  const groupHosts = new Map<string, string[]>();
  for (const group of inventory?.groups.keys() ?? []) groupHosts.set(group, []);
  for (const host of known.values()) for (const group of host.groups) groupHosts.get(group)?.push(host.name);

  let chosen: Set<string>;
  if (hostArgs.length === 0 && groupArgs.length === 0) {
    chosen = new Set(universeHosts);
  } else {
    chosen = new Set(hostArgs);
    for (const group of groupArgs) {
      const members = groupHosts.get(group);
      if (!members) {
        if (!inventory) throw new SelectionError(`--group ${group}: no inventory given (use --inventory FILE)`);
        const groups = [...inventory.groups.keys()];
        throw new SelectionError(`--group ${group}: no such group in ${inventory.source} (groups: ${groups.join(", ")})`);
      }
      if (members.length === 0) throw new SelectionError(`--group ${group}: the group has no hosts in ${inventory?.source}`);
      for (const host of members) chosen.add(host);
    }
  }

  const warnings: string[] = [];
  if (limit !== undefined) {
    const { hosts, unmatched } = applyLimit(parseLimit(limit), { hosts: universeHosts, groupHosts });
    chosen = new Set([...chosen].filter((h) => hosts.has(h)));
    if (chosen.size === 0) {
      throw new SelectionError(`--limit ${limit} selects no host${unmatched.length ? ` (${unmatched.join(", ")} matched nothing)` : ""}`);
    }
    for (const term of unmatched) warnings.push(`--limit: "${term}" matches no host or group`);
  }

  const hosts = universeHosts
    .filter((name) => chosen.has(name))
    .map((name): InventoryHost => known.get(name) ?? { name, vars: {}, groups: [] });
  return { hosts, warnings };
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}
