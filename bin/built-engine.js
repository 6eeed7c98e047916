// Is dist/ (scripts/build-engine.ts) an up-to-date build of src/? Plain JavaScript: it runs before
// any TypeScript loader, on every start, so it must cost next to nothing (one small JSON file and
// a stat() per source file, ~1 ms).
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * @param {string} repo the package root (where src/ and dist/ are)
 * @returns {{ fresh: true, builtAt: string, cli: string, index: string } | { fresh: false, reason: string }}
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
    let now;
    try {
      now = statSync(join(repo, file));
    } catch {
      return { fresh: false, reason: `${file} is gone since the build` };
    }
    if (now.mtimeMs !== built.mtimeMs || now.size !== built.size) {
      return { fresh: false, reason: `${file} changed since the build (npm run build)` };
    }
  }
  return {
    fresh: true,
    builtAt: String(manifest.builtAt),
    cli: pathToFileURL(join(dist, manifest.entries.cli)).href,
    index: pathToFileURL(join(dist, manifest.entries.index)).href,
  };
}
