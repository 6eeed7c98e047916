/**
 * hostname: the host's name, both persistent (/etc/hostname, written atomically) and live (the
 * kernel's, `uname -n`, set with `hostname`). Drift in either is drift. Like Ansible's `hostname`
 * with the file-based strategy; `hostnamectl` is not used because it needs systemd-hostnamed on
 * D-Bus, which minimal hosts and containers often lack. /etc/hosts is not touched (as in Ansible).
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { joinCommands, sh } from "../shell/sh.ts";
import { parseFileState, readFileCommand, fileWrite, type FileState } from "../transport/remote-file.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const hostnameParams = z.strictObject({
  // RFC 1123: dot-separated labels of letters, digits and inner hyphens, at most 63 each, 253 in all.
  name: z
    .string()
    .max(253, "must be at most 253 characters")
    .regex(
      /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/,
      "must be a host name (RFC 1123)",
    ),
  notify: z.array(z.string()).optional(),
});

export type HostnameParams = z.input<typeof hostnameParams>;

export interface HostnameState {
  live: string;
  file: FileState;
}

export interface HostnameChange extends Change {
  plan: { file: boolean; live: boolean };
}

const PATH = "/etc/hostname";

export function hostname(input: HostnameParams): Step<HostnameState> {
  const p = parseStepParams("hostname", hostnameParams, input);
  const wanted = `${p.name}\n`;
  return {
    kind: "hostname",
    name: `hostname ${p.name}`,
    provides: [pathResource("/etc/hostname"), "hostname"],
    requires: [pathResource("/etc/hostname"), "hostname"],
    notify: p.notify,
    read: () => ({ command: sh`printf 'live=%s\\n' "$(uname -n)"\n${readFileCommand(PATH)}`, parse: parseHostnameState }),
    diff(current): HostnameChange | null {
      const before = current.file.content?.toString("utf8") ?? "";
      const file = before !== wanted;
      const live = current.live !== p.name;
      if (!file && !live) return null;
      const parts = [
        ...(file ? [`${PATH}: ${before.trim() || "(none)"} → ${p.name}`] : []),
        ...(live ? [`live ${current.live} → ${p.name}`] : []),
      ];
      return { summary: parts.join(", "), ...(file ? { diff: { label: PATH, before, after: wanted } } : {}), plan: { file, live } };
    },
    async apply({ session }, _current, change: HostnameChange) {
      const live = sh`hostname -- ${p.name}`;
      // The atomic write is a `set -e` script: at the top level, followed by the live name.
      if (change.plan.file) {
        const write = fileWrite(PATH, wanted, { mode: "0644" });
        await session.runOrThrow(joinCommands([write.command, ...(change.plan.live ? [live] : [])], "\n"), { stdin: write.stdin });
      } else await session.runOrThrow(live);
    },
  };
}

export function parseHostnameState(result: ExecResult): HostnameState {
  const newline = result.stdout.indexOf(0x0a);
  const first = result.stdout.subarray(0, newline).toString("utf8");
  if (result.exitCode !== 0 || !first.startsWith("live=")) {
    throw new ReadFailedError(`cannot read the host name: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  return { live: first.slice("live=".length), file: parseFileState({ ...result, stdout: result.stdout.subarray(newline + 1) }, PATH) };
}
