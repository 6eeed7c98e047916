/**
 * reboot: a handler (Ansible's `reboot` module) that reboots the host and returns once it is back:
 * `handlers: () => ({ reboot: reboot() })`, notified by the steps whose change needs a reboot.
 *
 * How "it came back" is known: before the reboot the handler reads the host's boot marker — the
 * kernel's boot id (`/proc/sys/kernel/random/boot_id`, new on every boot) and the start time of
 * PID 1 (`/proc/1/stat`, field 22). The boot id alone is what a real machine or VM needs; PID 1's
 * start time also tells a container's restart (a container shares its machine's kernel and so its
 * boot id: measured on the test hosts, where two hosts showed the same boot id). After issuing the
 * reboot the handler polls — reconnecting the transport each time (the old connection dies with
 * the host) — until the marker differs, bounded in time (`timeoutSeconds`, default 600) and in
 * attempts. The same marker after a successful connection is "not rebooted yet" (the host may still
 * be going down), never success.
 *
 * The reboot is issued detached (`sleep 1` first), so the command returns before sshd goes away.
 * Check mode never runs handlers: `--check` shows it "would run".
 *
 * Known limit: the host lock lives in /run (tmpfs), so it is gone after the reboot; the run goes on
 * without re-taking it.
 */
import { z } from "zod";
import type { ApplyContext, Handler } from "../playbook/step.ts";
import { sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";

const rebootParams = z.strictObject({
  /** How long the host may take to come back, from the reboot command; default 600. */
  timeoutSeconds: z.number().int().min(1).max(3600).default(600),
  /** Between reconnect attempts; default 5. */
  pollSeconds: z.number().min(0.01).max(60).default(5),
  /** The command that reboots; default `systemctl reboot`, falling back to `reboot`. */
  command: z.string().min(1).optional(),
});

export type RebootParams = z.input<typeof rebootParams>;

/** Prints `boot_id=…` and `pid1_start=…`. */
export const BOOT_MARKER_COMMAND: ShellCommand = sh`printf 'boot_id=%s\\n' "$(cat /proc/sys/kernel/random/boot_id)"; printf 'pid1_start=%s\\n' "$(sed 's/.*) //' /proc/1/stat | cut -d' ' -f20)"`;

export function parseBootMarker(result: ExecResult): string {
  const text = result.stdout.toString("utf8");
  const boot = /^boot_id=([0-9a-f-]{36})$/m.exec(text)?.[1];
  const start = /^pid1_start=(\d+)$/m.exec(text)?.[1];
  if (result.exitCode !== 0 || !boot || !start) {
    throw new Error(`cannot read the boot id: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  return `${boot}/${start}`;
}

export function reboot(input: RebootParams = {}): Handler {
  const p = parseStepParams("reboot", rebootParams, input);
  const issue = p.command
    ? sh`nohup sh -c ${`sleep 1; ${p.command}`} >/dev/null 2>&1 </dev/null &`
    : sh`nohup sh -c 'sleep 1; systemctl reboot || reboot' >/dev/null 2>&1 </dev/null &`;
  return {
    async run(context: ApplyContext) {
      const { session } = context;
      if (!context.reconnect) throw new Error("reboot: this runner cannot reconnect to the host");
      const before = parseBootMarker(await session.runOrThrow(BOOT_MARKER_COMMAND));
      await session.runOrThrow(issue);
      const started = Date.now();
      const deadline = started + p.timeoutSeconds * 1000;
      const maxAttempts = Math.ceil(p.timeoutSeconds / p.pollSeconds) + 1;
      let last = "no attempt yet";
      for (let attempt = 0; attempt < maxAttempts && Date.now() < deadline; attempt += 1) {
        await sleep(Math.min(p.pollSeconds * 1000, Math.max(0, deadline - Date.now())));
        try {
          await context.reconnect();
          const now = parseBootMarker(await session.run(BOOT_MARKER_COMMAND, { timeoutMs: 10_000 }));
          if (now !== before) return;
          last = "reachable, but not rebooted yet (same boot id and PID 1)";
        } catch (error) {
          last = error instanceof Error ? error.message : String(error);
        }
      }
      throw new Error(`reboot: the host did not come back within ${p.timeoutSeconds} s (last: ${last})`);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
