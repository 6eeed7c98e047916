/**
 * Collects hosts, groups and vars as a loader reads them (any number of sources, in order), then
 * builds the normalized Inventory: the implicit groups `all` and `ungrouped`, group depths, each
 * host's groups in precedence order, effective vars and connection fields.
 */
import type { VaultKeyring } from "../vault/index.ts";
import { liftConnectionVars } from "./connection-vars.ts";
import { InventoryError, type Inventory, type InventoryGroup, type InventoryHost } from "./inventory.ts";
import { isUnsafeVarKey } from "../playbook/vars.ts";

interface DraftHost {
  name: string;
  vars: Record<string, unknown>;
  /** Where each var was set (`file:line`), for warnings. */
  origins: Record<string, string>;
}

interface DraftGroup {
  name: string;
  hosts: string[];
  children: string[];
  vars: Record<string, unknown>;
  origins: Record<string, string>;
}

/** Where vars were set: one place for all of them (`file:line`), or one per key. */
export type VarsOrigin = string | Record<string, string>;

/** Warnings about one place are listed once, with the hosts they concern (at most this many). */
const MAX_WARNING_HOSTS = 3;

export class InventoryBuilder {
  readonly #hosts = new Map<string, DraftHost>();
  readonly #groups = new Map<string, DraftGroup>();

  /** Vault passwords for encrypted inventory content (see src/vault/). */
  readonly vault: VaultKeyring | undefined;

  constructor(
    readonly source: string,
    options: { vault?: VaultKeyring } = {},
  ) {
    this.vault = options.vault;
    this.group("all");
    this.group("ungrouped");
  }

  hasGroup(name: string): boolean {
    return this.#groups.has(name);
  }

  hasHost(name: string): boolean {
    return this.#hosts.has(name);
  }

  get hostNames(): string[] {
    return [...this.#hosts.keys()];
  }

  get groupNames(): string[] {
    return [...this.#groups.keys()];
  }

  group(name: string): DraftGroup {
    let group = this.#groups.get(name);
    if (!group) {
      group = { name, hosts: [], children: [], vars: {}, origins: {} };
      this.#groups.set(name, group);
    }
    return group;
  }

  /** Declare a host (and, with `group`, its membership). Vars merge over earlier ones, key by key. */
  host(name: string, group?: string, vars: Record<string, unknown> = {}, origin?: VarsOrigin): void {
    this.#refuseUnsafeKeys(vars, origin, `host ${name}`);
    let host = this.#hosts.get(name);
    if (!host) {
      host = { name, vars: {}, origins: {} };
      this.#hosts.set(name, host);
    }
    Object.assign(host.vars, vars);
    recordOrigins(host.origins, vars, origin ?? this.source);
    if (group !== undefined && group !== "all") {
      const members = this.group(group).hosts;
      if (!members.includes(name)) members.push(name);
    }
  }

  /**
   * A `__proto__` key (YAML keeps it as an own key) would become the prototype of the merged vars
   * in Object.assign: refused where it was written, at any depth.
   */
  #refuseUnsafeKeys(vars: Record<string, unknown>, origin: VarsOrigin | undefined, whose: string, depth = 0): void {
    if (depth > 100) return;
    for (const key of Object.keys(vars)) {
      const where = typeof origin === "string" ? origin : (origin?.[key] ?? this.source);
      if (isUnsafeVarKey(key)) throw new InventoryError(`${where}: ${whose}: the key ${JSON.stringify(key)} is not allowed in vars`);
      const value = vars[key];
      if (typeof value === "object" && value !== null)
        this.#refuseUnsafeKeys(value as Record<string, unknown>, typeof origin === "string" ? origin : where, whose, depth + 1);
    }
  }

  child(parent: string, child: string): void {
    if (child === "all") throw new InventoryError(`${this.source}: group "all" cannot be a child of "${parent}"`);
    this.group(child);
    const children = this.group(parent).children;
    if (parent !== child && !children.includes(child)) children.push(child);
    else if (parent === child) throw new InventoryError(`${this.source}: group "${parent}" cannot be its own child`);
  }

  groupVars(name: string, vars: Record<string, unknown>, origin?: VarsOrigin): void {
    this.#refuseUnsafeKeys(vars, origin, `group ${name}`);
    const group = this.group(name);
    Object.assign(group.vars, vars);
    recordOrigins(group.origins, vars, origin ?? this.source);
  }

  hostVars(name: string, vars: Record<string, unknown>, origin?: VarsOrigin): void {
    this.host(name, undefined, vars, origin);
  }

  // Long: the normalisation passes (parents under all, ungrouped, precedence order, effective vars) in the order they depend on.
  build(): Inventory {
    const groups = this.#groups;
    const all = groups.get("all") as DraftGroup;
    // Every group without a parent hangs under `all`; every host without a group is `ungrouped`.
    const hasParent = new Set<string>();
    for (const group of groups.values()) for (const child of group.children) hasParent.add(child);
    for (const group of groups.values()) {
      if (group.name !== "all" && !hasParent.has(group.name) && !all.children.includes(group.name)) all.children.push(group.name);
    }
    const grouped = new Set<string>();
    for (const group of groups.values())
      if (group.name !== "all" && group.name !== "ungrouped") for (const h of group.hosts) grouped.add(h);
    const ungrouped = groups.get("ungrouped") as DraftGroup;
    ungrouped.hosts = [...this.#hosts.keys()].filter((name) => !grouped.has(name));

    const depth = this.#depths();
    const parents = new Map<string, string[]>();
    for (const group of groups.values())
      for (const child of group.children) parents.set(child, [...(parents.get(child) ?? []), group.name]);
    const priority = (name: string): number => {
      const value = groups.get(name)?.vars.ansible_group_priority;
      const n = typeof value === "number" ? value : Number(value);
      return Number.isFinite(n) ? n : 1;
    };
    const precedence = (a: string, b: string): number =>
      (depth.get(a) ?? 0) - (depth.get(b) ?? 0) || priority(a) - priority(b) || (a < b ? -1 : a > b ? 1 : 0);

    const directGroups = new Map<string, string[]>();
    for (const group of groups.values()) for (const h of group.hosts) directGroups.set(h, [...(directGroups.get(h) ?? []), group.name]);

    const hosts = new Map<string, InventoryHost>();
    const warnings = new Map<string, string[]>();
    for (const draft of this.#hosts.values()) {
      const member = new Set<string>(["all"]);
      const queue = [...(directGroups.get(draft.name) ?? [])];
      while (queue.length > 0) {
        const name = queue.pop() as string;
        if (member.has(name)) continue;
        member.add(name);
        queue.push(...(parents.get(name) ?? []));
      }
      const ordered = [...member].sort(precedence);
      const effective: Record<string, unknown> = {};
      const origins: Record<string, string> = {};
      for (const name of ordered) {
        Object.assign(effective, groups.get(name)?.vars);
        Object.assign(origins, groups.get(name)?.origins);
      }
      Object.assign(effective, draft.vars);
      Object.assign(origins, draft.origins);
      const lifted = liftConnectionVars(effective, `${this.source}: host ${draft.name}`, (key) => origins[key] ?? this.source);
      hosts.set(draft.name, { name: draft.name, ...lifted.fields, vars: lifted.vars, groups: ordered });
      for (const warning of lifted.warnings) warnings.set(warning, [...(warnings.get(warning) ?? []), draft.name]);
    }

    const out = new Map<string, InventoryGroup>();
    for (const group of groups.values()) {
      out.set(group.name, { name: group.name, hosts: [...group.hosts], children: [...group.children], vars: { ...group.vars } });
    }
    return {
      source: this.source,
      hosts,
      groups: out,
      warnings: [...warnings].map(([warning, names]) => `${warning} (${listHosts(names)})`),
    };
  }

  /** Depth: the longest path from `all` (Ansible's rule); a cycle is an error naming it. */
  #depths(): Map<string, number> {
    const depth = new Map<string, number>();
    const visiting: string[] = [];
    const visit = (name: string, d: number): void => {
      if (visiting.includes(name)) {
        const cycle = [...visiting.slice(visiting.indexOf(name)), name].join(" → ");
        throw new InventoryError(`${this.source}: groups form a cycle: ${cycle}`);
      }
      if ((depth.get(name) ?? -1) >= d && d > 0) return;
      depth.set(name, Math.max(d, depth.get(name) ?? 0));
      visiting.push(name);
      for (const child of this.#groups.get(name)?.children ?? []) visit(child, d + 1);
      visiting.pop();
    };
    visit("all", 0);
    // A group outside every path from `all` can only be in a cycle of parents: find and name it.
    for (const name of this.#groups.keys()) if (!depth.has(name)) visit(name, 1);
    return depth;
  }
}

function recordOrigins(into: Record<string, string>, vars: Record<string, unknown>, origin: VarsOrigin): void {
  for (const key of Object.keys(vars)) {
    const where = typeof origin === "string" ? origin : origin[key];
    if (where !== undefined) into[key] = where;
  }
}

function listHosts(names: string[]): string {
  const shown = names.slice(0, MAX_WARNING_HOSTS).join(", ");
  const more = names.length > MAX_WARNING_HOSTS ? ` and ${names.length - MAX_WARNING_HOSTS} more` : "";
  return `${names.length === 1 ? "host" : "hosts"} ${shown}${more}`;
}
