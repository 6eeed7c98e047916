/**
 * Our own inventory shape, for TypeScript (`export default defineInventory({...})`) and for YAML
 * (the same fields, see README "Fleets"). Host names and group host lists may use ranges
 * (`web[01:10]`); a group may name hosts not listed under `hosts`, and children not defined.
 *
 * ```ts
 * export default defineInventory({
 *   vars: { relay: "mx.example.net" },                         // group `all`
 *   hosts: {
 *     "mx1": { address: "203.0.113.10", user: "deploy", become: true },
 *     "web[01:03]": { vars: { role: "web" } },
 *   },
 *   groups: { mail: { hosts: ["mx1"], vars: { tls: true } }, prod: { children: ["mail"] } },
 * });
 * ```
 */
import { z } from "zod";
import { expandHostRange } from "./host-range.ts";
import type { InventoryBuilder } from "./inventory-builder.ts";

const vars = z.record(z.string(), z.unknown());

export const inventoryHostSchema = z
  .object({
    address: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    user: z.string().min(1).optional(),
    identityFile: z.string().min(1).optional(),
    become: z.boolean().optional(),
    /** Groups this host belongs to (the same as listing it in each group's `hosts`). */
    groups: z.array(z.string().min(1)).optional(),
    vars: vars.optional(),
  })
  .strict();

export const inventoryGroupSchema = z
  .object({
    hosts: z.array(z.string().min(1)).optional(),
    children: z.array(z.string().min(1)).optional(),
    vars: vars.optional(),
  })
  .strict();

export const inventoryDefinitionSchema = z
  .object({
    /** Vars of group `all`. */
    vars: vars.optional(),
    hosts: z.record(z.string().min(1), inventoryHostSchema.nullable()).optional(),
    groups: z.record(z.string().min(1), inventoryGroupSchema.nullable()).optional(),
  })
  .strict();

export type InventoryDefinition = z.input<typeof inventoryDefinitionSchema>;

export interface DefinedInventory extends InventoryDefinition {
  readonly kind: "provision-inventory";
}

export function defineInventory(definition: InventoryDefinition): DefinedInventory {
  return { ...definition, kind: "provision-inventory" };
}

export function isDefinedInventory(value: unknown): value is DefinedInventory {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "provision-inventory";
}

/**
 * Validate a definition (from TypeScript or YAML) and add it to the builder. Returns the zod issues
 * instead of throwing, so each loader can say where they are (a YAML line, a TS field path).
 */
export function addDefinition(
  builder: InventoryBuilder,
  raw: unknown,
): { ok: true } | { ok: false; issues: { path: (string | number)[]; message: string }[] } {
  const parsed = inventoryDefinitionSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      issues: parsed.error.issues.map((i) => ({ path: i.path.map((p) => (typeof p === "symbol" ? String(p) : p)), message: i.message })),
    };
  }
  const definition = parsed.data;
  const problems: { path: (string | number)[]; message: string }[] = [];
  const expand = (pattern: string, path: (string | number)[]): string[] => {
    try {
      return expandHostRange(pattern);
    } catch (error) {
      problems.push({ path, message: (error as Error).message });
      return [];
    }
  };
  if (definition.vars) builder.groupVars("all", definition.vars);
  for (const [pattern, host] of Object.entries(definition.hosts ?? {})) {
    for (const name of expand(pattern, ["hosts", pattern])) {
      builder.host(name, undefined, { ...host?.vars, ...connectionVars(host) });
      for (const group of host?.groups ?? []) builder.host(name, group);
    }
  }
  for (const [name, group] of Object.entries(definition.groups ?? {})) {
    builder.group(name);
    if (group?.vars) builder.groupVars(name, group.vars);
    (group?.hosts ?? []).forEach((pattern, i) => {
      for (const host of expand(pattern, ["groups", name, "hosts", i])) builder.host(host, name);
    });
    for (const child of group?.children ?? []) builder.child(name, child);
  }
  return problems.length ? { ok: false, issues: problems } : { ok: true };
}

/** Typed host fields become the Ansible connection vars the builder lifts back (one mechanism). */
function connectionVars(host: z.output<typeof inventoryHostSchema> | null | undefined): Record<string, unknown> {
  if (!host) return {};
  return {
    ...(host.address !== undefined ? { ansible_host: host.address } : {}),
    ...(host.port !== undefined ? { ansible_port: host.port } : {}),
    ...(host.user !== undefined ? { ansible_user: host.user } : {}),
    ...(host.identityFile !== undefined ? { ansible_ssh_private_key_file: host.identityFile } : {}),
    ...(host.become !== undefined ? { ansible_become: host.become } : {}),
  };
}
