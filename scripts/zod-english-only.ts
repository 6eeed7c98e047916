/**
 * An esbuild plugin for the engine build: zod's locales module, reduced to English.
 *
 * Why: `z` (which the engine uses and re-exports to playbooks) carries `z.locales`, the error
 * messages of ~50 languages, as a namespace object, so no bundler can drop them: ~400 KB of the
 * engine's ~1.1 MB chunk, parsed on every start (~25 ms of CPU on this 2-core machine, measured by
 * importing the built CLI and API; with minification the start-up import fell 0.146 → 0.095 s).
 * provision never configures a locale. A playbook that asks for another one through provision's
 * `z` gets an error that says how to get it (import zod itself), never a silent English.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Plugin } from "esbuild";

const LOCALES_INDEX = /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/;

export function zodEnglishOnly(): Plugin {
  return {
    name: "zod-english-only",
    setup(build) {
      build.onLoad({ filter: LOCALES_INDEX }, async ({ path: file }) => {
        const names = [...(await readFile(file, "utf8")).matchAll(/export \{ default as (\w+) \}/g)].map((m) => m[1] as string);
        if (!names.includes("en"))
          throw new Error(`${file}: no English locale exported; zod's layout changed (update scripts/zod-english-only.ts)`);
        const others = names.filter((name) => name !== "en");
        const contents = [
          'export { default as en } from "./en.js";',
          "function unavailable(name) {",
          "  return () => {",
          "    throw new Error(`zod's locale \"${name}\" is not in provision's engine (English only, to start faster): for z.locales.${name}(), take z from the zod package itself in your playbook`);",
          "  };",
          "}",
          ...others.map((name) => `export const ${name} = unavailable(${JSON.stringify(name)});`),
        ].join("\n");
        return { contents, loader: "js", resolveDir: path.dirname(file) };
      });
    },
  };
}
