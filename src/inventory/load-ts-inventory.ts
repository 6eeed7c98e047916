/**
 * A TypeScript inventory module (`export default defineInventory({...})`), loaded the way playbooks
 * are (tsx) and validated with zod: a TypeScript type can be bypassed, a schema cannot.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
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
  let candidate = module.default ?? module.inventory;
  // CommonJS interop wraps `export default` once more.
  if (!isDefinedInventory(candidate) && typeof candidate === "object" && candidate !== null && "default" in candidate) {
    candidate = (candidate as { default: unknown }).default;
  }
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

/** Same as load-playbook.ts: a `.ts` file outside a `"type": "module"` package needs tsx's tsImport. */
async function importTypeScript(absolute: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(absolute).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if ((error as { code?: string }).code !== "ERR_REQUIRE_CYCLE_MODULE") throw error;
    const { tsImport } = await import("tsx/esm/api");
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
}
