/**
 * command: the user's own shell code, run on the host when its guards say so (Ansible's `shell`
 * with `creates`/`removes`, plus `unless`/`onlyIf` commands as Puppet's exec has them).
 *
 * The command is shell code and is sent AS IS (`/bin/sh -c`, which may be dash): no quoting is
 * added to it. A value interpolated into it must be quoted by the user — build it with the `sh`
 * template and pass the ShellCommand (a plain string is accepted too). A command (or guard) that
 * holds a secret — a Secret through `secretStdin`, or a string holding a known secret's value —
 * reaches the host on stdin, never in argv, and is masked in every output.
 *
 * Guards are the step's read, batched with every other read, so `--check` runs them (they must be
 * reads: a guard that changes the host is the user's bug):
 * - `creates: PATH` — nothing to do when PATH exists (`test -e`: a symlink is followed);
 * - `removes: PATH` — nothing to do when PATH does not exist;
 * - `unless: CMD` — nothing to do when CMD exits 0;
 * - `onlyIf: CMD` — nothing to do when CMD exits non-zero.
 * All given guards must allow the run. A guard command that cannot run at all (exit 126/127: not
 * found, not executable) fails the read rather than deciding anything: a typo must not run the
 * command, nor silently skip it. A command without any guard runs on every apply and is shown as
 * "would run" by `--check` every time (it is never silently skipped).
 *
 * `become` is per host (`--become`, `ansible_become`): the transport runs every command of a host
 * as one user, so a per-step `become` is refused with that message. `becomeUser` runs this
 * command (and its guards) as another user with `runuser`, which needs the host's commands to run
 * as root (login as root, or --become).
 *
 * Output: stdout and stderr are captured; a failing command's error carries its exit code and the
 * last lines of stderr (masked). `successExitCodes` (default `[0]`) are the exits that are not a
 * failure.
 *
 * `changedWhen` (Ansible's changed_when): a predicate on what the run printed and its exit code,
 * `({ stdout, stderr, exitCode }) => boolean`; false reports the step `ok` ("ran, no change") and
 * notifies no handler. Without it a run is a change. It can only be known by running: `--check`
 * still shows the step as "would run" (the summary says changedWhen decides), never as ok. A
 * predicate that throws fails the step (the command has run).
 */
import { z } from "zod";
import { InvalidStepError, ReadFailedError, type ApplyOutcome, type Change, type Step } from "../playbook/step.ts";
import { EVERYTHING, pathResource, type Resource } from "../playbook/resources.ts";
import { isShellCommand, joinCommands, raw, sh, ShellCommand } from "../shell/sh.ts";
import { keyValues, section, sectionLine, sections } from "../shell/read-output.ts";
import { containsSecret, mask } from "../shell/mask.ts";
import { quote } from "../shell/quote.ts";
import { CommandError } from "../transport/host-session.ts";
import type { ExecResult } from "../transport/transport.ts";
import { accountName, parseStepParams } from "./params.ts";

/** Shell code: a string sent as is, or a ShellCommand built with `sh`. */
const shellCode = z.union([
  z
    .string()
    .min(1, "must not be empty")
    .refine((s) => !s.includes("\0"), "must not contain a NUL byte"),
  z.custom<ShellCommand>((v) => isShellCommand(v), "must be a string or a ShellCommand (sh`…`)"),
]);

const guardPath = z
  .string()
  .startsWith("/", "must be an absolute path")
  .refine((p) => !p.includes("\0"), "must not contain a NUL byte");

const commandParams = z.strictObject({
  command: shellCode,
  /** What the report calls the step; default: the command's first line. */
  name: z
    .string()
    .min(1)
    .refine((s) => !s.includes("\n"), "must be one line")
    .optional(),
  creates: guardPath.optional(),
  removes: guardPath.optional(),
  unless: shellCode.optional(),
  onlyIf: shellCode.optional(),
  becomeUser: accountName.optional(),
  timeoutSeconds: z.number().int().min(1).max(86_400).optional(),
  /** What the command may change (resources.ts); default `*`: anything. */
  provides: z.array(z.string().min(1)).optional(),
  /** What the guards depend on; default: the guard paths, or `*` with an unless/onlyIf command. */
  requires: z.array(z.string().min(1)).optional(),
  notify: z.array(z.string()).optional(),
  /** Decides from the run's output whether it changed anything; default: every run is a change. */
  changedWhen: z.custom<(output: CommandOutput) => boolean>((v) => typeof v === "function", "must be a function").optional(),
  /** Exit codes that are not a failure; default [0]. */
  successExitCodes: z.array(z.number().int().min(0).max(255)).min(1).optional(),
});

/** What changedWhen sees of a run (UTF-8 text; stdout and stderr as the command printed them). */
export interface CommandOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export type CommandParams = z.input<typeof commandParams>;

/** What the guards found; a guard not given is undefined. */
export interface CommandGuardState {
  createsExists?: boolean;
  removesExists?: boolean;
  unlessExit?: number;
  onlyIfExit?: number;
}

export function command(input: CommandParams): Step<CommandGuardState> {
  if (typeof input === "object" && input !== null && "become" in input) {
    throw new InvalidStepError(
      "command: invalid parameters: become: become is per host (--become or ansible_become in the inventory): the transport runs every command of a host as one user, so one step cannot switch it. Use becomeUser to run this command as another user (needs root)",
    );
  }
  const p = parseStepParams("command", commandParams, input);
  const asUser = (code: ShellCommand) => (p.becomeUser ? runAs(p.becomeUser, code) : code);
  const run = asUser(toCommand(p.command));
  const unless = p.unless === undefined ? undefined : asUser(toCommand(p.unless));
  const onlyIf = p.onlyIf === undefined ? undefined : asUser(toCommand(p.onlyIf));
  const guarded = p.creates !== undefined || p.removes !== undefined || unless !== undefined || onlyIf !== undefined;
  return {
    kind: "command",
    name: p.name ?? `command ${firstLine(toCommand(p.command).display)}`,
    notify: p.notify,
    provides: p.provides ?? [EVERYTHING],
    requires: p.requires ?? defaultRequires(p.creates, p.removes, unless !== undefined || onlyIf !== undefined),
    read: () => ({
      command: guardCommand(p.creates, p.removes, unless, onlyIf),
      parse: (result) => parseGuards(result, { unless: unless !== undefined, onlyIf: onlyIf !== undefined }),
    }),
    diff(current): Change | null {
      if (current.createsExists === true || current.removesExists === false) return null;
      if (current.unlessExit === 0) return null;
      if (current.onlyIfExit !== undefined && current.onlyIfExit !== 0) return null;
      const why = guarded ? whyRun(p.creates, p.removes, current) : "no guard: runs on every apply";
      return { summary: `run (${why}${p.changedWhen ? "; changedWhen decides whether it changes anything" : ""})` };
    },
    async apply({ session }): Promise<ApplyOutcome | undefined> {
      const result = await session.run(run, p.timeoutSeconds ? { timeoutMs: p.timeoutSeconds * 1000 } : {});
      if (!(p.successExitCodes ?? [0]).includes(result.exitCode)) throw new CommandError(session.host, run.display, result);
      if (!p.changedWhen) return undefined;
      const output = { stdout: result.stdout.toString("utf8"), stderr: result.stderr.toString("utf8"), exitCode: result.exitCode };
      let changed: unknown;
      try {
        changed = p.changedWhen(output);
      } catch (error) {
        throw new Error(`changedWhen threw (the command has run): ${mask(error instanceof Error ? error.message : String(error))}`);
      }
      if (typeof changed !== "boolean") throw new Error(`changedWhen must return a boolean (the command has run), got ${typeof changed}`);
      return changed
        ? { changed: true, summary: `ran (exit ${result.exitCode}; changedWhen: changed)` }
        : { changed: false, summary: `ran (exit ${result.exitCode}; changedWhen: no change)` };
    },
  };
}

/** A user's string is shell code as is; one holding a known secret's value goes on stdin, masked. */
export function toCommand(code: string | ShellCommand): ShellCommand {
  if (isShellCommand(code)) return code;
  return new ShellCommand(code, mask(code), containsSecret(code));
}

/**
 * `printf '%s\n' CODE | runuser -u USER -- sh -s`: the code reaches the other user's shell through
 * a builtin's pipe, so it is in no argv (runuser's or sh's) even when it holds a secret.
 */
export function runAs(user: string, code: ShellCommand): ShellCommand {
  const tail = ` | runuser -u ${quote(user)} -- sh -s`;
  return new ShellCommand(`printf '%s\\n' ${quote(code.text)}${tail}`, `printf '%s\\n' ${quote(code.display)}${tail}`, code.hasSecret);
}

function defaultRequires(creates: string | undefined, removes: string | undefined, commandGuard: boolean): Resource[] {
  // An unless/onlyIf command may look at anything; a path guard only at its path; no guard at nothing.
  if (commandGuard) return [EVERYTHING];
  return [creates, removes].flatMap((path) => (path === undefined ? [] : [pathResource(path)]));
}

/**
 * One read: the path tests, then each guard command in its own subshell (an `exit` in it ends only
 * that), its stdout dropped and its stderr kept for the error of a guard that could not run.
 */
function guardCommand(creates?: string, removes?: string, unless?: ShellCommand, onlyIf?: ShellCommand): ShellCommand {
  const parts: ShellCommand[] = [sh`:`];
  if (creates !== undefined) parts.push(sh`if [ -e ${creates} ]; then echo creates=1; else echo creates=0; fi`);
  if (removes !== undefined) parts.push(sh`if [ -e ${removes} ]; then echo removes=1; else echo removes=0; fi`);
  for (const [label, guard] of [
    ["unless", unless],
    ["onlyIf", onlyIf],
  ] as const) {
    if (!guard) continue;
    // `@provision:unless <exit>`, then the guard's last stderr lines, then `@provision:unless-end`.
    parts.push(sh`err=$( ( ${guard}
) 2>&1 >/dev/null </dev/null ); printf '%s %s\\n' ${raw(sectionLine(label))} "$?"; printf '%s\\n' "$err" | tail -n 5; ${section(`${label}-end`)}`);
  }
  return joinCommands(parts, "\n");
}

export function parseGuards(result: ExecResult, has: { unless: boolean; onlyIf: boolean }): CommandGuardState {
  if (result.exitCode !== 0) {
    throw new ReadFailedError(`cannot check the guards: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  const text = result.stdout.toString("utf8");
  const labels = (["unless", "onlyIf"] as const).filter((label) => has[label]);
  const found = sections(
    text,
    labels.flatMap((label) => [label, `${label}-end`]),
  );
  const flags = keyValues(found.get("")?.body ?? "");
  const state: CommandGuardState = {};
  const created = flags.get("creates");
  const removed = flags.get("removes");
  if (created === "0" || created === "1") state.createsExists = created === "1";
  if (removed === "0" || removed === "1") state.removesExists = removed === "1";
  for (const label of labels) {
    const guard = found.get(label);
    if (!guard || !/^\d+$/.test(guard.value)) throw new ReadFailedError(`the ${label} guard printed no exit code`);
    const exit = Number(guard.value);
    if (exit === 126 || exit === 127) {
      const err = guard.body.trim();
      throw new ReadFailedError(`the ${label} guard could not run (exit ${exit}): ${mask(err || "no error output")}`);
    }
    state[label === "unless" ? "unlessExit" : "onlyIfExit"] = exit;
  }
  return state;
}

function whyRun(creates: string | undefined, removes: string | undefined, s: CommandGuardState): string {
  const why: string[] = [];
  if (creates !== undefined) why.push(`${creates} does not exist`);
  if (removes !== undefined) why.push(`${removes} exists`);
  if (s.unlessExit !== undefined) why.push(`unless exited ${s.unlessExit}`);
  if (s.onlyIfExit !== undefined) why.push(`onlyIf exited 0`);
  return why.join(", ");
}

function firstLine(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > 60 || text.includes("\n") ? `${line.slice(0, 60)} …` : line;
}
