/**
 * A digest of a playbook's local inputs — its own file and every local module it imports, by path
 * and content — for the plan cache's key (src/run/plan-cache.ts): an edit to an imported module
 * (playbooks/mail-dkim.ts for playbooks/mail.ts) changes the key as an edit to the playbook does.
 *
 * Free when the playbook was loaded from the compile cache (compile-cache.ts): its entry lists the
 * inputs esbuild loaded, each with its SHA-1. Otherwise (tsx, PROVISION_COMPILE_CACHE=off, a file
 * the cache cannot bundle) the relative imports are followed by a scan of the source text: a few
 * small reads, no esbuild. The scan may list a file too many (an import in a comment) or miss one
 * (an import it cannot resolve): that costs hit rate only, never a wrong read — the runner uses a
 * read sent ahead only when its command is byte-identical to the real step's. Packages and
 * provision's own source (the playbook API) are not inputs of the playbook.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { BUILT_ENGINE, compiledInputs, type BuiltEngineApi } from "./compile-cache.ts";

/** The scan stops here: a playbook's own modules are a handful, and more only costs hit rate. */
const MAX_FILES = 256;

/** `from "x"`, `import "x"`, `import("x")`: the specifiers of static and dynamic imports and re-exports. */
const IMPORT = /\b(?:from|import)\s*\(?\s*["']([^"'\n]+)["']/g;

const sha1 = (data: Buffer) => createHash("sha1").update(data).digest("hex");

/** sha256 over every local input's path and SHA-1, or undefined when the playbook file cannot be read. */
export async function playbookInputsDigest(absolutePath: string): Promise<string | undefined> {
  const inputs = compiledInputs(absolutePath) ?? (await scanInputs(absolutePath));
  if (!inputs) return undefined;
  const lines = [...inputs].map(([file, hash]) => `${file}\0${hash}\n`).sort();
  return createHash("sha256").update(lines.join("")).digest("hex");
}

/** The entry and the local modules it imports, transitively: path → SHA-1 of its content. */
export async function scanInputs(entry: string): Promise<Map<string, string> | undefined> {
  const engineSource = dirname(engineIndex());
  const found = new Map<string, string>();
  const queue = [entry];
  while (queue.length > 0 && found.size < MAX_FILES) {
    const file = queue.shift() as string;
    if (found.has(file)) continue;
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch {
      if (file === entry) return undefined;
      continue;
    }
    found.set(file, sha1(content));
    for (const [, specifier = ""] of content.toString("utf8").matchAll(IMPORT)) {
      if (!/^\.{0,2}\//.test(specifier)) continue; // a package, `node:`, a URL
      const local = await resolveLocal(resolve(dirname(file), specifier));
      if (local && !local.startsWith(engineSource + sep) && !local.includes(`${sep}node_modules${sep}`)) queue.push(local);
    }
  }
  return found;
}

/** provision's src/index.ts: the built engine says where it is; else this file is in src/playbook/. */
function engineIndex(): string {
  const engine = (globalThis as Record<symbol, unknown>)[BUILT_ENGINE] as BuiltEngineApi | undefined;
  return fileURLToPath(engine?.sourceIndex ?? new URL("../index.ts", import.meta.url));
}

/** The file an import of `path` loads, as TypeScript resolves it (`./x.js` may be `./x.ts`), if any. */
async function resolveLocal(path: string): Promise<string | undefined> {
  const typescript = path.replace(/\.([cm]?)js(x?)$/, (_, module: string, x: string) => `.${module}ts${x}`);
  const candidates = [
    path,
    typescript,
    ...[".ts", ".tsx", ".mts", ".js", ".mjs"].map((ext) => path + ext),
    `${path}/index.ts`,
    `${path}/index.js`,
  ];
  for (const candidate of candidates) {
    if (
      await stat(candidate).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}
