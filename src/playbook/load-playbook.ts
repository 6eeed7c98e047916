/**
 * Loads a playbook module (TypeScript, through tsx's loader registered by bin/provision.js).
 * Errors name the file: not found, does not compile, does not export a playbook.
 */
import { access } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { isPlaybook, type Playbook } from "./playbook.ts";

export class PlaybookLoadError extends Error {
  override readonly name = "PlaybookLoadError";
}

export async function loadPlaybook(path: string): Promise<Playbook> {
  const absolute = resolve(path);
  try {
    await access(absolute);
  } catch {
    throw new PlaybookLoadError(`${path}: playbook file not found`);
  }
  let module: Record<string, unknown>;
  try {
    module = await importTypeScript(absolute);
  } catch (error) {
    throw new PlaybookLoadError(`${path}: cannot load playbook: ${(error as Error).message}`);
  }
  const candidate = unwrapDefault(module.default) ?? module.playbook;
  if (!isPlaybook(candidate)) {
    throw new PlaybookLoadError(
      `${path}: does not export a playbook (expected \`export default definePlaybook({...})\`)`,
    );
  }
  return candidate;
}

/**
 * A `.ts` file outside a `"type": "module"` package is CommonJS to Node, and requiring provision's
 * ESM sources from it fails (ERR_REQUIRE_CYCLE_MODULE). tsx's tsImport loads it anyway, in its own
 * module namespace — which is why Secret and ShellCommand are recognised by brand, not instanceof.
 */
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

/** CommonJS interop wraps `export default` once more: `{ default: { default: playbook } }`. */
function unwrapDefault(value: unknown): unknown {
  if (isPlaybook(value)) return value;
  if (typeof value === "object" && value !== null && "default" in value) return (value as { default: unknown }).default;
  return value;
}
