/**
 * service: a system service running or stopped, enabled at boot or not — with systemd
 * (`systemctl`) or SysV init (`service`, and `chkconfig` on RHEL / `update-rc.d` on Debian),
 * as the host's facts say. Plus the handlers `reloadService` and `restartService`.
 *
 * A service that does not exist (no unit, no init script) is a read error, not a change: in check
 * mode, when the package that brings it is still to be installed, the runner reports `unknown`.
 */
import { keyValues as readKeyValues } from "../shell/read-output.ts";
import { z } from "zod";
import { ReadFailedError, type Change, type Handler, type Step } from "../playbook/step.ts";
import type { Facts } from "../facts/facts.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import { parseStepParams } from "./params.ts";
import { pathTree } from "../playbook/resources.ts";

const UNIT_DIRS = ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system", "/run/systemd/system", "/etc/init.d"];

const serviceName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9@._:-]*$/, "must be a service name");

const serviceParams = z
  .strictObject({
    name: serviceName,
    state: z.enum(["running", "stopped"]).optional(),
    enabled: z.boolean().optional(),
    notify: z.array(z.string()).optional(),
  })
  .refine((p) => p.state !== undefined || p.enabled !== undefined, { message: "give state, enabled or both" });

export type ServiceParams = z.input<typeof serviceParams>;

export interface ServiceState {
  running: boolean;
  /** true/false, or null when the service cannot be enabled or disabled (a static unit). */
  enabled: boolean | null;
  /** systemd: the unit is masked (must be unmasked before it can be enabled or started). */
  masked: boolean;
}

type Manager = Facts["serviceManager"];

/** What diff decided: each action at most once; unmask is systemd-only (SysV has no masking). */
export interface ServicePlan {
  unmask: boolean;
  enable: boolean;
  disable: boolean;
  start: boolean;
  stop: boolean;
}

export interface ServiceChange extends Change {
  plan: ServicePlan;
}

export function service(facts: Pick<Facts, "serviceManager">, input: ServiceParams): Step<ServiceState> {
  const p = parseStepParams("service", serviceParams, input);
  return {
    kind: "service",
    name: `service ${p.name}`,
    notify: p.notify,
    provides: [`service:${p.name}`],
    // Its unit (or init script) may be written by an earlier step.
    requires: [`service:${p.name}`, ...UNIT_DIRS.map(pathTree)],
    // Checked at read time, so an unknown manager is this step's error, not the playbook's.
    read: () => (requireManager(facts.serviceManager) === "systemd" ? systemdRead(p.name) : sysvRead(p.name)),
    diff(current): ServiceChange | null {
      const plan: ServicePlan = {
        // systemd only: a masked unit cannot be enabled or started until it is unmasked.
        unmask: current.masked && ((p.enabled === true && current.enabled === false) || p.state === "running"),
        enable: p.enabled === true && current.enabled === false,
        disable: p.enabled === false && current.enabled === true,
        start: p.state === "running" && !current.running,
        stop: p.state === "stopped" && current.running,
      };
      const parts = (["start", "stop", "enable", "disable"] as const).filter((action) => plan[action]);
      return parts.length ? { summary: parts.join(", "), plan } : null;
    },
    async apply({ session }, _current, change: ServiceChange) {
      const commands = serviceCommands(requireManager(facts.serviceManager), p.name, change.plan);
      if (commands.length) await session.runOrThrow(joinCommands(commands, " && "));
    },
  };
}

/** The commands that carry out a plan, in the order they must run (unmask, then enable, then start). */
function serviceCommands(manager: "systemd" | "sysv", n: string, plan: ServicePlan): ShellCommand[] {
  const commands: ShellCommand[] = [];
  if (manager === "systemd") {
    if (plan.unmask) commands.push(sh`systemctl unmask -- ${n}`);
    if (plan.enable) commands.push(sh`systemctl enable -- ${n}`);
    if (plan.disable) commands.push(sh`systemctl disable -- ${n}`);
    if (plan.start) commands.push(sh`systemctl start -- ${n}`);
    if (plan.stop) commands.push(sh`systemctl stop -- ${n}`);
    return commands;
  }
  if (plan.enable) {
    commands.push(
      sh`if command -v chkconfig >/dev/null 2>&1; then chkconfig ${n} on; else update-rc.d ${n} defaults >/dev/null && update-rc.d ${n} enable; fi`,
    );
  }
  if (plan.disable) {
    commands.push(sh`if command -v chkconfig >/dev/null 2>&1; then chkconfig ${n} off; else update-rc.d ${n} disable; fi`);
  }
  if (plan.start) commands.push(sh`service ${n} start`);
  if (plan.stop) commands.push(sh`service ${n} stop`);
  return commands;
}

function requireManager(manager: Manager): "systemd" | "sysv" {
  if (manager === "unknown") throw new ReadFailedError("no service manager found on the host (neither systemd nor service)");
  return manager;
}

/**
 * `systemctl show -p` (not `--value`: CentOS 7's systemd 219 lacks it) for LoadState and
 * ActiveState (what `is-active` prints, without a second spawn), and `is-enabled`.
 */
function systemdRead(name: string) {
  const unit = name.includes(".") ? name : `${name}.service`;
  return {
    command: sh`systemctl show -p LoadState -p ActiveState -- ${unit}; echo "enabled=$(systemctl is-enabled -- ${unit} 2>/dev/null)"`,
    parse(result: { stdout: Buffer; exitCode: number }): ServiceState {
      const v = keyValues(result.stdout.toString("utf8"));
      const load = v.get("LoadState");
      if (!load) throw new ReadFailedError(`systemctl show failed for ${unit} (exit ${result.exitCode})`);
      if (load === "not-found") throw new ReadFailedError(`service ${name} not found (no unit ${unit})`);
      const active = v.get("ActiveState") ?? "";
      const enabled = v.get("enabled") ?? "";
      return {
        running: ["active", "reloading", "activating"].includes(active),
        enabled: ["enabled", "enabled-runtime"].includes(enabled)
          ? true
          : ["disabled", "masked", "masked-runtime", "linked", "linked-runtime"].includes(enabled)
            ? false
            : null, // static, indirect, generated, alias, transient: not ours to switch
        masked: load === "masked" || enabled.startsWith("masked"),
      };
    },
  };
}

/**
 * SysV: an init script must exist; running per LSB `status` (0 = running); enabled when a start
 * link exists in a multi-user runlevel (chkconfig and update-rc.d both make those).
 */
function sysvRead(name: string) {
  return {
    command: sh`n=${name}
if [ -x "/etc/init.d/$n" ] || [ -x "/etc/rc.d/init.d/$n" ]; then echo exists=yes; else echo exists=no; exit 0; fi
service "$n" status >/dev/null 2>&1; echo "status=$?"
e=no; for f in /etc/rc[2345].d/S[0-9][0-9]"$n" /etc/rc.d/rc[2345].d/S[0-9][0-9]"$n"; do if [ -e "$f" ]; then e=yes; break; fi; done; echo "enabled=$e"`,
    parse(result: { stdout: Buffer; exitCode: number }): ServiceState {
      const v = keyValues(result.stdout.toString("utf8"));
      if (v.get("exists") !== "yes") throw new ReadFailedError(`service ${name} not found (no init script)`);
      const status = v.get("status");
      if (status === undefined) throw new ReadFailedError(`service ${name} status failed (exit ${result.exitCode})`);
      return { running: status === "0", enabled: v.get("enabled") === "yes", masked: false };
    },
  };
}

function keyValues(text: string): Map<string, string> {
  return new Map([...readKeyValues(text)].map(([key, value]) => [key, value.trim()]));
}

/** Handler: reload the service if it is running (a stopped service stays stopped). */
export function reloadService(name: string): Handler {
  const n = serviceName.parse(name);
  return {
    async run({ session, facts }) {
      await session.runOrThrow(
        facts.serviceManager === "systemd"
          ? sh`systemctl reload-or-try-restart -- ${n}`
          : sh`if service ${n} status >/dev/null 2>&1; then service ${n} reload; fi`,
      );
    },
  };
}

/** Handler: restart the service (starts it when stopped). */
export function restartService(name: string): Handler {
  const n = serviceName.parse(name);
  return {
    async run({ session, facts }) {
      await session.runOrThrow(facts.serviceManager === "systemd" ? sh`systemctl restart -- ${n}` : sh`service ${n} restart`);
    },
  };
}
