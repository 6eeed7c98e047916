/**
 * systemdUnit: a unit file in /etc/systemd/system (or, with `dropIn`, a drop-in
 * /etc/systemd/system/<unit>.d/<dropIn>.conf overriding a packaged unit), then ONE
 * `systemctl daemon-reload` when it changed, then enabled/started as asked. Like Ansible's
 * `copy` + `systemd_service: daemon_reload=yes`. A changed unit is not restarted by itself (as in
 * Ansible): notify a `restartService` handler for that.
 * systemd's own `NeedDaemonReload=yes` is drift too: a run cut between writing the file and the
 * reload is finished by the next run.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import { parseFileState, readFileCommand, fileWrite, type FileState } from "../transport/remote-file.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";
import { keyValues } from "./user.ts";
import { section, sectionLine } from "../shell/read-output.ts";
import { pathResource } from "../playbook/resources.ts";

const UNIT_TYPES = "service|socket|timer|path|mount|automount|target|slice|scope|swap|device";

const systemdUnitParams = z.strictObject({
  name: z.string().regex(new RegExp(`^[A-Za-z0-9][A-Za-z0-9@._:\\\\-]*\\.(${UNIT_TYPES})$`), "must be a unit name like app.service"),
  content: z.string(),
  /** Write a drop-in named this (without .conf) instead of the unit file itself. */
  dropIn: z
    .string()
    .regex(/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/, "must be a drop-in name like override")
    .optional(),
  state: z.enum(["running", "stopped"]).optional(),
  enabled: z.boolean().optional(),
  notify: z.array(z.string()).optional(),
});

export type SystemdUnitParams = z.input<typeof systemdUnitParams>;

export interface SystemdUnitState {
  load: string;
  running: boolean;
  /** is-enabled: true/false, null for static/indirect/generated (not ours to switch). */
  enabled: boolean | null;
  needReload: boolean;
  file: FileState;
}

export interface SystemdUnitPlan {
  write: boolean;
  reload: boolean;
  unmask: boolean;
  enable: boolean;
  disable: boolean;
  start: boolean;
  stop: boolean;
}

export interface SystemdUnitChange extends Change {
  plan: SystemdUnitPlan;
}

// Long: a step factory: read, diff and apply share the parsed parameters in one closure.
export function systemdUnit(input: SystemdUnitParams): Step<SystemdUnitState> {
  const p = parseStepParams("systemdUnit", systemdUnitParams, input);
  const path = p.dropIn ? `/etc/systemd/system/${p.name}.d/${p.dropIn}.conf` : `/etc/systemd/system/${p.name}`;
  const content = Buffer.from(p.content);
  return {
    kind: "systemd-unit",
    name: `systemd unit ${p.name}${p.dropIn ? ` (drop-in ${p.dropIn})` : ""}`,
    provides: [pathResource(path), `service:${p.name}`],
    requires: [pathResource(path), `service:${p.name}`],
    notify: p.notify,
    read: () => ({ command: readUnitCommand(p.name, path), parse: (result) => parseUnitState(result, p.name, path) }),
    diff(current): SystemdUnitChange | null {
      if (current.file.exists && current.file.type !== "regular file")
        throw new Error(`${path} is a ${current.file.type}, not a regular file`);
      const write = !current.file.exists || !current.file.content?.equals(content);
      const masked = current.load === "masked";
      const plan: SystemdUnitPlan = {
        write,
        reload: write || current.needReload,
        unmask: masked && (p.enabled === true || p.state === "running"),
        enable: p.enabled === true && current.enabled !== true,
        disable: p.enabled === false && current.enabled === true,
        start: p.state === "running" && !current.running,
        stop: p.state === "stopped" && current.running,
      };
      const parts = [
        ...(write ? [current.file.exists ? `${path}: content` : `create ${path}`] : []),
        ...(plan.reload ? ["daemon-reload"] : []),
        ...(plan.unmask ? ["unmask"] : []),
        ...(plan.enable ? ["enable"] : []),
        ...(plan.disable ? ["disable"] : []),
        ...(plan.start ? ["start"] : []),
        ...(plan.stop ? ["stop"] : []),
      ];
      if (parts.length === 0) return null;
      return {
        summary: parts.join(", "),
        ...(write ? { diff: { label: path, before: current.file.content?.toString("utf8") ?? "", after: p.content } } : {}),
        plan,
      };
    },
    async apply({ session }, _current, change: SystemdUnitChange) {
      const { plan } = change;
      const n = p.name;
      const after: ShellCommand[] = [];
      if (plan.reload) after.push(sh`systemctl daemon-reload`);
      if (plan.unmask) after.push(sh`systemctl unmask -- ${n}`);
      if (plan.enable) after.push(sh`systemctl enable -- ${n}`);
      if (plan.disable) after.push(sh`systemctl disable -- ${n}`);
      if (plan.start) after.push(sh`systemctl start -- ${n}`);
      if (plan.stop) after.push(sh`systemctl stop -- ${n}`);
      const rest = joinCommands(after, " && ");
      if (!plan.write) {
        await session.runOrThrow(rest);
        return;
      }
      // The atomic write is a `set -e` script: it runs at the top level (inside an && list set -e
      // would be ignored), and what follows runs only when it succeeded.
      const dir = path.slice(0, path.lastIndexOf("/"));
      const write = fileWrite(path, content, { mode: "0644" });
      const script = [...(p.dropIn ? [sh`mkdir -p -- ${dir} || exit 1`] : []), write.command, ...(after.length ? [rest] : [])];
      await session.runOrThrow(joinCommands(script, "\n"), { stdin: write.stdin });
    },
  };
}

/** The kit's section line before the unit file's read (src/shell/read-output.ts). */
const FILE_SECTION = "unit-file";
const FILE_MARK = sectionLine(FILE_SECTION);

export function readUnitCommand(unit: string, path: string): ShellCommand {
  return sh`systemctl show -p LoadState -p ActiveState -p NeedDaemonReload -- ${unit}
echo "enabled=$(systemctl is-enabled -- ${unit} 2>/dev/null)"
${section(FILE_SECTION)}
${readFileCommand(path)}`;
}

export function parseUnitState(result: ExecResult, unit: string, path: string): SystemdUnitState {
  const mark = result.stdout.indexOf(`${FILE_MARK}\n`);
  if (mark < 0)
    throw new ReadFailedError(`cannot read unit ${unit}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  const v = keyValues(result.stdout.subarray(0, mark).toString("utf8"));
  const load = v.get("LoadState");
  if (!load) throw new ReadFailedError(`systemctl show failed for ${unit}: ${result.stderr.toString("utf8").trim()}`);
  const enabled = v.get("enabled") ?? "";
  return {
    load,
    running: ["active", "reloading", "activating"].includes(v.get("ActiveState") ?? ""),
    enabled: ["enabled", "enabled-runtime"].includes(enabled)
      ? true
      : ["disabled", "masked", "masked-runtime", "linked", "linked-runtime", ""].includes(enabled)
        ? false
        : null,
    needReload: v.get("NeedDaemonReload") === "yes",
    file: parseFileState({ ...result, exitCode: 0, stdout: result.stdout.subarray(mark + FILE_MARK.length + 1) }, path),
  };
}
