/**
 * authorizedKey: SSH public keys in a user's authorized_keys (Ansible's `authorized_key`).
 *   - A key is identified by its type and base64 blob: the same key with other options or another
 *     comment is updated in place, not added twice; duplicate lines of it are removed.
 *   - `options` (e.g. `no-pty,from="10.0.0.0/8"`) replaces the options written in `key`.
 *   - `exclusive: true`: every other key line is removed (comments and blank lines are kept).
 *   - `state: absent`: the key's lines are removed.
 * The file is `~user/.ssh/authorized_keys` (home from the passwd entry) unless `path` is given;
 * `.ssh` is created 0700 owned by the user when missing, a new file 0600 owned by the user (an
 * existing file keeps its owner and mode). A missing user or home is a read error (in check mode,
 * after a pending `user` step: unknown). The file is edited here by a pure function and written
 * atomically.
 */
import { z } from "zod";
import { InvalidStepError, ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import { parseFileState, readFileCommand, fileWrite, type FileState } from "../transport/remote-file.ts";
import type { ExecResult } from "../transport/transport.ts";
import { accountName } from "./account-name.ts";
import { metadataCommand } from "./file.ts";
import { joinLines, splitLines } from "./line.ts";
import { filePath, parseStepParams } from "./params.ts";
import { keyValues } from "./user.ts";
import { accountResource, pathResource } from "../playbook/resources.ts";

const oneLine = (what: string) => z.string().refine((v) => !/[\n\r\0]/.test(v), `${what} must be one line (no line break or NUL byte)`);

const authorizedKeyParams = z.strictObject({
  user: accountName,
  /** One or more public keys, one per line, as in authorized_keys: `[options] type base64 [comment]`. */
  key: z.string().min(1),
  options: oneLine("options").optional(),
  exclusive: z.boolean().default(false),
  state: z.enum(["present", "absent"]).default("present"),
  path: filePath.optional(),
  notify: z.array(z.string()).optional(),
});

export type AuthorizedKeyParams = z.input<typeof authorizedKeyParams>;

export interface PublicKey {
  options: string;
  type: string;
  blob: string;
  comment: string;
}

export interface AuthorizedKeysState {
  home: string;
  group: string;
  dir: FileState;
  file: FileState;
}

export interface AuthorizedKeyChange extends Change {
  plan: {
    /** The file to write, and its new text. */
    path: string;
    text: string;
    /** `.ssh` to create first (0700, owned by the user and this group), or null. */
    createDir: { path: string; group: string } | null;
    /** A new file's owner, group and mode; an existing file keeps its own ({}). */
    created: { owner?: string; group?: string; mode?: string };
  };
}

export function authorizedKey(input: AuthorizedKeyParams): Step<AuthorizedKeysState> {
  const p = parseStepParams("authorizedKey", authorizedKeyParams, input);
  const keys = desiredKeys(p.key, p.options);
  const relative = p.path ?? ".ssh/authorized_keys";
  const dir = relative.slice(0, relative.lastIndexOf("/")) || "/";
  return {
    kind: "authorized-key",
    name: `authorized key${keys.length > 1 ? "s" : ""} of ${p.user}: ${keys.map(describeKey).join(", ")}${p.state === "absent" ? " absent" : ""}`,
    notify: p.notify,
    // The user's keys (its home's authorized_keys, or `path`), read through its account: home and group.
    provides: [accountResource("user", p.user, "keys"), ...(p.path?.startsWith("/") ? [pathResource(p.path)] : [])],
    requires: [
      accountResource("user", p.user, "exists"),
      accountResource("user", p.user, "home"),
      accountResource("user", p.user, "gid"),
      accountResource("user", p.user, "keys"),
      ...(p.path?.startsWith("/") ? [pathResource(p.path)] : []),
    ],
    read: () => ({
      command: readAuthorizedKeysCommand(p.user, dir, relative),
      parse: (result) => parseAuthorizedKeys(result, p.user),
    }),
    diff(current): AuthorizedKeyChange | null {
      const file = current.file;
      if (file.exists && file.type !== "regular file") throw new Error(`${absolute(current)} is a ${file.type}, not a regular file`);
      const before = file.content?.toString("utf8") ?? "";
      const edit = editAuthorizedKeys(before, keys, p);
      if (edit.text === before && (file.exists || p.state === "absent")) return null;
      if (!file.exists && p.state === "absent") return null;
      return {
        summary: edit.changes.join(", "),
        diff: { label: absolute(current), before, after: edit.text },
        plan: {
          path: absolute(current),
          text: edit.text,
          createDir: !current.dir.exists && p.path === undefined ? { path: `${current.home}/.ssh`, group: current.group } : null,
          created: current.file.exists ? {} : { owner: p.user, group: current.group, mode: "0600" },
        },
      };
    },
    async apply({ session }, _current, change: AuthorizedKeyChange) {
      const { plan } = change;
      const commands: ShellCommand[] = [];
      if (plan.createDir) {
        commands.push(
          sh`{ mkdir -m 0700 -- ${plan.createDir.path} && ${metadataCommand(plan.createDir.path, p.user, plan.createDir.group)}; } || exit 1`,
        );
      }
      // The atomic write is a `set -e` script: at the top level (in an && list set -e is ignored).
      const write = fileWrite(plan.path, plan.text, plan.created);
      commands.push(write.command);
      await session.runOrThrow(joinCommands(commands, "\n"), { stdin: write.stdin });
    },
  };

  function absolute(current: AuthorizedKeysState): string {
    return p.path ?? `${current.home.replace(/\/$/, "")}/${relative}`;
  }
}

/**
 * home, primary group, then the .ssh directory's and the file's states as remote-file reads them
 * (relative paths are read from the home directory; an absolute `path` as is).
 */
export function readAuthorizedKeysCommand(user: string, dir: string, file: string): ShellCommand {
  return sh`u=${user}
pw=$(getent passwd -- "$u") || { echo "no user $u" >&2; exit 4; }
home=$(printf '%s\\n' "$pw" | cut -d: -f6)
printf 'home=%s\\n' "$home"
printf 'group=%s\\n' "$(id -gn -- "$u")"
cd -- "$home" 2>/dev/null || { echo "the home directory $home of $u does not exist" >&2; exit 4; }
${readFileCommand(dir, { metaOnly: true })}
${readFileCommand(file)}`;
}

export function parseAuthorizedKeys(result: ExecResult, user: string): AuthorizedKeysState {
  if (result.exitCode !== 0) {
    throw new ReadFailedError(
      `cannot read the authorized keys of ${user}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`,
    );
  }
  const out = result.stdout;
  const ends: number[] = [];
  for (let at = -1, i = 0; i < 3; i += 1) {
    at = out.indexOf(0x0a, at + 1);
    if (at < 0) throw new ReadFailedError(`cannot parse the authorized keys read of ${user}`);
    ends.push(at);
  }
  const v = keyValues(out.subarray(0, ends[1]).toString("utf8"));
  const [home, group] = [v.get("home"), v.get("group")];
  if (!home || !group) throw new ReadFailedError(`cannot parse the authorized keys read of ${user}`);
  const part = (stdout: Buffer) => ({ ...result, stdout });
  return {
    home,
    group,
    dir: parseFileState(part(out.subarray((ends[1] as number) + 1, (ends[2] as number) + 1)), "~/.ssh"),
    file: parseFileState(part(out.subarray((ends[2] as number) + 1)), "authorized_keys"),
  };
}

const KEY_TYPE = /^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9-]+@openssh\.com|ssh-[a-z0-9-]+-cert-v01@openssh\.com)$/;
const BLOB = /^[A-Za-z0-9+/]+={0,2}$/;

/** Pure: one authorized_keys line → the key, or null for a blank line, a comment or no key. */
export function parseKeyLine(line: string): PublicKey | null {
  const text = line.trim();
  if (text === "" || text.startsWith("#")) return null;
  let options = "";
  let rest = text;
  if (!KEY_TYPE.test(text.split(/\s+/)[0] ?? "")) {
    const end = endOfOptions(text);
    options = text.slice(0, end);
    rest = text.slice(end).trimStart();
  }
  const [type, blob, ...comment] = rest.split(/\s+/);
  if (!type || !blob || !KEY_TYPE.test(type) || !BLOB.test(blob)) return null;
  return { options, type, blob, comment: comment.join(" ") };
}

/** Where the options field ends: the first white space outside double quotes (\" escapes a quote). */
function endOfOptions(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === "\\" && quoted) i += 1;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && /\s/.test(c as string)) return i;
  }
  return text.length;
}

export function formatKey(key: PublicKey): string {
  return [key.options, key.type, key.blob, key.comment].filter(Boolean).join(" ");
}

function desiredKeys(text: string, options: string | undefined): PublicKey[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
  const keys = lines.map((l) => {
    const key = parseKeyLine(l);
    if (!key)
      throw new InvalidStepError(`authorizedKey: invalid parameters: key: not a public key line: ${JSON.stringify(l.slice(0, 60))}`);
    return options === undefined ? key : { ...key, options: options.trim() };
  });
  if (keys.length === 0) throw new InvalidStepError("authorizedKey: invalid parameters: key: no public key given");
  if (options !== undefined && options.trim() !== "" && endOfOptions(options.trim()) !== options.trim().length) {
    throw new InvalidStepError("authorizedKey: invalid parameters: options: white space outside double quotes");
  }
  return keys;
}

export function describeKey(key: PublicKey): string {
  return key.comment || `${key.type} …${key.blob.slice(-8)}`;
}

/**
 * Pure: the file's text → the new text and what changed. Lines that are not keys are kept. Each
 * desired key stays where its first copy is (updated if its options or comment differ), or is
 * appended; its other copies go; with `exclusive` so does every other key.
 */
export function editAuthorizedKeys(
  text: string,
  keys: readonly PublicKey[],
  how: { exclusive: boolean; state: "present" | "absent" },
): { text: string; changes: string[] } {
  const id = (k: PublicKey) => `${k.type} ${k.blob}`;
  const wanted = new Map(keys.map((k) => [id(k), k]));
  const seen = new Set<string>();
  const changes: string[] = [];
  let others = 0;
  const result: string[] = [];
  for (const line of splitLines(text)) {
    const key = parseKeyLine(line);
    const want = key && wanted.get(id(key));
    if (!key) result.push(line);
    else if (!want) {
      if (how.exclusive && how.state === "present") others += 1;
      else result.push(line);
    } else if (how.state === "absent") changes.push(`remove ${describeKey(want)}`);
    else if (seen.has(id(key))) changes.push(`remove duplicate of ${describeKey(want)}`);
    else {
      seen.add(id(key));
      if (line !== formatKey(want)) changes.push(`update ${describeKey(want)}${key.options !== want.options ? " (options)" : ""}`);
      result.push(formatKey(want));
    }
  }
  if (how.state === "present") {
    for (const key of keys) {
      if (seen.has(id(key))) continue;
      seen.add(id(key));
      result.push(formatKey(key));
      changes.push(`add ${describeKey(key)}`);
    }
  }
  if (others > 0) changes.push(`remove ${others} other key${others > 1 ? "s" : ""}`);
  return { text: joinLines(result, text), changes };
}
