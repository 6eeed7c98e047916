/**
 * The plan cache: what a host's facts were the last time this playbook ran on it, kept on the
 * controller so the next run can send the facts script AND the reads the steps will need in one
 * round trip (a converged `--check` = connection + 1 round trip).
 *
 * What is kept is the facts (built-in and custom) and the address the transport connected to,
 * never a command: the reads to send ahead
 * are re-derived on every run by building the playbook's steps from the cached facts and this
 * run's vars, so a secret a read holds (a `Secret` var) is never written anywhere, and a changed
 * playbook or vars file sends the reads as they are now. Exactness does not depend on the cache:
 * once the host's real facts arrive, the runner builds the steps from them (as without a cache) and
 * uses a read sent ahead only when its command is byte-identical to the one the real step asks for;
 * every other read goes in a second round trip (host-runner.ts). A stale, corrupt or unreadable
 * cache costs that round trip, never a wrong answer.
 *
 * Key: sha256 of the format, the playbook (absolute path, name, and the digest of its file and
 * every local module it imports: src/playbook/playbook-inputs.ts), this host's vars as JSON (a
 * Secret serialises as `***`: its value is not in the key) and the host (name, address).
 * File: `$PROVISION_CACHE_DIR/plans/<key>.json` (else `$XDG_CACHE_HOME/provision/plans`, else
 * `~/.cache/provision/plans`), mode 0600 in a 0700 directory, written to a temp file and renamed.
 * The facts are kept in plain text, custom facts too: facts that hold a registered secret value (a
 * custom fact echoing one) are not written, but a custom fact printing something sensitive that is
 * not registered as a secret is kept like any other fact (docs/ARCHITECTURE.md).
 *
 * Bounded: an entry not used for about 30 days is removed (once per process, by the first write to
 * the directory); a used entry that is not rewritten (the facts did not change) has its mtime
 * refreshed when it is a day old, so the mtime says when it was last used within a day.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Facts } from "../facts/facts.ts";
import { mask } from "../shell/mask.ts";

/** Bumped when what an entry holds (or means) changes: older entries are then ignored. 2: the address. */
const FORMAT = 2;

const DAY_MS = 24 * 60 * 60 * 1000;
/** An entry whose mtime is older is removed when the directory is next written to. */
export const UNUSED_FOR_MS = 30 * DAY_MS;
/** A used entry's mtime is refreshed once it is this old (not on every run: a write per run). */
const TOUCH_AFTER_MS = DAY_MS;

export type CachedFacts = Facts & { custom: Record<string, unknown> };

/** What the last run on this host saw. */
export interface CachedPlan {
  facts: CachedFacts;
  /**
   * The address the transport connected to (HostInfo.address): the steps are built from it, and
   * the plan is read before this run's connection says it again (host-runner.ts).
   */
  address: string;
}

export interface PlanCache {
  /** The last run's facts and address, or undefined (no entry, unreadable, corrupt, other format). */
  load(): Promise<CachedPlan | undefined>;
  /** Keep these for the next run (never throws: a cache that cannot be written is no cache). */
  save(plan: CachedPlan): Promise<void>;
}

export function planCacheDir(): string {
  const base = process.env.PROVISION_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "provision");
  return join(base, "plans");
}

export interface PlanKeyInput {
  /** The playbook file's absolute path, and its content or the digest of all its local inputs (playbookInputsDigest). */
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
  let loadedMtimeMs = 0;
  return {
    async load() {
      try {
        const [text, info] = await Promise.all([readFile(file, "utf8"), stat(file)]);
        const plan = parseEntry(text, key);
        if (plan) [loadedText, loadedMtimeMs] = [text, info.mtimeMs];
        return plan;
      } catch {
        return undefined;
      }
    },
    async save({ facts, address }) {
      const text = `${JSON.stringify({ format: FORMAT, key, facts, address })}\n`;
      // Holding a secret value: not written (and a stale entry is harmless).
      if (mask(text) !== text) return;
      if (text === loadedText) {
        // Unchanged: no write; only say it is still used (see the file's comment), once a day at most.
        if (Date.now() - loadedMtimeMs < TOUCH_AFTER_MS) return;
        loadedMtimeMs = Date.now();
        await utimes(file, new Date(), new Date()).catch(() => undefined);
        return;
      }
      const temporary = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await writeFile(temporary, text, { mode: 0o600 });
        await rename(temporary, file);
        [loadedText, loadedMtimeMs] = [text, Date.now()];
      } catch {
        await rm(temporary, { force: true }).catch(() => undefined);
        return;
      }
      await pruneOnce(dir);
    },
  };
}

/** Directories this process has pruned: once each (a fleet's first run writes an entry per host). */
const pruned = new Set<string>();

/** Remove the entries (and temp files left by a killed run) not used for UNUSED_FOR_MS. Never throws. */
async function pruneOnce(dir: string): Promise<void> {
  if (pruned.has(dir)) return;
  pruned.add(dir);
  const names = await readdir(dir).catch(() => [] as string[]);
  const before = Date.now() - UNUSED_FOR_MS;
  for (const name of names) {
    if (!name.endsWith(".json") && !name.endsWith(".tmp")) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile() && info.mtimeMs < before) await rm(path, { force: true }).catch(() => undefined);
  }
}

/** The entry when it is one of ours, of this format and key, with facts of the right shape. */
function parseEntry(text: string, key: string): CachedPlan | undefined {
  const entry = JSON.parse(text) as { format?: unknown; key?: unknown; facts?: unknown; address?: unknown };
  if (entry === null || typeof entry !== "object" || entry.format !== FORMAT || entry.key !== key) return undefined;
  if (typeof entry.address !== "string") return undefined;
  const facts = entry.facts as Record<string, unknown> | null;
  if (facts === null || typeof facts !== "object") return undefined;
  const strings = ["hostname", "osFamily", "distro", "version", "packageManager", "serviceManager", "arch"];
  if (strings.some((name) => typeof facts[name] !== "string") || typeof facts.uid !== "number") return undefined;
  const objects = [facts.paths, facts.custom];
  if (objects.some((value) => value === null || typeof value !== "object" || Array.isArray(value))) return undefined;
  return { facts: facts as unknown as CachedFacts, address: entry.address };
}
