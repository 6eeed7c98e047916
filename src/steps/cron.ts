/**
 * cron: one scheduled job, the way Ansible's `cron` module keeps it — a `#Ansible: <name>` comment
 * line followed by the job line, so jobs Ansible created are recognised and taken over.
 *   - Without `cronFile`: in `user`'s crontab (default root), read with `crontab -l -u` and
 *     replaced whole with `crontab -u <user> -` (stdin), which is how crontab installs atomically.
 *   - With `cronFile` (a name under /etc/cron.d): that file, whose lines carry the user field
 *     (`m h dom mon dow user command`); written atomically like `file`, mode 0644.
 * `state: absent` removes the job (and its comment). Other lines are kept as they are.
 * `special` (@reboot, @daily, …) replaces the five time fields.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { sh, type ShellCommand } from "../shell/sh.ts";
import { parseFileState, readFileCommand, fileWrite, type FileState } from "../transport/remote-file.ts";
import type { ExecResult } from "../transport/transport.ts";
import { accountName } from "./account-name.ts";
import { joinLines, splitLines } from "./line.ts";
import { parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const field = z.string().regex(/^[0-9A-Za-z*/,-]+$/, "must be a cron time field (digits, names, * / , -)");
const oneLine = z.string().refine((v) => !/[\n\r\0]/.test(v), "must be one line (no line break or NUL byte)");

const cronParams = z
  .strictObject({
    name: oneLine.pipe(z.string().min(1)),
    job: oneLine.pipe(z.string().min(1)).optional(),
    minute: field.default("*"),
    hour: field.default("*"),
    day: field.default("*"),
    month: field.default("*"),
    weekday: field.default("*"),
    special: z.enum(["reboot", "yearly", "annually", "monthly", "weekly", "daily", "hourly"]).optional(),
    user: accountName.default("root"),
    cronFile: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, "must be a file name in /etc/cron.d (letters, digits, _ or -: cron skips names with a dot)")
      .optional(),
    state: z.enum(["present", "absent"]).default("present"),
    notify: z.array(z.string()).optional(),
  })
  .refine((p) => p.state === "absent" || p.job !== undefined, "job is required (unless state is absent)");

export type CronParams = z.input<typeof cronParams>;
type Params = z.output<typeof cronParams>;

/** The crontab's or cron.d file's text, and (for a cron.d file) its metadata. */
export interface CronState {
  text: string;
  exists: boolean;
  file?: FileState;
}

export interface CronChange extends Change {
  plan: { text: string };
}

export function cron(input: CronParams): Step<CronState> {
  const p = parseStepParams("cron", cronParams, input);
  const path = p.cronFile ? `/etc/cron.d/${p.cronFile}` : undefined;
  const where = path ?? `crontab of ${p.user}`;
  return {
    kind: "cron",
    name: `cron ${p.name} (${where})${p.state === "absent" ? " absent" : ""}`,
    provides: [path ? pathResource(path) : `cron:user:${p.user}`],
    requires: [path ? pathResource(path) : `cron:user:${p.user}`],
    notify: p.notify,
    read: () =>
      path
        ? { command: readFileCommand(path), parse: (result) => fromFile(parseFileState(result, path), path) }
        : // crontab's "not found" and its 127 go through: the runner words a missing one (requiresTools).
          { command: readCrontabCommand(p.user), requiresTools: ["crontab"], parse: (result) => parseCrontab(result, p.user) },
    diff(current): CronChange | null {
      if (current.file?.exists && current.file.type !== "regular file")
        throw new Error(`${path} is a ${current.file.type}, not a regular file`);
      const text = editCron(current.text, p);
      if (text === current.text) return null;
      const label = path ?? `crontab -u ${p.user}`;
      const summary =
        p.state === "absent"
          ? `remove job ${p.name}`
          : current.text.includes(`#Ansible: ${p.name}\n`)
            ? `update job ${p.name}`
            : `add job ${p.name}`;
      return { summary, diff: { label, before: current.text, after: text }, plan: { text } };
    },
    async apply({ session }, _current, change: CronChange) {
      if (path) {
        const write = fileWrite(path, change.plan.text, { mode: "0644" });
        await session.runOrThrow(write.command, { stdin: write.stdin });
        return;
      }
      await session.runOrThrow(sh`crontab -u ${p.user} -`, { stdin: change.plan.text });
    },
  };
}

/** `crontab -l` exits 1 with "no crontab for <user>" when there is none: that is an empty crontab. */
export function readCrontabCommand(user: string): ShellCommand {
  return sh`out=$(crontab -l -u ${user} 2>&1); rc=$?
if [ "$rc" = 0 ]; then echo present; printf '%s\\n' "$out"; elif printf '%s' "$out" | grep -q '^no crontab for '; then echo absent; else printf '%s\\n' "$out" >&2; exit "$rc"; fi`;
}

export function parseCrontab(result: ExecResult, user: string): CronState {
  if (result.exitCode !== 0)
    throw new ReadFailedError(`cannot read the crontab of ${user}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  const text = result.stdout.toString("utf8");
  if (text.startsWith("absent\n")) return { text: "", exists: false };
  if (!text.startsWith("present\n")) throw new ReadFailedError(`cannot parse the crontab read of ${user}`);
  // $(…) dropped the final line breaks and printf added one: an empty crontab reads as one empty line.
  const body = text.slice("present\n".length);
  return { text: body === "\n" ? "" : body, exists: true };
}

function fromFile(file: FileState, path: string): CronState {
  if (file.exists && file.type !== "regular file") throw new ReadFailedError(`${path} is a ${file.type}, not a regular file`);
  return { text: file.content?.toString("utf8") ?? "", exists: file.exists, file };
}

/** Pure: the crontab text → with the job (after its `#Ansible: name` line) set or removed. */
export function editCron(text: string, p: Params): string {
  const lines = splitLines(text);
  const marker = `#Ansible: ${p.name}`;
  const at = lines.indexOf(marker);
  const job = p.state === "present" ? [marker, jobLine(p)] : [];
  if (at < 0) return job.length ? joinLines([...lines, ...job], text) : text;
  // The marker and the job line after it (when there is one that is not another marker).
  const span = lines[at + 1] !== undefined && !lines[at + 1]?.startsWith("#Ansible: ") ? 2 : 1;
  return joinLines([...lines.slice(0, at), ...job, ...lines.slice(at + span)], text);
}

export function jobLine(p: Params): string {
  const when = p.special ? `@${p.special}` : [p.minute, p.hour, p.day, p.month, p.weekday].join(" ");
  return [when, ...(p.cronFile ? [p.user] : []), p.job].join(" ");
}
