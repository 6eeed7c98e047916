/** Our YAML inventory: the `defineInventory` shape written as YAML (see define-inventory.ts). */
import { addDefinition } from "./define-inventory.ts";
import type { InventoryBuilder } from "./inventory-builder.ts";
import { isMapping, type YamlSource } from "./yaml-source.ts";

const NATIVE_KEYS = new Set(["hosts", "groups", "vars"]);

/**
 * A YAML mapping is ours when its top level has only `hosts`, `groups` and `vars`, with `hosts` or
 * `groups` among them and no `all`; anything else is an Ansible YAML inventory (whose top-level
 * keys are group names, usually just `all`).
 */
export function isNativeYaml(value: unknown): boolean {
  if (!isMapping(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => NATIVE_KEYS.has(k)) && (keys.includes("hosts") || keys.includes("groups"));
}

export function addNativeYaml(builder: InventoryBuilder, source: YamlSource): void {
  const result = addDefinition(builder, source.value ?? {});
  if (!result.ok) {
    const first = result.issues[0];
    const more = result.issues.length > 1 ? ` (and ${result.issues.length - 1} more)` : "";
    if (first) throw source.error(first.path, `${first.message}${more}`);
  }
}
