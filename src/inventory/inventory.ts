/**
 * The normalized inventory every loader (TypeScript, our YAML, Ansible INI and YAML) produces.
 *
 * - `hosts` and `groups` iterate in inventory order: the order in which a host (or group) first
 *   appears in the source. Selection keeps that order.
 * - `InventoryHost.vars` are the host's *effective* vars: group `all` < parent groups < child groups
 *   (ordered by depth, then `ansible_group_priority`, then name) < the host's own, each layer
 *   replacing top-level keys (Ansible's default `hash_behaviour=replace`). Connection vars
 *   (`ansible_host`, `ansible_port`, …) are lifted into the typed fields and every `ansible_*` key is
 *   removed from `vars`: they describe how to reach the host, never what to put on it.
 * - `InventoryHost.groups` lists every group the host belongs to, directly or through `children`,
 *   including `all`, in that same precedence order.
 */
import type { ConnectionFields } from "./connection-vars.ts";

export interface InventoryHost extends ConnectionFields {
  name: string;
  vars: Record<string, unknown>;
  groups: string[];
}

export interface InventoryGroup {
  name: string;
  /** Hosts listed directly in this group (not through children). */
  hosts: string[];
  children: string[];
  /** The group's own vars (including group_vars/ files), before precedence is applied. */
  vars: Record<string, unknown>;
}

export interface Inventory {
  /** Where it was loaded from, for messages. */
  source: string;
  hosts: Map<string, InventoryHost>;
  groups: Map<string, InventoryGroup>;
  /** What the inventory sets that provision does not honour, each naming the var and file:line. */
  warnings: string[];
}

/** A problem with an inventory; the message starts with the file (and line, or field path). */
export class InventoryError extends Error {
  override readonly name = "InventoryError";
}

/** `file:line: message`, `file: message` when the line is unknown. */
export function located(file: string, line: number | undefined, message: string): string {
  return `${file}${line === undefined ? "" : `:${line}`}: ${message}`;
}
