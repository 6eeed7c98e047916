/**
 * Import a user's `.ts` module (a playbook, an inventory) through tsx's loader.
 *
 * The loader is made ready by whoever started the process. `bin/provision.js` leaves a one-shot
 * preparation under PREPARE_USER_TYPESCRIPT on globalThis: registering tsx costs ~0.25 s (a hooks
 * thread that loads tsx and esbuild) and slows every import after it, so the built engine (dist/)
 * loads all of itself first and registers tsx only here, when a user's module is about to be
 * imported. Without that function (vitest, a program embedding provision), the host process
 * already handles `.ts` files.
 *
 * With the built engine, a module is first looked for in the compile cache (compile-cache.ts):
 * compiled once with esbuild into plain JavaScript, so tsx need not be registered at all.
 * PROVISION_COMPILE_CACHE=off skips it.
 *
 * A `.ts` file outside a `"type": "module"` package is CommonJS to Node, and requiring provision's
 * ESM sources from it fails (ERR_REQUIRE_CYCLE_MODULE). tsx's tsImport loads it anyway, in its own
 * module namespace — which is why Secret and ShellCommand are recognised by brand, not instanceof.
 */
import { pathToFileURL } from "node:url";
import { BUILT_ENGINE, importCompiled, type BuiltEngineApi } from "./compile-cache.ts";

/** globalThis key of bin/provision.js's `() => Promise<void>` that makes `.ts` imports work. */
export const PREPARE_USER_TYPESCRIPT = Symbol.for("provision.prepare-user-typescript");

async function prepareUserTypeScript(): Promise<void> {
  const slot = globalThis as Record<symbol, unknown>;
  const prepare = slot[PREPARE_USER_TYPESCRIPT];
  if (typeof prepare !== "function") return;
  delete slot[PREPARE_USER_TYPESCRIPT];
  await (prepare as () => Promise<void>)();
}

export async function importTypeScript(absolutePath: string): Promise<Record<string, unknown>> {
  const engine = (globalThis as Record<symbol, unknown>)[BUILT_ENGINE] as BuiltEngineApi | undefined;
  if (engine && process.env.PROVISION_COMPILE_CACHE !== "off") {
    const compiled = await importCompiled(absolutePath, engine);
    if (compiled) return compiled;
  }
  await prepareUserTypeScript();
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
