/**
 * The plan cache: what a host's facts were the last time this playbook ran on it, kept on the
 * controller so the next run can send the facts script AND the reads the steps will need in one
 * round trip (a converged `--check` = connection + 1 round trip).
 *
 * What is kept is the facts only (built-in and custom), never a command: the reads to send ahead
 * are re-derived on every run by building the playbook's steps from the cached facts and this
 * run's vars, so a secret a read holds (a `Secret` var) is never written anywhere, and a changed
 * playbook or vars file sends the reads as they are now. Exactness does not depend on the cache:
 * once the host's real facts arrive, the runner builds the steps from them (as without a cache) and
 * uses a read sent ahead only when its command is byte-identical to the one the real step asks for;
 * every other read goes in a second round trip (host-runner.ts). A stale, corrupt or unreadable
 * cache costs that round trip, never a wrong answer.
 *
 * Key: sha256 of the format, the playbook (absolute path, name, content hash), this host's vars
 * as JSON (a Secret serialises as `***`: its value is not in the key) and the host (name, address).
 * File: `$PROVISION_CACHE_DIR/plans/<key>.json` (else `$XDG_CACHE_HOME/provision/plans`, else
 * `~/.cache/provision/plans`), mode 0600 in a 0700 directory, written to a temp file and renamed.
 * Facts that hold a registered secret value (a custom fact echoing one) are not written.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Facts } from "../facts/facts.ts";
import { mask } from "../shell/mask.ts";

/** Bumped when what an entry holds (or means) changes: older entries are then ignored. */
const FORMAT = 1;

export type CachedFacts = Facts & { custom: Record<string, unknown> };

export interface PlanCache {
  /** The facts the last run saw, or undefined (no entry, unreadable, corrupt, other format). */
  load(): Promise<CachedFacts | undefined>;
  /** Keep these facts for the next run (never throws: a cache that cannot be written is no cache). */
  save(facts: CachedFacts): Promise<void>;
}

export function planCacheDir(): string {
  const base = process.env.PROVISION_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "provision");
  return join(base, "plans");
}

export interface PlanKeyInput {
  /** The playbook file's absolute path and content (or its compile-cache key). */
  playbookPath: string;
  playbookContent: string | Buffer;
  playbookName: string;
  vars: unknown;
  host: { name: string; address: string };
}

export function planCacheKey(input: PlanKeyInput): string {
  const content = createHash("sha256").update(input.playbookContent).digest("hex");
  // JSON.stringify turns a Secret into "***" (its toJSON): the key never depends on a secret's value.
  let vars: string;
  try {
    vars = JSON.stringify(input.vars ?? null) ?? "null";
  } catch {
    vars = "(not serialisable)"; // a shared key only costs round trips: the reads are verified
  }
  return createHash("sha256")
    .update([FORMAT, input.playbookPath, input.playbookName, content, vars, input.host.name, input.host.address].join("\0"))
    .digest("hex");
}

/** The plan cache of one key, as a file under `dir`. */
export function filePlanCache(dir: string, key: string): PlanCache {
  const file = join(dir, `${key}.json`);
  let loadedText: string | undefined;
  return {
    async load() {
      try {
        const text = await readFile(file, "utf8");
        const facts = parseEntry(text, key);
        if (facts) loadedText = text;
        return facts;
      } catch {
        return undefined;
      }
    },
    async save(facts) {
      const text = `${JSON.stringify({ format: FORMAT, key, facts })}\n`;
      // Unchanged: no write. Holding a secret value: not written (and a stale entry is harmless).
      if (text === loadedText || mask(text) !== text) return;
      const temporary = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await writeFile(temporary, text, { mode: 0o600 });
        await rename(temporary, file);
        loadedText = text;
      } catch {
        await rm(temporary, { force: true }).catch(() => undefined);
      }
    },
  };
}

/** The entry's facts when it is one of ours, of this format and key, with facts of the right shape. */
function parseEntry(text: string, key: string): CachedFacts | undefined {
  const entry = JSON.parse(text) as { format?: unknown; key?: unknown; facts?: unknown };
  if (entry === null || typeof entry !== "object" || entry.format !== FORMAT || entry.key !== key) return undefined;
  const facts = entry.facts as Record<string, unknown> | null;
  if (facts === null || typeof facts !== "object") return undefined;
  const strings = ["hostname", "osFamily", "distro", "version", "packageManager", "serviceManager", "arch"];
  if (strings.some((name) => typeof facts[name] !== "string") || typeof facts.uid !== "number") return undefined;
  const objects = [facts.paths, facts.custom];
  if (objects.some((value) => value === null || typeof value !== "object" || Array.isArray(value))) return undefined;
  return facts as unknown as CachedFacts;
}
