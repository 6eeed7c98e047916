/**
 * Handlers a run owes the host, recorded on the host until they have run.
 *
 * Why: a run cut between a change and its handler (the connection lost, the controller killed, a
 * later step failed) leaves new config that the service has not loaded. The next run finds the
 * config converged, so nothing notifies the handler and the reload never happens: the host looks
 * converged and is not (Ansible has this gap: its handlers die with the run). So, in apply mode,
 * the names of the handlers a step notifies are recorded on the host BEFORE the step is applied,
 * and removed once they have run. A run that finds a record owes those handlers: apply runs them
 * (under the host lock), check reports them as "would run" — drift, exit 2.
 *
 * Where: one file per playbook (handler names belong to a playbook), one name per line, under
 * /var/lib/provision/pending-handlers as root (it must outlive a reboot: a handler may be a
 * `postmap` or `newaliases` that booting does not redo), else under the login user's
 * ${XDG_STATE_HOME:-$HOME/.local/state}/provision/pending-handlers.
 *
 * Cost: nothing in a converged run (the read is a shell test in the batch of step reads); in a run
 * whose steps notify, one round trip to record before the first such step, and the removal travels
 * with the lock release at the end.
 */
import { scriptHeader } from "../shell/script-header.ts";
import { raw, sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";

/** The record's file name: the playbook name with anything but [A-Za-z0-9_-] as %XX. */
export function pendingFileName(playbook: string): string {
  return Buffer.from(playbook, "utf8").reduce(
    (name, byte) =>
      name +
      (/[A-Za-z0-9_-]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`),
    "",
  );
}

/** Shell that sets $f to the record's path for this playbook (root or not: chosen by the uid). */
function recordPath(playbook: string, uid: number): ShellCommand {
  const dir =
    uid === 0
      ? sh`d=/var/lib/provision/pending-handlers`
      : raw(`d="\${XDG_STATE_HOME:-\${HOME:-/nonexistent}/.local/state}/provision/pending-handlers"`);
  return sh`${dir}; f="$d"/${pendingFileName(playbook)}`;
}

/** Prints the owed handler names, one per line (nothing when none: no process is spawned then). */
export function readPendingCommand(playbook: string, uid: number): ShellCommand {
  return sh`${scriptHeader("pending-handlers read", { file: pendingFileName(playbook) })}
${recordPath(playbook, uid)}
if [ -f "$f" ]; then cat -- "$f"; fi`;
}

export function parsePending(result: ExecResult): string[] {
  if (result.exitCode !== 0) throw new Error(`cannot read the pending handlers record (exit ${result.exitCode})`);
  return [
    ...new Set(
      result.stdout
        .toString("utf8")
        .split("\n")
        .filter((line) => line.length > 0),
    ),
  ];
}

/** Adds names to the record (a new file renamed into place: a reader never sees half of it). */
export function recordPendingCommand(playbook: string, uid: number, names: readonly string[]): ShellCommand {
  const lines = names.map((name) => `${oneLine(name)}\n`).join("");
  return sh`${scriptHeader("pending-handlers record", { file: pendingFileName(playbook), names: names.map(oneLine) })}
${recordPath(playbook, uid)}
mkdir -p -- "$d" && { if [ -f "$f" ]; then cat -- "$f"; fi; printf '%s' ${lines}; } | sort -u > "$f.new" && mv -f -- "$f.new" "$f"`;
}

/** Leaves exactly `owed` in the record (removes it when nothing is owed any more). */
export function settlePendingCommand(playbook: string, uid: number, owed: readonly string[]): ShellCommand {
  const lines = owed.map((name) => `${oneLine(name)}\n`).join("");
  return owed.length === 0
    ? sh`${scriptHeader("pending-handlers settle", { file: pendingFileName(playbook), owed: owed.map(oneLine) })}
${recordPath(playbook, uid)}
rm -f -- "$f"`
    : sh`${scriptHeader("pending-handlers settle", { file: pendingFileName(playbook), owed: owed.map(oneLine) })}
${recordPath(playbook, uid)}
printf '%s' ${lines} > "$f.new" && mv -f -- "$f.new" "$f"`;
}

/** Handler names are object keys a playbook chose; a line break would split one into two. */
function oneLine(name: string): string {
  return name.replace(/[\r\n]/g, " ");
}
