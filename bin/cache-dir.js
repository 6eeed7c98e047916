// provision's cache directory, for the plain-JavaScript start-up files (preconnect.js, provision.js):
// $PROVISION_CACHE_DIR, else $XDG_CACHE_HOME/provision, else ~/.cache/provision — the rule
// src/playbook/compile-cache.ts and src/run/plan-cache.ts follow (this runs before the engine loads).
import { homedir } from "node:os";
import { join } from "node:path";

/** @param {string} name a subdirectory @returns {string} */
export function cacheDir(name) {
  const base = process.env.PROVISION_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "provision");
  return join(base, name);
}
