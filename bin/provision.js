#!/usr/bin/env node
// Entry point. The engine runs from dist/ when that is an up-to-date build of src/ (~0.15 s to
// load), otherwise from src/ through tsx (~0.5 s; no build step needed while developing).
//
// Users' playbooks and inventories are TypeScript, so tsx is registered either way — but with the
// built engine only once a user's module is about to be imported (the engine calls the function
// left under Symbol.for("provision.prepare-user-typescript"); see src/playbook/import-typescript.ts):
// registering costs ~0.25 s, and every module loaded after it goes through tsx's hooks thread.
// First, before anything else loads: the TCP connections to the hosts (see preconnect.js).
import { preconnect } from "./preconnect.js";
import { readFileSync } from "node:fs";
import module, { register as registerHooks } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { builtEngine } from "./built-engine.js";
import { cacheDir } from "./cache-dir.js";

preconnect(process.argv.slice(2));
// Node ≥ 22.1 keeps V8's compiled code of every module loaded from here on (the engine, ssh2, the
// playbook's compiled JS) on disk: ~0.05–0.1 s of CPU less per start. Node 20 has no such cache.
// NODE_DISABLE_COMPILE_CACHE=1 turns it off (Node's own switch).
module.enableCompileCache?.(cacheDir("node-compile-cache"));
const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const registerTsx = async () => (await import("tsx/esm/api")).register();

// PROVISION_ENGINE=source forces src/ (e.g. to debug with the TypeScript sources' stack traces).
let built = process.env.PROVISION_ENGINE === "source" ? { fresh: false, reason: "PROVISION_ENGINE=source" } : builtEngine(repo);
let main;
if (built.fresh) {
  try {
    // The API's entry too, now: the playbook gets it through the resolve hook below, and once
    // loaded it is this build's, whatever happens to dist/ while the run goes on.
    [{ main }] = await Promise.all([import(built.cli), import(built.index)]);
  } catch (error) {
    // Nothing of a module graph that failed to load has run, so src/ can take over cleanly.
    if (error?.code !== "ERR_MODULE_NOT_FOUND" && error?.code !== "ENOENT") throw error;
    built = { fresh: false, reason: `the build in dist/ is incomplete (${error.message.split("\n")[0]})` };
  }
}
if (built.fresh) {
  const { index } = built;
  const sourceIndex = pathToFileURL(join(repo, "src/index.ts")).href;
  // For the compile cache (src/playbook/compile-cache.ts): playbooks compiled against this build.
  globalThis[Symbol.for("provision.built-engine")] = { sourceIndex, builtIndex: index };
  globalThis[Symbol.for("provision.prepare-user-typescript")] = async () => {
    await registerTsx();
    // A playbook importing the API by its source path gets the built module the CLI already uses.
    registerHooks("./resolve-built-engine.js", import.meta.url, {
      data: { sourceIndex, builtIndex: index },
    });
  };
} else {
  await registerTsx();
  ({ main } = await import("../src/cli/main.ts"));
}
const { version } = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
const engine = built.fresh ? `dist/ (built ${built.builtAt}, ${built.build})` : `src/ through tsx: ${built.reason}`;
process.exitCode = await main(process.argv.slice(2), { version, engine });
