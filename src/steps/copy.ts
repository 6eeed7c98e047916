/**
 * copy: a file or a directory tree from the controller to the host, exactly: every file's content
 * (compared by size and sha256), and owner, group and mode when given (`mode` for files, `dirMode`
 * for directories). Files on the host that the source lacks are kept unless `delete: true`.
 *
 * Read: one round trip for the whole target tree (copy-tree.ts). Apply: deletes, then new
 * directories (mkdir -p, then their owner/mode), then each changed file through the verified
 * atomic writer (one round trip per file: its stdin carries that file alone), then the metadata
 * of entries whose content is right. Each file is replaced atomically; the tree as a whole is not
 * (an interrupted apply leaves some files old, some new, none half-written).
 * A type mismatch (a directory where the source has a file, a symlink anywhere the source has an
 * entry) is refused, never replaced: writing through a symlinked directory would land elsewhere.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { InvalidStepError, type Change, type Step } from "../playbook/step.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import { fileWrite } from "../transport/remote-file.ts";
import { pathResource, pathTree } from "../playbook/resources.ts";
import { normalizeMode } from "./file.ts";
import { accountName, fileMode, filePath, parseStepParams } from "./params.ts";
import { parseHostTree, readTreeCommand, scanSource, sha256, type HostEntry, type HostTree, type SourceEntry } from "./copy-tree.ts";

const copyParams = z.strictObject({
  /** On the controller: a regular file or a directory (no symlinks in it). */
  src: z.string().min(1, "must name a file or directory on the controller"),
  /** On the host: the file (when src is a file) or the directory (when src is one). */
  dest: filePath,
  owner: accountName.optional(),
  group: accountName.optional(),
  mode: fileMode.optional(),
  dirMode: fileMode.optional(),
  delete: z.boolean().optional(),
  notify: z.array(z.string()).optional(),
});

export type CopyParams = z.input<typeof copyParams>;

interface Metadata {
  owner?: string;
  group?: string;
  mode?: string;
}

/** What apply carries out; paths relative to dest ("" is dest itself). */
export interface CopyPlan {
  remove: string[];
  mkdir: string[];
  write: string[];
  metadata: { rel: string; set: Metadata }[];
}

export interface CopyChange extends Change {
  plan: CopyPlan;
}

/** Longest list of paths in one command (far below ARG_MAX even for long paths). */
const PATHS_PER_COMMAND = 200;
/** Items named in a summary before "… and N more". */
const SUMMARY_ITEMS = 10;

export function copy(input: CopyParams): Step<HostTree> {
  const params = parseStepParams("copy", copyParams, input);
  const source = scanSource(params.src);
  const isTree = source.get("")?.type === "directory";
  if (!isTree && (params.dirMode !== undefined || params.delete !== undefined)) {
    throw new InvalidStepError(`copy: dirMode and delete apply to a directory, but src ${JSON.stringify(params.src)} is a file`);
  }
  const fileMeta: Metadata = { owner: params.owner, group: params.group, mode: params.mode && normalizeMode(params.mode) };
  const dirMeta: Metadata = { owner: params.owner, group: params.group, mode: params.dirMode && normalizeMode(params.dirMode) };
  const hostPath = (rel: string) => (rel ? `${params.dest}/${rel}` : params.dest);
  return {
    kind: "copy",
    name: `copy ${params.src} → ${params.dest}`,
    notify: params.notify,
    provides: [isTree ? pathTree(params.dest) : pathResource(params.dest)],
    requires: [isTree ? pathTree(params.dest) : pathResource(params.dest)],
    read: () => ({ command: readTreeCommand(params.dest), parse: (result) => parseHostTree(result, params.dest) }),
    diff(current): CopyChange | null {
      const plan = planCopy(source, current, { file: fileMeta, dir: dirMeta }, Boolean(params.delete), hostPath);
      const items = describePlan(plan, current);
      if (items.length === 0) return null;
      const shown = items.length > SUMMARY_ITEMS ? [...items.slice(0, SUMMARY_ITEMS), `… and ${items.length - SUMMARY_ITEMS} more`] : items;
      return { summary: shown.join(", "), plan };
    },
    async apply({ session }, _current, change: CopyChange) {
      const { plan } = change;
      for (const command of applyCommands(plan, hostPath, dirMeta)) await session.runOrThrow(command);
      for (const rel of plan.write) {
        const entry = source.get(rel) as SourceEntry;
        const bytes = readFileSync(entry.source);
        if (sha256(bytes) !== entry.sha256)
          throw new Error(`copy: ${entry.source} changed on the controller since it was compared; run again`);
        const write = fileWrite(hostPath(rel), bytes, fileMeta);
        await session.runOrThrow(write.command, { stdin: write.stdin });
      }
      const metadata = plan.metadata.map(({ rel, set }) => metadataOf(hostPath(rel), set));
      for (const chunk of chunks(metadata, PATHS_PER_COMMAND)) await session.runOrThrow(joinCommands(chunk, " && "));
    },
  };
}

/** Pure: the source against the host's tree. */
export function planCopy(
  source: Map<string, SourceEntry>,
  current: HostTree,
  meta: { file: Metadata; dir: Metadata },
  deleteExtra: boolean,
  hostPath: (rel: string) => string,
): CopyPlan {
  const plan: CopyPlan = { remove: [], mkdir: [], write: [], metadata: [] };
  for (const [rel, wanted] of source) {
    const have = current?.get(rel);
    if (!have) {
      (wanted.type === "directory" ? plan.mkdir : plan.write).push(rel);
      continue;
    }
    const wantedType = wanted.type === "directory" ? "d" : "f";
    if (have.type !== wantedType) {
      throw new Error(
        `${JSON.stringify(hostPath(rel))} is a ${typeName(have.type)} on the host, but the source has a ${wanted.type}: refusing to replace it`,
      );
    }
    if (wanted.type === "file" && (have.size !== wanted.size || have.sha256 !== wanted.sha256)) {
      plan.write.push(rel);
      continue;
    }
    const set = differing(have, wanted.type === "directory" ? meta.dir : meta.file);
    if (Object.keys(set).length) plan.metadata.push({ rel, set });
  }
  if (deleteExtra && current) {
    // Only the topmost extra entry of a subtree: `rm -rf` takes what is under it.
    for (const rel of current.keys()) {
      if (source.has(rel)) continue;
      const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
      if (source.has(parent)) plan.remove.push(rel);
    }
    plan.remove.sort(); // find's order is the directory's, not a stable one
  }
  return plan;
}

function differing(have: HostEntry, want: Metadata): Metadata {
  return {
    ...(want.owner && have.owner !== want.owner ? { owner: want.owner } : {}),
    ...(want.group && have.group !== want.group ? { group: want.group } : {}),
    ...(want.mode && have.mode !== want.mode ? { mode: want.mode } : {}),
  };
}

/** One item per path: "create a/b", "content a/c", "a/d: mode 0600 → 0644", "delete x". */
function describePlan(plan: CopyPlan, current: HostTree): string[] {
  const label = (rel: string) => (rel === "" ? "" : /^[\w./+@:,=-]+$/.test(rel) ? rel : JSON.stringify(rel));
  const item = (what: string, rel: string) => (rel === "" ? what : `${what} ${label(rel)}`);
  return [
    ...plan.remove.map((rel) => item("delete", rel)),
    ...plan.mkdir.map((rel) => item("create directory", rel)),
    ...plan.write.map((rel) => item(current?.has(rel) ? "content" : "create", rel)),
    ...plan.metadata.map(({ rel, set }) => {
      const have = current?.get(rel) as HostEntry;
      const parts = (["owner", "group", "mode"] as const).filter((k) => set[k]).map((k) => `${k} ${have[k]} → ${set[k]}`);
      return rel === "" ? parts.join(", ") : `${label(rel)}: ${parts.join(", ")}`;
    }),
  ];
}

/** Deletes, then the new directories (created, then given their owner and mode). */
function applyCommands(plan: CopyPlan, hostPath: (rel: string) => string, dirMeta: Metadata): ShellCommand[] {
  const commands: ShellCommand[] = [];
  for (const chunk of chunks(plan.remove.map(hostPath), PATHS_PER_COMMAND)) commands.push(sh`rm -rf -- ${chunk}`);
  for (const chunk of chunks(plan.mkdir.map(hostPath), PATHS_PER_COMMAND)) {
    const setMeta = chunk.map((path) => metadataOf(path, dirMeta)).filter((c) => c.text);
    commands.push(joinCommands([sh`mkdir -p -- ${chunk}`, ...setMeta], " && "));
  }
  // A file whose directory is dest's parent: that parent must exist for the temp file.
  if (plan.write.includes("") || plan.mkdir.includes("")) {
    const parent = hostPath("").slice(0, hostPath("").lastIndexOf("/")) || "/";
    commands.unshift(sh`mkdir -p -- ${parent}`);
  }
  return commands;
}

function metadataOf(path: string, set: Metadata): ShellCommand {
  const commands: ShellCommand[] = [];
  if (set.owner || set.group) commands.push(sh`chown -h -- ${`${set.owner ?? ""}${set.group ? `:${set.group}` : ""}`} ${path}`);
  if (set.mode) commands.push(sh`chmod -- ${set.mode} ${path}`);
  return joinCommands(commands, " && ");
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function typeName(type: string): string {
  return (
    { f: "regular file", d: "directory", l: "symlink", p: "FIFO", s: "socket", b: "block device", c: "character device" }[type] ?? type
  );
}
