// Module resolve hook (node:module register): a playbook or inventory that imports the playbook
// API by its source path (`../src/index.ts`, or `provision` through package.json's exports) gets
// the built dist/index.mjs instead — the same module instances the built CLI already loaded,
// rather than a second copy of the engine compiled through tsx.
let sourceIndex = "";
let builtIndex = "";

/** @param {{ sourceIndex: string, builtIndex: string }} data */
export function initialize(data) {
  sourceIndex = data.sourceIndex;
  builtIndex = data.builtIndex;
}

/** @type {import("node:module").ResolveHook} */
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  // tsx may tag the URL with a query (its cache-busting namespace); the file is what counts.
  if (resolved.url.split("?")[0] === sourceIndex) return { url: builtIndex, format: "module", shortCircuit: true };
  return resolved;
}
