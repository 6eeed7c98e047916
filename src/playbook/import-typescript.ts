/**
 * Import a user's `.ts` module (a playbook, an inventory) through tsx's loader.
 *
 * A `.ts` file outside a `"type": "module"` package is CommonJS to Node, and requiring provision's
 * ESM sources from it fails (ERR_REQUIRE_CYCLE_MODULE). tsx's tsImport loads it anyway, in its own
 * module namespace — which is why Secret and ShellCommand are recognised by brand, not instanceof.
 */
import { pathToFileURL } from "node:url";

export async function importTypeScript(absolutePath: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(absolutePath).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if ((error as { code?: string }).code !== "ERR_REQUIRE_CYCLE_MODULE") throw error;
    const { tsImport } = await import("tsx/esm/api");
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
}

/** CommonJS interop wraps `export default` once more: `{ default: { default: value } }`. */
export function unwrapDefault(value: unknown, isWanted: (candidate: unknown) => boolean): unknown {
  if (isWanted(value)) return value;
  if (typeof value === "object" && value !== null && "default" in value) return (value as { default: unknown }).default;
  return value;
}
