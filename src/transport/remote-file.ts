/**
 * Files on the host, built on exec alone (so every transport has them).
 * Reading is a (command, parser) pair so a step can batch it with other reads.
 * Writing is atomic AND verified: the content goes to a temp file in the same directory, and
 * replaces the real file only once the host has checked that it received every byte — the length
 * and the sha256 the controller computed travel as the first line of stdin, ahead of the content
 * (one round trip; not in the command: a digest of secret-bearing content in argv, where `ps`
 * shows it to every user, would let a low-entropy secret be guessed offline). Without
 * that check, input cut short (the controller killed, Ctrl-C, the network gone: `cat` just sees
 * end-of-input) would be renamed over the real file, truncated. Owner/mode are copied from the file
 * it replaces (or set explicitly), an optional validation runs on the temp file, then rename. A
 * reader never sees a half-written file; an interrupted write leaves at most a temp file
 * (`.provision-<name prefix>.<hash of the name>.XXXXXX`, bounded length) that the next write of the
 * same path removes.
 */
import { createHash } from "node:crypto";
import { raw, sh, type ShellCommand } from "../shell/sh.ts";
import { section, sectionLine, sectionValue } from "../shell/read-output.ts";
import { scriptHeader } from "../shell/script-header.ts";
import { isSecret, type Secret } from "../shell/secret.ts";
import type { ExecResult } from "./transport.ts";
import { CommandError, type HostSession } from "./host-session.ts";
import { HostUnchangedError } from "../playbook/step.ts";

export interface FileState {
  exists: boolean;
  /** File type as `stat -c %F` prints it: "regular file", "directory", … */
  type?: string;
  owner?: string;
  group?: string;
  /** Octal permission bits, 4 digits ("0644"). */
  mode?: string;
  /** The content, unless the read asked for a digest of a file larger than its `contentLimit`. */
  content?: Buffer;
  /** Set instead of `content` when the file was larger than the read's `contentLimit`. */
  digest?: { size: number; sha256: string };
}

// The read's sections (src/shell/read-output.ts): `@provision:absent`, or `@provision:digest
// <size> <sha256>` / `@provision:no-digest-tool` first, then the stat line, then the content.
const ABSENT = "absent";
const DIGEST = "digest";
const NO_DIGEST_TOOL = "no-digest-tool";

/**
 * The header names of these commands (`# provision-file read v1 {"path":…}`, src/shell/script-header.ts):
 * a comment to the shell, the read's or write's arguments to a reader of `-vv` and to the mock host,
 * which answers them from its file store by these arguments, never by the shell text. A write's
 * header holds path, owner, group and mode as given: never the content or its digest.
 */
export const FILE_READ_SCRIPT = "file read";
export const FILE_WRITE_SCRIPT = "file write";
/** A write of content made on the host (a download piped in): the mock cannot know its content. */
export const PIPED_FILE_WRITE_SCRIPT = "file write-piped";

/**
 * Shell: `sum=$(…)` with the sha256 (hex, first word) of stdin. sha256sum is in coreutils and
 * busybox; `openssl dgst -r` is the fallback. A host with neither returns 1 (callers then refuse
 * with a clear error: there is no safe way to verify a write there).
 */
const SHA256_OF_STDIN = raw(
  `if command -v sha256sum >/dev/null 2>&1; then sum=$(sha256sum); elif command -v openssl >/dev/null 2>&1; then sum=$(openssl dgst -sha256 -r); else false; fi`,
);

export interface ReadOptions {
  /** Only owner, group, mode and type. */
  metaOnly?: boolean;
  /**
   * A regular file larger than this many bytes is not sent back: its size and sha256 are (see
   * FileState.digest). Default: always the content. For huge or binary files, so neither side
   * holds two copies of a gigabyte.
   */
  contentLimit?: number;
}

/**
 * Reads existence, owner, group, mode and (for a regular file, unless metaOnly) content. The
 * header line comes first: a caller that joins this read after other shell (`echo …; read`)
 * keeps a valid script, since the comment ends at its newline.
 */
export function readFileCommand(path: string, options: ReadOptions = {}): ShellCommand {
  const limit = options.metaOnly || options.contentLimit === undefined ? undefined : Math.max(0, Math.floor(options.contentLimit));
  const header = scriptHeader(FILE_READ_SCRIPT, {
    path,
    metaOnly: Boolean(options.metaOnly),
    ...(limit === undefined ? {} : { contentLimit: limit }),
  });
  const stat = sh`stat -c '%U %G %04a %F' -- ${path}`;
  if (limit === undefined) {
    const statAndContent = options.metaOnly ? stat : sh`${stat} && if [ -f ${path} ]; then cat -- ${path}; fi`;
    return sh`${header}
if [ -e ${path} ] || [ -L ${path} ]; then ${statAndContent}; else ${section(ABSENT)}; fi`;
  }
  // The digest line comes FIRST, so it can never be mistaken for content (a stat line cannot
  // start with "@provision:": user names hold no ':').
  return sh`${header}
if [ -e ${path} ] || [ -L ${path} ]; then if [ -f ${path} ] && s=$(stat -c %s -- ${path}) && [ "$s" -gt ${limit} ]; then if ${SHA256_OF_STDIN} < ${path}; then printf '%s %s %s\\n' ${raw(sectionLine(DIGEST))} "$s" "\${sum%% *}"; else ${section(NO_DIGEST_TOOL)}; fi && ${stat}; else ${stat} && if [ -f ${path} ]; then cat -- ${path}; fi; fi; else ${section(ABSENT)}; fi`;
}

/** The output's first line (up to its newline), and what follows it: bytes, since content may be binary. */
function splitFirstLine(buffer: Buffer): { line: string; rest: Buffer | undefined } {
  const newline = buffer.indexOf(0x0a);
  return {
    line: buffer.subarray(0, newline < 0 ? undefined : newline).toString("utf8"),
    rest: newline < 0 ? undefined : buffer.subarray(newline + 1),
  };
}

export function parseFileState(result: ExecResult, path: string): FileState {
  if (result.exitCode !== 0) {
    throw new Error(`cannot read ${path}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  let first = splitFirstLine(result.stdout);
  let digest: FileState["digest"];
  if (sectionValue(first.line, NO_DIGEST_TOOL) !== undefined) {
    throw new Error(`cannot compare ${path}: the host has neither sha256sum nor openssl (install coreutils or openssl)`);
  }
  const digestValue = sectionValue(first.line, DIGEST);
  if (digestValue !== undefined) {
    const [size, sha256] = digestValue.split(" ");
    digest = { size: Number(size), sha256: sha256 ?? "" };
    first = splitFirstLine(first.rest ?? Buffer.alloc(0));
  }
  if (sectionValue(first.line, ABSENT) !== undefined) return { exists: false };
  const [owner, group, mode, ...type] = first.line.split(" ");
  return {
    exists: true,
    owner,
    group,
    mode,
    // GNU stat says "regular empty file" for an empty one: it is a regular file all the same.
    type: type.join(" ") === "regular empty file" ? "regular file" : type.join(" "),
    ...(digest ? { digest } : { content: first.rest ?? Buffer.alloc(0) }),
  };
}

export async function readRemoteFile(session: HostSession, path: string, options: ReadOptions = {}): Promise<FileState> {
  return parseFileState(await session.run(readFileCommand(path, options)), path);
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

/** Exit code of a write whose content did not arrive whole (or could not be verified). */
export const WRITE_UNVERIFIED_EXIT = 4;
/** Exit code of a write whose validation command refused the temp file. */
export const WRITE_VALIDATION_FAILED_EXIT = 3;

/**
 * Run one write (fileWrite) as a step's whole apply: a write refused before its rename (validation
 * failed, content cut short) left the file as it was, so it fails as HostUnchangedError.
 */
export async function runFileWrite(session: HostSession, write: FileWrite): Promise<void> {
  try {
    await session.runOrThrow(write.command, { stdin: write.stdin });
  } catch (error) {
    const code = error instanceof CommandError ? error.result.exitCode : undefined;
    if (code === WRITE_VALIDATION_FAILED_EXIT || code === WRITE_UNVERIFIED_EXIT) throw new HostUnchangedError((error as Error).message);
    throw error;
  }
}

/** Longest part of the file name kept in the temp file's name (bytes), for people reading `ls -a`. */
const TEMP_NAME_PREFIX_BYTES = 32;

/**
 * The temp file's stem for `name`: `.provision-<up to 32 bytes of name>.<12 hex of sha256(name)>`,
 * at most 11 + 32 + 1 + 12 = 56 bytes (+ `.XXXXXX`), so any file name up to NAME_MAX (255) can be
 * written. The hash makes it unique per name: the cleanup glob of one path never matches the temp
 * files of another path in the same directory (`a` vs `a.b`).
 */
export function tempStem(name: string): string {
  let prefix = "";
  for (const char of name) {
    if (Buffer.byteLength(prefix + char) > TEMP_NAME_PREFIX_BYTES) break;
    prefix += char;
  }
  return `.provision-${prefix}.${createHash("sha256").update(name).digest("hex").slice(0, 12)}`;
}

/** A verified atomic write: the command, and the stdin to send with it. */
export interface FileWrite {
  command: ShellCommand;
  /** `<length> <sha256>\n`, then the content (two parts, never joined): the host checks the content against that line. */
  stdin: readonly Buffer[];
}

/** The first line of a write's stdin: what the host must have received before the rename. */
export function writeHeader(content: Buffer): Buffer {
  return Buffer.from(`${content.length} ${createHash("sha256").update(content).digest("hex")}\n`);
}

/**
 * Write `content` to `path` atomically: send `command` with `stdin` (as writeRemoteFile does; a
 * caller may join the command with others, e.g. a mkdir before it). The shell's `read` takes the
 * header line byte by byte (POSIX, for pipes), so `cat` gets exactly the content after it.
 */
export function fileWrite(path: string, content: Buffer | string | Secret, options: WriteOptions = {}): FileWrite {
  // Never a copy of a big Buffer (a 1 GiB file is held once).
  const bytes = isSecret(content) ? Buffer.from(content.reveal()) : Buffer.isBuffer(content) ? content : Buffer.from(content);
  const fail = raw(`exit ${WRITE_UNVERIFIED_EXIT}`);
  const verify = sh`want_size=; want_sum=; IFS=' ' read -r want_size want_sum || :
cat > "$tmp"
size=$(wc -c < "$tmp" | tr -d ' ')
if [ -z "$want_sum" ] || [ "$size" != "$want_size" ]; then echo "provision: $path left unchanged: received $size of \${want_size:-?} bytes (the input was cut short)" >&2; ${fail}; fi
${checkSum(sh`${raw('"$want_sum"')}`)}`;
  return { command: writeScript(FILE_WRITE_SCRIPT, path, options, verify), stdin: [writeHeader(bytes), bytes] };
}

/**
 * The atomic write of content made on the host and piped in (a download: `curl … | { write }`),
 * verified against a sha256 the user gave (public: it is not derived from a secret). No length
 * is known beforehand; the digest covers a cut as well as corruption.
 */
export function pipedFileWrite(path: string, sha256: string, options: WriteOptions = {}): ShellCommand {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256 (64 lower-case hex digits): ${sha256}`);
  return writeScript(
    PIPED_FILE_WRITE_SCRIPT,
    path,
    options,
    sh`cat > "$tmp"
${checkSum(sh`${sha256}`)}`,
  );
}

/**
 * The temp file (0600 under umask 077) takes the replaced file's owner, and the mode asked for —
 * set directly, never the old mode first: a new private key must not be world-readable for a
 * moment because the file it replaces was (or because a new file defaults to 0644).
 */
function keepOwnerAndMode(mode: string | undefined): ShellCommand {
  if (mode)
    return sh`if [ -e "$path" ]; then chown -- "$(stat -c %u:%g -- "$path")" "$tmp"; fi
chmod -- ${mode} "$tmp"`;
  return sh`${raw(`if [ -e "$path" ]; then chown -- "$(stat -c %u:%g -- "$path")" "$tmp"; chmod -- "$(stat -c %a -- "$path")" "$tmp"; else chmod 0644 "$tmp"; fi`)}`;
}

/** Compare the temp file's sha256 with `expected` (a shell word); exit 4 when it differs or cannot be computed. */
function checkSum(expected: ShellCommand): ShellCommand {
  const fail = raw(`exit ${WRITE_UNVERIFIED_EXIT}`);
  return sh`if ! ${SHA256_OF_STDIN} < "$tmp"; then echo "provision: $path left unchanged: cannot verify what arrived (the host has neither sha256sum nor openssl)" >&2; ${fail}; fi
if [ "\${sum%% *}" != ${expected} ]; then echo "provision: $path left unchanged: the content arrived corrupted (sha256 differs)" >&2; ${fail}; fi`;
}

/**
 * umask 077 so the temp file is never readable by others before its mode is set. `receive` fills
 * "$tmp" and verifies it before anything else touches it: a short or corrupt one never replaces
 * the real file (the EXIT trap removes it).
 */
function writeScript(name: string, path: string, options: WriteOptions, receive: ShellCommand): ShellCommand {
  const slash = path.lastIndexOf("/");
  if (!path.startsWith("/") || slash < 0) throw new Error(`a remote path must be absolute: ${path}`);
  const dir = path.slice(0, slash) || "/";
  const stem = tempStem(path.slice(slash + 1));
  const ownership = options.owner || options.group ? `${options.owner ?? ""}${options.group ? `:${options.group}` : ""}` : "";
  const validate = options.validate
    ? raw(
        `${options.validate.split("%s").join('"$tmp"')} >&2 || { echo "provision: validation failed" >&2; exit ${WRITE_VALIDATION_FAILED_EXIT}; }`,
      )
    : raw(":");
  const header = scriptHeader(name, { path, owner: options.owner, group: options.group, mode: options.mode });
  return sh`${header}
set -e; umask 077; dir=${dir}; path=${path}
rm -f "$dir"/${stem}.* 2>/dev/null || true
tmp=$(mktemp "$dir"/${stem}.XXXXXX)
trap 'rm -f "$tmp"' EXIT
${receive}
${keepOwnerAndMode(options.mode)}
${ownership ? sh`chown -- ${ownership} "$tmp"` : raw(":")}
${validate}
${options.backup ? raw(`if [ -e "$path" ]; then cp -p -- "$path" "$path.$(date +%Y%m%d%H%M%S).bak"; fi`) : raw(":")}
mv -f -- "$tmp" "$path"
trap - EXIT`;
}

export async function writeRemoteFile(
  session: HostSession,
  path: string,
  content: Buffer | string | Secret,
  options: WriteOptions = {},
): Promise<void> {
  const write = fileWrite(path, content, options);
  await session.runOrThrow(write.command, { stdin: write.stdin });
}
