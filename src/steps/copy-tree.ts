/**
 * The two trees `copy` compares: the controller's source (node:fs + sha256, scanned once when the
 * step is built) and the host's target (one `find` for type, owner, group, mode and size of every
 * entry, then one `sha256sum -z` over every regular file: a single round trip whatever the count).
 * Entries are keyed by their path relative to the root ("" is the root itself). Both outputs are
 * NUL-separated, so a name may hold spaces, quotes or newlines and still parse exactly.
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { raw, sh, type ShellCommand } from "../shell/sh.ts";
import { section, sectionLine } from "../shell/read-output.ts";
import type { ExecResult } from "../transport/transport.ts";
import { InvalidStepError, ReadFailedError } from "../playbook/step.ts";

export interface SourceEntry {
  type: "file" | "directory";
  /** Absolute path on the controller. */
  source: string;
  size: number;
  sha256: string;
}

export interface HostEntry {
  /** find's %y: f (file), d (directory), l (symlink), p, s, b, c. */
  type: string;
  owner: string;
  group: string;
  /** 4 octal digits ("0644"). */
  mode: string;
  size: number;
  /** Regular files only. */
  sha256?: string;
}

/** The host's tree under the target, or null when the target does not exist. */
export type HostTree = Map<string, HostEntry> | null;

// The kit's section lines (src/shell/read-output.ts): `@provision:absent` alone, or the listing,
// then `@provision:sums` as one NUL-terminated field, then the digests.
const ABSENT = "absent";
const SUMS = sectionLine("sums");

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The controller's source tree. A symlink, FIFO, socket or device anywhere in it is refused (named):
 * copying what a link points to, or the link itself, would each surprise someone.
 */
export function scanSource(root: string): Map<string, SourceEntry> {
  const entries = new Map<string, SourceEntry>();
  const visit = (path: string, rel: string): void => {
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(path);
    } catch (error) {
      throw new InvalidStepError(`copy: src ${JSON.stringify(path)} cannot be read on the controller: ${(error as Error).message}`);
    }
    if (stat.isSymbolicLink())
      throw new InvalidStepError(
        `copy: src ${JSON.stringify(path)} is a symlink: copy does not follow or copy symlinks (use the link step)`,
      );
    if (stat.isFile()) {
      entries.set(rel, { type: "file", source: path, size: stat.size, sha256: sha256(readFileSync(path)) });
    } else if (stat.isDirectory()) {
      entries.set(rel, { type: "directory", source: path, size: 0, sha256: "" });
      for (const name of readdirSync(path).sort()) visit(join(path, name), rel ? `${rel}/${name}` : name);
    } else {
      throw new InvalidStepError(`copy: src ${JSON.stringify(path)} is neither a regular file nor a directory`);
    }
  };
  visit(root, "");
  return entries;
}

/** One command: every entry's metadata, a marker, then the sha256 of every regular file. */
export function readTreeCommand(dest: string): ShellCommand {
  return sh`if [ -e ${dest} ] || [ -L ${dest} ]; then find ${dest} -printf '%y\\0%u\\0%g\\0%m\\0%s\\0%P\\0' && printf '%s\\0' ${raw(SUMS)} && find ${dest} -type f -exec sha256sum -z -- {} +; else ${section(ABSENT)}; fi`;
}

export function parseHostTree(result: ExecResult, dest: string): HostTree {
  if (result.exitCode !== 0) {
    throw new ReadFailedError(`cannot read ${dest}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  const out = result.stdout.toString("utf8");
  if (out === `${sectionLine(ABSENT)}\n`) return null;
  const fields = out.split("\0");
  const tree = new Map<string, HostEntry>();
  let i = 0;
  // A record starts with find's %y (one letter), so the marker can never be a file's field.
  for (; i + 6 <= fields.length && fields[i] !== SUMS; i += 6) {
    const [type, owner, group, mode, size, rel] = fields.slice(i, i + 6) as [string, string, string, string, string, string];
    tree.set(rel, { type, owner, group, mode: mode.padStart(4, "0"), size: Number(size) });
  }
  if (fields[i] !== SUMS) throw new ReadFailedError(`cannot read ${dest}: the tree listing was cut short`);
  // sha256sum -z: "<64 hex>  <path>\0", the path unescaped, as find gave it (dest + "/" + rel).
  for (const line of fields.slice(i + 1)) {
    if (line === "") continue;
    const hash = line.slice(0, 64);
    const path = line.slice(66);
    const rel = path === dest ? "" : path.startsWith(`${dest}/`) ? path.slice(dest.length + 1) : undefined;
    const entry = rel === undefined ? undefined : tree.get(rel);
    if (!entry || !/^[0-9a-f]{64}$/.test(hash))
      throw new ReadFailedError(`cannot read ${dest}: unexpected digest line ${JSON.stringify(line.slice(0, 200))}`);
    entry.sha256 = hash;
  }
  return tree;
}
