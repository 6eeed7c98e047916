/**
 * timezone: the system time zone — /etc/localtime a symbolic link to /usr/share/zoneinfo/<zone>
 * (what systemd and glibc read) and, where the file exists (Debian), /etc/timezone holding the
 * name. Like Ansible's `timezone`, but file-based rather than through timedatectl (which needs
 * systemd-timedated on D-Bus). An unknown zone (no zoneinfo file on the host, e.g. tzdata not
 * installed) is a read error, never a dangling link.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import { fileWrite } from "../transport/remote-file.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";
import { keyValues } from "./user.ts";
import { pathResource } from "../playbook/resources.ts";

const timezoneParams = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, "must be a time zone name like Europe/Berlin")
    .refine((n) => !n.split("/").some((part) => part === ".." || part === "."), "must be a time zone name"),
  notify: z.array(z.string()).optional(),
});

export type TimezoneParams = z.input<typeof timezoneParams>;

export interface TimezoneState {
  /** readlink /etc/localtime ("" when it is not a link). */
  link: string;
  /** /etc/timezone's content, or null when the file does not exist (not Debian). */
  timezoneFile: string | null;
  zoneExists: boolean;
}

export interface TimezoneChange extends Change {
  plan: { link: boolean; file: boolean };
}

export function timezone(input: TimezoneParams): Step<TimezoneState> {
  const p = parseStepParams("timezone", timezoneParams, input);
  const zoneinfo = `/usr/share/zoneinfo/${p.name}`;
  return {
    kind: "timezone",
    name: `timezone ${p.name}`,
    provides: [pathResource("/etc/localtime"), pathResource("/etc/timezone"), "timezone"],
    requires: [pathResource("/etc/localtime"), pathResource("/etc/timezone"), "timezone"],
    notify: p.notify,
    read: () => ({ command: readTimezoneCommand(zoneinfo), parse: parseTimezoneState }),
    diff(current): TimezoneChange | null {
      if (!current.zoneExists) throw new ReadFailedError(`unknown time zone ${p.name}: no ${zoneinfo} on the host (is tzdata installed?)`);
      const link = current.link !== zoneinfo;
      const file = current.timezoneFile !== null && current.timezoneFile !== `${p.name}\n`;
      if (!link && !file) return null;
      const parts = [
        ...(link ? [`/etc/localtime → ${current.link || "(not a link)"} → ${zoneinfo}`] : []),
        ...(file ? ["/etc/timezone: content"] : []),
      ];
      return {
        summary: parts.join(", "),
        ...(file ? { diff: { label: "/etc/timezone", before: current.timezoneFile ?? "", after: `${p.name}\n` } } : {}),
        plan: { link, file },
      };
    },
    async apply({ session }, _current, change: TimezoneChange) {
      const script: ShellCommand[] = [];
      // The link is repointed atomically (a new link renamed over the old one), like `link`.
      if (change.plan.link)
        script.push(
          sh`t=$(mktemp -u /etc/.provision-localtime.XXXXXX) && ln -s -- ${zoneinfo} "$t" && mv -T -f -- "$t" /etc/localtime || exit 1`,
        );
      const write = change.plan.file ? fileWrite("/etc/timezone", `${p.name}\n`, { mode: "0644" }) : undefined;
      if (write) script.push(write.command);
      await session.runOrThrow(joinCommands(script, "\n"), write ? { stdin: write.stdin } : {});
    },
  };
}

export function readTimezoneCommand(zoneinfo: string): ShellCommand {
  return sh`printf 'link=%s\\n' "$(readlink /etc/localtime 2>/dev/null)"
if [ -f ${zoneinfo} ]; then echo zone=yes; else echo zone=no; fi
if [ -f /etc/timezone ]; then echo file=yes; cat /etc/timezone; else echo file=no; fi`;
}

export function parseTimezoneState(result: ExecResult): TimezoneState {
  const text = result.stdout.toString("utf8");
  const v = keyValues(text);
  if (result.exitCode !== 0 || !v.has("link") || !v.has("file")) {
    throw new ReadFailedError(`cannot read the time zone: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  const at = text.indexOf("file=yes\n");
  return {
    link: v.get("link") ?? "",
    zoneExists: v.get("zone") === "yes",
    timezoneFile: at < 0 ? null : text.slice(at + "file=yes\n".length),
  };
}
