/**
 * firewalldPort: a port open (or closed) in a firewalld zone, both permanently (survives a reload
 * and a reboot) and in the running firewall — Ansible's `firewalld: port=587/tcp permanent=true
 * immediate=true`. Read with `firewall-cmd --query-port` (exit 0: yes, 1: no) for each.
 *
 * Needs firewalld running (and so dbus): a stopped firewalld fails the read with firewall-cmd's own
 * message ("FirewallD is not running"), it is never guessed at. This step does not start or enable
 * firewalld (a `service` step does).
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { needTool } from "../shell/read-output.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";

const firewalldPortParams = z.strictObject({
  port: z.union([
    z.number().int().min(1).max(65535),
    z.string().regex(/^[0-9]{1,5}(-[0-9]{1,5})?$/, "must be a port or a range like 6000-6007"),
  ]),
  proto: z.enum(["tcp", "udp", "sctp", "dccp"]).default("tcp"),
  zone: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_-]{0,16}$/, "must be a firewalld zone name")
    .optional(),
  state: z.enum(["enabled", "disabled"]).default("enabled"),
  notify: z.array(z.string()).optional(),
});

export type FirewalldPortParams = z.input<typeof firewalldPortParams>;

export interface FirewalldPortState {
  permanent: boolean;
  runtime: boolean;
}

export interface FirewalldPortChange extends Change {
  /** Which of the permanent and the running configuration to change. */
  plan: { permanent: boolean; runtime: boolean };
}

export function firewalldPort(input: FirewalldPortParams): Step<FirewalldPortState> {
  const p = parseStepParams("firewalldPort", firewalldPortParams, input);
  const spec = `${p.port}/${p.proto}`;
  const zone = p.zone ? sh`--zone=${p.zone}` : sh``;
  const want = p.state === "enabled";
  return {
    kind: "firewalld-port",
    name: `firewalld ${p.zone ?? "(default zone)"} ${spec}`,
    notify: p.notify,
    provides: ["firewalld"],
    requires: ["firewalld"],
    read: () => ({
      // The queries' exits are printed, not the read's: a missing firewall-cmd must stop it first.
      command: sh`${needTool("firewall-cmd")}
firewall-cmd --permanent ${zone} --query-port=${spec}; echo "permanent=$?"; firewall-cmd ${zone} --query-port=${spec}; echo "runtime=$?"`,
      requiresTools: ["firewall-cmd"],
      parse: parseFirewalldQuery,
    }),
    diff(current): FirewalldPortChange | null {
      const plan = { permanent: current.permanent !== want, runtime: current.runtime !== want };
      const parts = [...(plan.permanent ? ["permanent"] : []), ...(plan.runtime ? ["runtime"] : [])];
      return parts.length ? { summary: `${want ? "open" : "close"} ${spec} (${parts.join(", ")})`, plan } : null;
    },
    async apply({ session }, _current, change: FirewalldPortChange) {
      const action = want ? "--add-port" : "--remove-port";
      const commands: ShellCommand[] = [];
      if (change.plan.permanent) commands.push(sh`firewall-cmd --permanent ${zone} ${`${action}=${spec}`}`);
      if (change.plan.runtime) commands.push(sh`firewall-cmd ${zone} ${`${action}=${spec}`}`);
      await session.runOrThrow(joinCommands(commands, " && "));
    },
  };
}

export function parseFirewalldQuery(result: ExecResult): FirewalldPortState {
  const text = result.stdout.toString("utf8");
  const code = (key: string) =>
    /^\d+$/.test(new RegExp(`^${key}=(\\d+)$`, "m").exec(text)?.[1] ?? "")
      ? Number(new RegExp(`^${key}=(\\d+)$`, "m").exec(text)?.[1])
      : undefined;
  const permanent = code("permanent");
  const runtime = code("runtime");
  if (result.exitCode !== 0 || permanent === undefined || runtime === undefined || permanent > 1 || runtime > 1) {
    const why =
      result.stderr.toString("utf8").trim() ||
      text
        .split("\n")
        .filter((l) => !/^(permanent|runtime)=/.test(l))
        .join(" ")
        .trim();
    throw new ReadFailedError(`firewall-cmd --query-port failed (exit ${permanent ?? "?"}/${runtime ?? "?"}): ${why || "no output"}`);
  }
  return { permanent: permanent === 0, runtime: runtime === 0 };
}
