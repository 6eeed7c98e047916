/**
 * Files on the host, built on exec alone (so every transport has them).
 * Reading is a (command, parser) pair so a step can batch it with other reads.
 * Writing is atomic: a temp file in the same directory, owner/mode copied from the file it
 * replaces (or set explicitly), an optional validation run on the temp file, then rename.
 * A reader never sees a half-written file, and an interrupted write leaves only a temp file
 * named `.provision-*` that the next write of the same path removes.
 */
import { raw, sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "./transport.ts";
import type { HostSession } from "./host-session.ts";

export interface FileState {
  exists: boolean;
  /** File type as `stat -c %F` prints it: "regular file", "directory", … */
  type?: string;
  owner?: string;
  group?: string;
  /** Octal permission bits, 4 digits ("0644"). */
  mode?: string;
  content?: Buffer;
}

const ABSENT = "provision:absent";

/** Reads existence, owner, group, mode and (for a regular file, unless metaOnly) content. */
export function readFileCommand(path: string, options: { metaOnly?: boolean } = {}): ShellCommand {
  const stat = sh`stat -c '%U %G %04a %F' -- ${path}`;
  const statAndContent = options.metaOnly ? stat : sh`${stat} && if [ -f ${path} ]; then cat -- ${path}; fi`;
  return sh`if [ -e ${path} ] || [ -L ${path} ]; then ${statAndContent}; else echo ${ABSENT}; fi`;
}

export function parseFileState(result: ExecResult, path: string): FileState {
  if (result.exitCode !== 0) {
    throw new Error(`cannot read ${path}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  const newline = result.stdout.indexOf(0x0a);
  const header = result.stdout.subarray(0, newline < 0 ? undefined : newline).toString("utf8");
  if (header === ABSENT) return { exists: false };
  const [owner, group, mode, ...type] = header.split(" ");
  return {
    exists: true,
    owner,
    group,
    mode,
    // GNU stat says "regular empty file" for an empty one: it is a regular file all the same.
    type: type.join(" ") === "regular empty file" ? "regular file" : type.join(" "),
    content: newline < 0 ? Buffer.alloc(0) : result.stdout.subarray(newline + 1),
  };
}

export async function readRemoteFile(session: HostSession, path: string): Promise<FileState> {
  return parseFileState(await session.run(readFileCommand(path)), path);
}

export interface WriteOptions {
  owner?: string;
  group?: string;
  /** Octal string, e.g. "0640". */
  mode?: string;
  /** A command run on the temp file before it replaces the real one; `%s` is the temp path. */
  validate?: string;
  /** Keep the previous content as `<path>.<timestamp>.bak`. */
  backup?: boolean;
}

/** The command that writes stdin to `path` atomically. Exposed for tests and batching. */
export function writeFileCommand(path: string, options: WriteOptions = {}): ShellCommand {
  const slash = path.lastIndexOf("/");
  if (!path.startsWith("/") || slash < 0) throw new Error(`a remote path must be absolute: ${path}`);
  const dir = path.slice(0, slash) || "/";
  const ownership = options.owner || options.group ? `${options.owner ?? ""}${options.group ? `:${options.group}` : ""}` : "";
  const validate = options.validate
    ? raw(`${options.validate.split("%s").join('"$tmp"')} >&2 || { echo "provision: validation failed" >&2; exit 3; }`)
    : raw(":");
  // umask 077 so the temp file is never readable by others before its mode is set.
  return sh`set -e; umask 077; dir=${dir}; path=${path}
rm -f "$dir"/.provision-"$(basename -- "$path")".* 2>/dev/null || true
tmp=$(mktemp "$dir/.provision-$(basename -- "$path").XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
if [ -e "$path" ]; then chown "$(stat -c %u:%g -- "$path")" "$tmp"; chmod "$(stat -c %a -- "$path")" "$tmp"; else chmod 0644 "$tmp"; fi
${ownership ? sh`chown ${ownership} "$tmp"` : raw(":")}
${options.mode ? sh`chmod ${options.mode} "$tmp"` : raw(":")}
${validate}
${options.backup ? raw(`if [ -e "$path" ]; then cp -p -- "$path" "$path.$(date +%Y%m%d%H%M%S).bak"; fi`) : raw(":")}
mv -f -- "$tmp" "$path"
trap - EXIT`;
}

export async function writeRemoteFile(
  session: HostSession,
  path: string,
  content: Buffer | string,
  options: WriteOptions = {},
): Promise<void> {
  await session.check(writeFileCommand(path, options), { stdin: content });
}
