/**
 * Build the engine once, so a run does not compile ~80 TypeScript files through tsx every time.
 *
 * Why: loading `src/` through tsx costs ~0.5 s of CPU per invocation (tsx transforms each module
 * off-thread, on every start); the same modules as a few esbuild chunks load in ~0.2 s. A run of
 * `provision` is short, so that half second is most of a converged check on one host.
 *
 * What: `src/index.ts` (the playbook API) and `src/cli/main.ts` (the command) as ESM chunks,
 * code-split so both share one copy of every module. The small pure-JavaScript packages loaded on
 * every start (zod, yaml, diff, ssh-config) are bundled in: as separate packages they were ~40
 * module files for Node to resolve, read and compile before the first byte went out (~0.1–0.2 s of
 * CPU on this 2-core machine, measured with `provision --version`); bundled they are a few chunks.
 * What stays external, and why: ssh2 (CommonJS with an optional native addon), esbuild (a native
 * binary), tsx (a loader that must be the package's own), typescript (optional: only `check`
 * loads it), ora (loaded only for a terminal's spinner). Beside them, `dist/manifest.json` lists
 * every source file that went in, with its mtime, size and hash (a bundled package by its
 * package.json, which names its version):
 * `bin/built-engine.js` uses the build only while all of them are unchanged, and otherwise runs
 * `src/` through tsx as before — a stale build is never run. `npm ci` / `npm install` run this
 * (the `prepare` script), `npm pack` too (`prepack`, with --only); `npm run build` runs it by hand.
 *
 * Rebuilding never breaks a run that is starting (issue 11, defect 11): each build is written to a
 * directory of its own, `dist/build-<time>-<pid>/`, and only when it is complete does the manifest
 * point at it — written beside and renamed over `dist/manifest.json`, so a reader sees the old
 * manifest or the new one, never a mix. A run binds to the directory its manifest named. A build
 * that the manifest no longer names is deleted only RETIRED_KEEP_MS after it was replaced, so the
 * runs that started on it can still load their lazily imported chunks.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { zodEnglishOnly } from "./zod-english-only.ts";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DIST = path.join(REPO, "dist");
const MANIFEST = path.join(DIST, "manifest.json");
/** How long a replaced build stays for the runs that started on it (they load chunks lazily). */
const RETIRED_KEEP_MS = 10 * 60_000;

export interface EngineManifest {
  builtAt: string;
  /** The build's directory, relative to dist/. */
  build: string;
  /** Entry name → file relative to dist/ (inside `build`). */
  entries: { index: string; cli: string };
  /**
   * Source file (relative to the repo, "/"-separated) → what it was when built. The hash lets an
   * installed package (whose files npm extracts with other mtimes) still prove it is unchanged.
   */
  inputs: Record<string, { mtimeMs: number; size: number; sha1: string }>;
}

/** Packages not bundled into the engine (see the header comment for why each). */
const EXTERNAL_PACKAGES = ["ssh2", "esbuild", "tsx", "tsx/*", "ora", "typescript"];

/**
 * What the manifest tracks for one esbuild input: a source file itself, or for a file of a bundled
 * package its package.json, as `node_modules/<name>/package.json` wherever the package was found
 * (one stat per package on every start, not one per file; an upgrade changes its version, so the
 * build is seen as stale). bin/built-engine.js finds it again as Node would (the nearest
 * node_modules up from the package): an installed provision's dependencies are hoisted next to it.
 */
function trackedFile(input: string): string {
  const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return match ? `node_modules/${match[1]}/package.json` : input;
}

/** Where a tracked file is now, from the repo (as bin/built-engine.js looks for it). */
function locate(tracked: string): string {
  if (!tracked.startsWith("node_modules/")) return path.join(REPO, tracked);
  for (let dir = REPO; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, tracked);
    if (existsSync(candidate) || path.dirname(dir) === dir) return candidate;
  }
}

async function compile(buildDir: string): Promise<EngineManifest> {
  const result = await build({
    absWorkingDir: REPO,
    entryPoints: { index: "src/index.ts", cli: "src/cli/main.ts" },
    outdir: path.join(DIST, buildDir),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: EXTERNAL_PACKAGES,
    // yaml's Node build is CommonJS and requires Node's built-ins: in an ESM bundle that needs a
    // real `require`.
    banner: {
      js: 'import { createRequire as __provisionRequire } from "node:module"; const require = __provisionRequire(import.meta.url);',
    },
    // Whitespace and syntax only: fewer bytes for V8 to scan on every start (~20 ms of CPU here),
    // while names stay as written, so stack traces read without the source map.
    minifyWhitespace: true,
    minifySyntax: true,
    plugins: [zodEnglishOnly()],
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
  });
  const inputs: EngineManifest["inputs"] = {};
  for (const input of [...new Set(Object.keys(result.metafile.inputs).map(trackedFile))].sort()) {
    const file = locate(input);
    const [info, content] = await Promise.all([stat(file), readFile(file)]);
    inputs[input] = { mtimeMs: info.mtimeMs, size: info.size, sha1: createHash("sha1").update(content).digest("hex") };
  }
  const entries = { index: `${buildDir}/index.mjs`, cli: `${buildDir}/cli.mjs` };
  return { builtAt: new Date().toISOString(), build: buildDir, entries, inputs };
}

/** The build the manifest names now, if any. */
async function currentBuild(): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(MANIFEST, "utf8")) as Partial<EngineManifest>).build;
  } catch {
    return undefined;
  }
}

/** Point dist/manifest.json at the new build: one rename, so readers see old or new, whole. */
async function publish(manifest: EngineManifest): Promise<void> {
  const replaced = await currentBuild();
  const next = path.join(DIST, `.manifest-${process.pid}.json`);
  await writeFile(next, `${JSON.stringify(manifest, null, 1)}\n`);
  await rename(next, MANIFEST);
  // Its mtime now says when it was retired: pruning counts RETIRED_KEEP_MS from there.
  if (replaced && replaced !== manifest.build) {
    const now = new Date();
    await utimes(path.join(DIST, replaced), now, now).catch(() => undefined);
  }
}

/**
 * Delete builds retired more than RETIRED_KEEP_MS ago (or all but the current one with `all`,
 * for `npm pack`), and the files of the old one-directory layout. A build another process is
 * writing right now is recent, so it stays.
 */
async function prune(keep: string, all: boolean): Promise<void> {
  for (const entry of await readdir(DIST, { withFileTypes: true })) {
    const file = path.join(DIST, entry.name);
    if (entry.isDirectory() && entry.name.startsWith("build-") && entry.name !== keep) {
      const retiredAt = (await stat(file)).mtimeMs;
      if (all || Date.now() - retiredAt > RETIRED_KEEP_MS) await rm(file, { recursive: true, force: true });
    } else if (entry.isFile() && /\.mjs(\.map)?$/.test(entry.name)) {
      await rm(file, { force: true }); // dist/*.mjs: the layout before builds had directories
    }
  }
}

// `npm pack` / `npm publish` run `prepack` (this, with --only) and then `prepare` too: one build
// for the package is enough, and a second would ship two.
if (process.env.npm_lifecycle_event === "prepare" && ["pack", "publish"].includes(process.env.npm_command ?? "")) {
  process.stdout.write("provision: engine built by prepack\n");
  process.exit(0);
}
const only = process.argv.includes("--only");
const buildDir = `build-${new Date().toISOString().replace(/[-:.]/g, "")}-${process.pid}`;
const manifest = await compile(buildDir);
await publish(manifest);
await prune(manifest.build, only);
process.stdout.write(`provision: engine built in dist/${buildDir} from ${Object.keys(manifest.inputs).length} source files\n`);
