/**
 * sysctl: a kernel parameter set both persistently (one `key = value` line in a file under
 * /etc/sysctl.d, read at boot by systemd-sysctl) and live (/proc/sys). Drift in either is drift:
 * a file edited by hand, or a live value changed without the file. Like Ansible's `sysctl`
 * (reload: yes), but the live value is compared, not just re-applied.
 *   - The file is edited like `line` with the regexp `^\s*-?key\s*=` (a commented example stays);
 *     every other line is kept. Default file: /etc/sysctl.d/99-provision.conf (Ansible's default is
 *     /etc/sysctl.conf; on Debian 12 and RHEL the drop-in directory is the documented place).
 *   - The live value is read from and written to /proc/sys/<key with / for .> directly (no sysctl
 *     option parsing); values compare with white space collapsed (the kernel prints tabs).
 *   - `state: absent` removes the line from the file; the live value is left as it is (the kernel
 *     has no "unset").
 * Keys are dot-separated names ([A-Za-z0-9_-] parts); the slash form for names holding a dot
 * (VLAN interfaces) is not supported.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import { parseFileState, readFileCommand, fileWrite, type FileState } from "../transport/remote-file.ts";
import { editLine } from "./line.ts";
import { filePath, parseStepParams } from "./params.ts";
import type { ExecResult } from "../transport/transport.ts";
import { pathResource } from "../playbook/resources.ts";

const sysctlParams = z.strictObject({
  key: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/, "must be a dotted sysctl key like net.ipv4.ip_forward"),
  value: z
    .union([z.string(), z.number()])
    .transform(String)
    .pipe(z.string().regex(/^[^\n\r\0]*\S[^\n\r\0]*$/, "must be one non-empty line")),
  state: z.enum(["present", "absent"]).default("present"),
  file: filePath.default("/etc/sysctl.d/99-provision.conf"),
  notify: z.array(z.string()).optional(),
});

export type SysctlParams = z.input<typeof sysctlParams>;

export interface SysctlState {
  /** The live value, white space collapsed. */
  live: string;
  file: FileState;
}

export interface SysctlChange extends Change {
  plan: { fileText?: string; live?: string };
}

export function sysctl(input: SysctlParams): Step<SysctlState> {
  const p = parseStepParams("sysctl", sysctlParams, input);
  const proc = `/proc/sys/${p.key.replaceAll(".", "/")}`;
  const owned = new RegExp(`^\\s*-?${p.key.replaceAll(".", "\\.")}\\s*=`);
  const desiredLine = `${p.key} = ${p.value}`;
  return {
    kind: "sysctl",
    name: `sysctl ${p.key}${p.state === "absent" ? " absent" : ` = ${p.value}`}`,
    provides: [pathResource(p.file), `sysctl:${p.key}`],
    requires: [pathResource(p.file), `sysctl:${p.key}`],
    notify: p.notify,
    read: () => ({ command: readSysctlCommand(proc, p.file), parse: (result) => parseSysctlState(result, p.key, p.file) }),
    diff(current): SysctlChange | null {
      if (current.file.exists && current.file.type !== "regular file")
        throw new Error(`${p.file} is a ${current.file.type}, not a regular file`);
      const before = current.file.content?.toString("utf8") ?? "";
      const after = editLine(before, { line: desiredLine, state: p.state, regexp: owned, insertAfter: undefined });
      const fileChanges = after !== before && (current.file.exists || p.state === "present");
      const liveChanges = p.state === "present" && collapse(p.value) !== current.live;
      const parts = [
        ...(fileChanges ? [current.file.exists ? `${p.file}: content` : `create ${p.file}`] : []),
        ...(liveChanges ? [`live ${current.live} → ${collapse(p.value)}`] : []),
      ];
      if (parts.length === 0) return null;
      return {
        summary: parts.join(", "),
        ...(fileChanges ? { diff: { label: p.file, before, after } } : {}),
        plan: { ...(fileChanges ? { fileText: after } : {}), ...(liveChanges ? { live: p.value } : {}) },
      };
    },
    async apply({ session }, _current, change: SysctlChange) {
      const { live, fileText } = change.plan;
      // The live value first: a value the kernel refuses is then never written for the next boot.
      // The atomic write is a `set -e` script: it runs at the top level, after the live write succeeded.
      const write = fileText !== undefined ? fileWrite(p.file, fileText) : undefined;
      const commands: ShellCommand[] = [
        ...(live !== undefined ? [sh`printf '%s\\n' ${live} > ${proc} || exit 1`] : []),
        ...(write ? [write.command] : []),
      ];
      await session.runOrThrow(joinCommands(commands, "\n"), write ? { stdin: write.stdin } : {});
    },
  };
}

export function readSysctlCommand(proc: string, file: string): ShellCommand {
  return sh`if [ -f ${proc} ]; then printf 'live=%s\\n' "$(tr -s ' \\t\\n' '  ' < ${proc} | sed 's/ *$//')"; else echo live-missing; fi
${readFileCommand(file)}`;
}

export function parseSysctlState(result: ExecResult, key: string, file: string): SysctlState {
  if (result.exitCode !== 0)
    throw new ReadFailedError(`cannot read sysctl ${key}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  const newline = result.stdout.indexOf(0x0a);
  const first = result.stdout.subarray(0, newline).toString("utf8");
  if (first === "live-missing")
    throw new ReadFailedError(`unknown sysctl key ${key} (no /proc/sys entry: a typo, or its module is not loaded)`);
  if (!first.startsWith("live=")) throw new ReadFailedError(`cannot parse the sysctl read of ${key}`);
  return { live: first.slice("live=".length), file: parseFileState({ ...result, stdout: result.stdout.subarray(newline + 1) }, file) };
}

function collapse(value: string): string {
  return value.trim().split(/\s+/).join(" ");
}
