// Is dist/ (scripts/build-engine.ts) an up-to-date build of src/? Plain JavaScript: it runs before
// any TypeScript loader, on every start, so it must cost next to nothing (one small JSON file and
// a stat() per source file, ~1 ms; a file whose mtime differs — as after `npm install`, which
// extracts a package with other mtimes — is read and hashed instead, ~3 ms for all of them).
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/** @param {string} file @param {{ mtimeMs: number, size: number, sha1?: string }} built */
function unchanged(file, built) {
  const now = statSync(file);
  if (now.size !== built.size) return false;
  if (now.mtimeMs === built.mtimeMs) return true;
  return built.sha1 !== undefined && createHash("sha1").update(readFileSync(file)).digest("hex") === built.sha1;
}

/**
 * Where a manifest input is now: a source file under the package, or a bundled package's
 * `node_modules/<name>/package.json` in the nearest node_modules up from the package (as Node
 * resolves it: an installed provision's dependencies are hoisted beside it).
 * @param {string} repo @param {string} file
 */
function locate(repo, file) {
  if (!file.startsWith("node_modules/")) return join(repo, file);
  for (let dir = repo; ; dir = dirname(dir)) {
    const candidate = join(dir, file);
    if (existsSync(candidate) || dirname(dir) === dir) return candidate;
  }
}

/**
 * @param {string} repo the package root (where src/ and dist/ are)
 * @returns {{ fresh: true, builtAt: string, build: string, cli: string, index: string } | { fresh: false, reason: string }}
 *   file URLs of the built entries, or why the build cannot be used (then src/ runs through tsx)
 */
export function builtEngine(repo) {
  const dist = join(repo, "dist");
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dist, "manifest.json"), "utf8"));
  } catch {
    return { fresh: false, reason: "no build in dist/ (npm run build)" };
  }
  const inputs = Object.entries(manifest?.inputs ?? {});
  if (inputs.length === 0 || !manifest.entries?.cli || !manifest.entries?.index) {
    return { fresh: false, reason: "dist/manifest.json is not a build manifest" };
  }
  for (const [file, built] of inputs) {
    try {
      if (!unchanged(locate(repo, file), built)) return { fresh: false, reason: `${file} changed since the build (npm run build)` };
    } catch {
      return { fresh: false, reason: `${file} is gone since the build` };
    }
  }
  const cli = join(dist, manifest.entries.cli);
  const index = join(dist, manifest.entries.index);
  // The manifest is renamed into place only after its build is complete, but a build directory
  // can still go (deleted by hand, pruned): then this run takes src/ rather than half a build.
  if (!existsSync(cli) || !existsSync(index))
    return { fresh: false, reason: `the build dist/manifest.json names is incomplete (npm run build)` };
  return {
    fresh: true,
    builtAt: String(manifest.builtAt),
    build: String(manifest.build ?? ""),
    cli: pathToFileURL(cli).href,
    index: pathToFileURL(index).href,
  };
}
