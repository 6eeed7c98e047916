/**
 * A user's playbook or inventory (and its local imports), compiled once with esbuild into plain
 * JavaScript and kept in a cache, so a run with the built engine imports it without registering
 * tsx at all (registering costs ~0.1 s: a hooks thread that loads tsx and esbuild, and every
 * import after it goes through that thread).
 *
 * The bundle holds the user's own files only. The playbook API (`provision` or `…/src/index.ts`)
 * becomes the built engine's module the CLI already loaded, and every package stays external,
 * imported by the absolute file URL it resolves to from the user's file — the same module
 * instances a direct import would give (resolved with Node's conditions, not esbuild's `module`).
 *
 * The cache entry of a file lists every input with its mtime, size and SHA-1: it is used only
 * while each is unchanged (stat first, the hash when the mtime moved), and only for the engine
 * build it was compiled against. Anything the bundle cannot reproduce exactly — `import.meta` or
 * `require` in a user's file (they would name the cache, not the file), a compile error, an
 * unwritable cache — returns undefined: the caller then imports the file through tsx as before,
 * which also gives its usual error messages.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Plugin } from "esbuild";

/** What bin/provision.js tells about the built engine (under BUILT_ENGINE on globalThis). */
export interface BuiltEngineApi {
  /** file URL of src/index.ts: imports of it (or of `provision`) get `builtIndex`. */
  sourceIndex: string;
  /** file URL of the built API module the CLI already loaded. */
  builtIndex: string;
}

export const BUILT_ENGINE = Symbol.for("provision.built-engine");

interface CacheEntry {
  source: string;
  builtIndex: string;
  output: string;
  inputs: Record<string, { mtimeMs: number; size: number; sha1: string }>;
}

/** Bumped when the way bundles are made changes, so old entries are not used. */
const FORMAT = 1;

export function cacheDir(): string {
  const base = process.env.PROVISION_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "provision");
  return join(base, "compiled");
}

const sha1 = (data: string | Buffer) => createHash("sha1").update(data).digest("hex");

/**
 * The local inputs (absolute path → SHA-1 of its content) of each file this process imported from
 * the cache, as its entry lists them: what the plan cache keys a playbook on (playbook-inputs.ts),
 * known here for free — the entry was just checked against every input, or just compiled.
 */
const importedInputs = new Map<string, ReadonlyMap<string, string>>();

export function compiledInputs(absolutePath: string): ReadonlyMap<string, string> | undefined {
  return importedInputs.get(absolutePath);
}

export async function importCompiled(absolutePath: string, engine: BuiltEngineApi): Promise<Record<string, unknown> | undefined> {
  const dir = cacheDir();
  const key = sha1(`${FORMAT}\0${absolutePath}\0${engine.builtIndex}`);
  const entryFile = join(dir, `${key}.json`);
  let entry = await readEntry(entryFile, absolutePath, engine);
  if (!entry) {
    entry = await compile(absolutePath, engine, dir, key).catch(() => undefined);
    if (!entry) return undefined;
  }
  try {
    const module = (await import(pathToFileURL(join(dir, entry.output)).href)) as Record<string, unknown>;
    importedInputs.set(absolutePath, new Map(Object.entries(entry.inputs).map(([file, input]) => [file, input.sha1])));
    return module;
  } catch (error) {
    // Not found while linking (the output was replaced under this run, or an import of the user's
    // is missing): nothing of it has run, so tsx can load it and give its usual error.
    if ((error as { code?: string }).code === "ERR_MODULE_NOT_FOUND") return undefined;
    throw error;
  }
}

async function readEntry(file: string, source: string, engine: BuiltEngineApi): Promise<CacheEntry | undefined> {
  let entry: CacheEntry;
  try {
    entry = JSON.parse(await readFile(file, "utf8")) as CacheEntry;
  } catch {
    return undefined;
  }
  if (entry.source !== source || entry.builtIndex !== engine.builtIndex) return undefined;
  for (const [input, was] of Object.entries(entry.inputs)) {
    try {
      const now = await stat(input);
      if (now.size !== was.size) return undefined;
      if (now.mtimeMs !== was.mtimeMs && sha1(await readFile(input)) !== was.sha1) return undefined;
    } catch {
      return undefined;
    }
  }
  return entry;
}

const LOADERS: Record<string, "ts" | "tsx" | "js" | "jsx"> = {
  ".ts": "ts",
  ".mts": "ts",
  ".cts": "ts",
  ".tsx": "tsx",
  ".js": "js",
  ".mjs": "js",
  ".cjs": "js",
  ".jsx": "jsx",
};

/** Bundle the user's files; the API and packages stay outside (see the file's comment). */
function userFilesOnly(engine: BuiltEngineApi, inputs: Map<string, Buffer>): Plugin {
  const sourceIndex = fileURLToPath(engine.sourceIndex);
  return {
    name: "provision-user-files",
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === "entry-point" || args.pluginData === "inner") return undefined;
        const found = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: "inner",
        });
        if (found.errors.length > 0) return { errors: found.errors };
        if (found.path === sourceIndex) return { path: engine.builtIndex, external: true };
        if (found.external) return found;
        if (found.path.includes(`${"/"}node_modules${"/"}`)) return { path: pathToFileURL(found.path).href, external: true };
        return { path: found.path };
      });
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        const content = await readFile(args.path);
        const text = content.toString("utf8");
        if (/\bimport\.meta\b|\brequire\s*\(|__dirname|__filename/.test(text)) {
          return { errors: [{ text: `${args.path}: refers to its own location (import.meta, require, __dirname)` }] };
        }
        inputs.set(args.path, content);
        return { contents: text, loader: LOADERS[extname(args.path)] ?? "ts" };
      });
    },
  };
}

async function compile(source: string, engine: BuiltEngineApi, dir: string, key: string): Promise<CacheEntry> {
  const { build } = await import("esbuild");
  const inputs = new Map<string, Buffer>();
  const result = await build({
    entryPoints: [source],
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    target: "node20",
    // Node's own resolution of a package (no `module` condition, `main` field only).
    conditions: [],
    mainFields: ["main"],
    plugins: [userFilesOnly(engine, inputs)],
    logLevel: "silent",
  });
  if (result.warnings.length > 0) throw new Error("esbuild warnings: the bundle may not behave as the file does");
  const code = result.outputFiles[0]?.contents;
  if (!code) throw new Error("esbuild produced no output");
  const recorded: CacheEntry["inputs"] = {};
  for (const [file, content] of inputs) {
    const info = await stat(file);
    recorded[file] = { mtimeMs: info.mtimeMs, size: content.length, sha1: sha1(content) };
  }
  const entry: CacheEntry = { source, builtIndex: engine.builtIndex, output: `${key}-${sha1(Buffer.from(code))}.mjs`, inputs: recorded };
  // Only this user may write here: whoever can write the cache chooses the code a run imports.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const previous = await readFile(join(dir, `${key}.json`), "utf8").then(
    (text) => (JSON.parse(text) as CacheEntry).output,
    () => undefined,
  );
  // Output first, then the entry that names it, each by rename: a reader sees whole files only.
  await writeAtomically(join(dir, entry.output), code);
  await writeAtomically(join(dir, `${key}.json`), JSON.stringify(entry));
  if (previous && previous !== entry.output) await rm(join(dir, previous), { force: true });
  return entry;
}

async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, data, { mode: 0o600 });
  await rename(temporary, file);
}
