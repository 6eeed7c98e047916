/**
 * A TypeScript inventory module (`export default defineInventory({...})`), loaded the way playbooks
 * are (tsx) and validated with zod: a TypeScript type can be bypassed, a schema cannot.
 */
import { resolve } from "node:path";
import { importTypeScript, unwrapDefault } from "../playbook/import-typescript.ts";
import { addDefinition, isDefinedInventory } from "./define-inventory.ts";
import type { InventoryBuilder } from "./inventory-builder.ts";
import { InventoryError, located } from "./inventory.ts";

export async function addTsInventory(builder: InventoryBuilder, file: string): Promise<void> {
  let module: Record<string, unknown>;
  try {
    module = await importTypeScript(resolve(file));
  } catch (error) {
    throw new InventoryError(located(file, undefined, `cannot load inventory: ${(error as Error).message}`));
  }
  const candidate = unwrapDefault(module.default, isDefinedInventory) ?? module.inventory;
  if (!isDefinedInventory(candidate)) {
    throw new InventoryError(located(file, undefined, "does not export an inventory (expected `export default defineInventory({...})`)"));
  }
  const { kind: _kind, ...definition } = candidate;
  const result = addDefinition(builder, definition);
  if (!result.ok) {
    const lines = result.issues.map((issue) => `  ${issue.path.length ? issue.path.join(".") : "(inventory)"}: ${issue.message}`);
    throw new InventoryError(located(file, undefined, `invalid inventory\n${lines.join("\n")}`));
  }
}
