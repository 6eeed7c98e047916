/**
 * Build the engine once, so a run does not compile ~80 TypeScript files through tsx every time.
 *
 * Why: loading `src/` through tsx costs ~0.5 s of CPU per invocation (tsx transforms each module
 * off-thread, on every start); the same modules as a few esbuild chunks load in ~0.2 s. A run of
 * `provision` is short, so that half second is most of a converged check on one host.
 *
 * What: `src/index.ts` (the playbook API) and `src/cli/main.ts` (the command) as ESM chunks in
 * `dist/`, code-split so both share one copy of every module; npm packages stay external. Beside
 * them, `manifest.json` lists every source file that went in, with its mtime and size:
 * `bin/built-engine.js` uses the build only while all of them are unchanged, and otherwise runs
 * `src/` through tsx as before — a stale build is never run. `npm ci` / `npm install` run this
 * (the `prepare` script); `npm run build` runs it by hand.
 */
import { rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT = path.join(REPO, "dist");

export interface EngineManifest {
  builtAt: string;
  /** Entry name → file in dist/, relative to it. */
  entries: { index: string; cli: string };
  /** Source file (relative to the repo, "/"-separated) → what it was when built. */
  inputs: Record<string, { mtimeMs: number; size: number }>;
}

async function buildEngine(): Promise<EngineManifest> {
  await rm(OUT, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: REPO,
    entryPoints: { index: "src/index.ts", cli: "src/cli/main.ts" },
    outdir: OUT,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
  });
  const inputs: EngineManifest["inputs"] = {};
  for (const input of Object.keys(result.metafile.inputs).sort()) {
    const info = await stat(path.join(REPO, input));
    inputs[input] = { mtimeMs: info.mtimeMs, size: info.size };
  }
  const manifest: EngineManifest = { builtAt: new Date().toISOString(), entries: { index: "index.mjs", cli: "cli.mjs" }, inputs };
  // Written last: a build cut short leaves no manifest, so nothing half-built is ever used.
  await writeFile(path.join(OUT, "manifest.json"), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}

const manifest = await buildEngine();
process.stdout.write(`provision: engine built in dist/ from ${Object.keys(manifest.inputs).length} source files\n`);
