/**
 * systemdDaemonReload: systemd has re-read a unit's files (after a drop-in was written), so the
 * next start uses them. The read asks systemd itself: `NeedDaemonReload` (a loaded file changed on
 * disk) and `DropInPaths` (the drop-ins it loaded). NeedDaemonReload alone misses a drop-in in a
 * directory systemd did not know yet (seen on Debian 12, systemd 252: "no" with a new
 * opendkim.service.d/), so `dropIn` names the drop-in that must be among the loaded ones.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { sh } from "../shell/sh.ts";
import { parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const params = z
  .object({ unit: z.string().regex(/^[A-Za-z0-9@._:-]+$/, "a unit name"), dropIn: z.string().startsWith("/").optional() })
  .strict();

export function systemdDaemonReload(input: z.input<typeof params>): Step<{ needed: boolean }> {
  const p = parseStepParams("systemdDaemonReload", params, input);
  const unit = p.unit.includes(".") ? p.unit : `${p.unit}.service`;
  return {
    kind: "systemd-daemon-reload",
    name: `systemd units loaded (${unit})`,
    // A reload changes what systemd runs for every unit; what it reads is the unit and its drop-in.
    provides: ["service:*"],
    requires: [`service:${unit}`, ...(p.dropIn ? [pathResource(p.dropIn)] : [])],
    read: () => ({
      command: sh`systemctl show -p NeedDaemonReload -p DropInPaths -- ${unit}`,
      parse: (result) => {
        const text = result.stdout.toString("utf8");
        const need = /^NeedDaemonReload=(yes|no)$/m.exec(text)?.[1];
        if (result.exitCode !== 0 || !need) {
          throw new ReadFailedError(
            `cannot ask systemd about ${unit}: ${result.stderr.toString("utf8").trim() || text.trim() || `exit ${result.exitCode}`}`,
          );
        }
        const loaded = (/^DropInPaths=(.*)$/m.exec(text)?.[1] ?? "").split(/\s+/).filter(Boolean);
        return { needed: need === "yes" || (p.dropIn !== undefined && !loaded.includes(p.dropIn)) };
      },
    }),
    diff: (current): Change | null => (current.needed ? { summary: `systemctl daemon-reload (${unit} changed on disk)` } : null),
    async apply({ session }) {
      await session.runOrThrow(sh`systemctl daemon-reload`);
    },
  };
}
