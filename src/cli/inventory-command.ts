/**
 * `provision inventory` — what `ansible-inventory` shows, from our loaders (no host is contacted):
 *
 * - `--list`: Ansible's JSON shape, so tools that read `ansible-inventory --list` read it:
 *   `_meta.hostvars` (each host's merged vars, with its connection settings as the `ansible_*`
 *   vars they came from), and per group `hosts` (direct members), `children` and `vars` (the
 *   group's own), empty keys left out as Ansible does; `all` and `ungrouped` always present.
 * - `--graph [GROUP]`: the group tree, `@group:` lines and `|--` branches, as ansible-inventory.
 * - `--host NAME`: one host's merged vars as JSON.
 *
 * Secrets (a `Secret` value, or any registered secret text) print as `***`.
 */
import type { Inventory, InventoryHost } from "../inventory/inventory.ts";
import { loadInventories } from "../inventory/load-inventory.ts";
import { maskDeep } from "../shell/mask.ts";
import { isSecret, MASK } from "../shell/secret.ts";
import { EXIT_OK } from "./exit-code.ts";
import { HELP_OPTION, parseVerbArgs, UsageError } from "./options.ts";
import { closest } from "./suggest.ts";

export interface InventoryArgs {
  inventories: string[];
  mode: { kind: "list" } | { kind: "graph"; group: string } | { kind: "host"; name: string };
}

export const INVENTORY_USAGE = `usage: provision inventory -i INVENTORY (--list | --graph [GROUP] | --host NAME)

Shows an inventory as provision reads it (no host is contacted), in ansible-inventory's shapes.

  -i, --inventory FILE     inventory file or directory (repeatable: merged in order, later wins)
  --list                   every group and host as JSON (ansible-inventory --list: _meta.hostvars,
                           groups with hosts, children and vars, all, ungrouped)
  --graph [GROUP]          the group tree (from all, or from GROUP)
  --host NAME              one host's merged vars as JSON (connection settings as ansible_* vars)

Secrets print as ***.

examples:
  provision inventory -i inventory/hosts.ini --graph
  provision inventory -i inventory/ --list | jq '._meta.hostvars | keys'
  provision inventory -i hosts.ini -i extra.yml --host mx1`;

const INVENTORY_OPTIONS = {
  ...HELP_OPTION,
  inventory: { type: "string", short: "i", multiple: true },
  list: { type: "boolean", default: false },
  graph: { type: "boolean", default: false },
  host: { type: "string" },
} as const;

export function parseInventoryArgs(argv: readonly string[]): InventoryArgs {
  const { values, positionals } = parseVerbArgs("inventory", argv, INVENTORY_OPTIONS);
  const inventories = (values.inventory as string[] | undefined) ?? [];
  if (inventories.length === 0) throw new UsageError("give the inventory: -i FILE", "inventory");
  if (inventories.some((path) => path.trim() === "")) throw new UsageError("--inventory needs a value, got an empty one", "inventory");
  const chosen = [values.list === true, values.graph === true, values.host !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError("give exactly one of --list, --graph or --host NAME", "inventory");
  if (values.graph === true) {
    if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(" ")}`, "inventory");
    return { inventories, mode: { kind: "graph", group: positionals[0] ?? "all" } };
  }
  if (positionals.length > 0) throw new UsageError(`unexpected arguments: ${positionals.join(" ")}`, "inventory");
  if (values.host !== undefined) {
    const name = values.host as string;
    if (name.trim() === "") throw new UsageError("--host needs a value, got an empty one", "inventory");
    return { inventories, mode: { kind: "host", name } };
  }
  return { inventories, mode: { kind: "list" } };
}

export async function inventoryCommand(args: InventoryArgs, io: { stdout: NodeJS.WriteStream }): Promise<number> {
  const inventory = await loadInventories(args.inventories);
  const { mode } = args;
  if (mode.kind === "list") io.stdout.write(`${JSON.stringify(listInventory(inventory), null, 2)}\n`);
  else if (mode.kind === "graph") io.stdout.write(graphInventory(inventory, mode.group));
  else {
    const host = inventory.hosts.get(mode.name);
    if (!host) {
      const suggestion = closest(mode.name, [...inventory.hosts.keys()]);
      throw new UsageError(
        `${inventory.source}: no host ${JSON.stringify(mode.name)} in the inventory${suggestion ? ` (did you mean ${suggestion}?)` : ""}`,
        "inventory",
      );
    }
    io.stdout.write(`${JSON.stringify(hostVars(host), null, 2)}\n`);
  }
  return EXIT_OK;
}

/** ansible-inventory --list. */
export function listInventory(inventory: Inventory): Record<string, unknown> {
  const out: Record<string, unknown> = {
    _meta: { hostvars: Object.fromEntries([...inventory.hosts.values()].map((h) => [h.name, hostVars(h)])) },
  };
  for (const group of inventory.groups.values()) {
    const entry: Record<string, unknown> = {};
    if (group.hosts.length > 0 && group.name !== "all") entry.hosts = [...group.hosts];
    if (group.children.length > 0) entry.children = [...group.children];
    if (Object.keys(group.vars).length > 0) entry.vars = secretsMasked(group.vars);
    out[group.name] = entry;
  }
  return out;
}

/** A host's merged vars, its connection settings back under the names Ansible gives them. */
export function hostVars(host: InventoryHost): Record<string, unknown> {
  return secretsMasked({
    ...(host.address !== undefined ? { ansible_host: host.address } : {}),
    ...(host.port !== undefined ? { ansible_port: host.port } : {}),
    ...(host.user !== undefined ? { ansible_user: host.user } : {}),
    ...(host.identityFile !== undefined ? { ansible_ssh_private_key_file: host.identityFile } : {}),
    ...(host.become !== undefined ? { ansible_become: host.become } : {}),
    ...host.vars,
  });
}

function secretsMasked(vars: Record<string, unknown>): Record<string, unknown> {
  const replace = (value: unknown): unknown => {
    if (isSecret(value)) return MASK;
    if (Array.isArray(value)) return value.map(replace);
    if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replace(v)]));
    return value;
  };
  return maskDeep(replace(vars) as Record<string, unknown>);
}

/** ansible-inventory --graph: `@group:` then `|--` per level, hosts after child groups. */
export function graphInventory(inventory: Inventory, root: string): string {
  if (!inventory.groups.has(root)) {
    const suggestion = closest(root, [...inventory.groups.keys()]);
    throw new UsageError(
      `${inventory.source}: no group ${JSON.stringify(root)}${suggestion ? ` (did you mean ${suggestion}?)` : ""}`,
      "inventory",
    );
  }
  const lines: string[] = [];
  const visit = (name: string, depth: number, path: readonly string[]): void => {
    const group = inventory.groups.get(name);
    if (!group || path.includes(name)) return;
    lines.push(`${prefix(depth)}@${name}:`);
    for (const child of group.children) visit(child, depth + 1, [...path, name]);
    const hosts = name === "all" ? [] : group.hosts;
    for (const host of hosts) lines.push(`${prefix(depth + 1)}${host}`);
  };
  visit(root, 0, []);
  return `${lines.join("\n")}\n`;
}

function prefix(depth: number): string {
  return depth === 0 ? "" : `${"  |".repeat(depth - 1)}  |--`;
}
