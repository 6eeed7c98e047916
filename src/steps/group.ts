/**
 * group: a local group present (with this gid, when given) or absent. Ansible's `group` module:
 * `system` applies when the group is created (groupadd -r); members are not managed here (a
 * user's `groups`, or `groupMember`, manage them).
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { raw, sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";
import { accountName } from "./account-name.ts";
import { parseStepParams } from "./params.ts";
import { accountResource, pathResource } from "../playbook/resources.ts";

const groupParams = z.strictObject({
  name: accountName,
  state: z.enum(["present", "absent"]).default("present"),
  gid: z.number().int().min(0).max(4294967294).optional(),
  system: z.boolean().default(false),
  notify: z.array(z.string()).optional(),
});

export type GroupParams = z.input<typeof groupParams>;
type Params = z.output<typeof groupParams>;

export type GroupState = { exists: false } | { exists: true; gid: number; members: string[] };

export type GroupPlan = { action: "create" } | { action: "remove" } | { action: "set-gid"; gid: number };

export interface GroupChange extends Change {
  plan: GroupPlan;
}

export function group(input: GroupParams): Step<GroupState> {
  const p = parseStepParams("group", groupParams, input);
  return {
    kind: "group",
    name: `group ${p.name}${p.state === "absent" ? " absent" : ""}`,
    notify: p.notify,
    provides: [accountResource("group", p.name, "*"), pathResource("/etc/group"), pathResource("/etc/gshadow")],
    // Its existence and gid only: users joining it (members) change nothing this step reads.
    requires: [accountResource("group", p.name, "exists"), accountResource("group", p.name, "gid")],
    read: () => ({ command: readGroupCommand(p.name), parse: (result) => parseGroupState(result, p.name) }),
    diff: (current) => {
      const change = diffGroup(p, current);
      // A gid change is the gid alone; a creation or removal is the whole group.
      if (change?.plan.action !== "set-gid") return change;
      return { ...change, provides: [accountResource("group", p.name, "gid"), pathResource("/etc/group"), pathResource("/etc/gshadow")] };
    },
    async apply({ session }, _current, change: GroupChange) {
      await session.runOrThrow(groupCommand(p, change.plan));
    },
  };
}

export function readGroupCommand(name: string): ShellCommand {
  // getent exits 2 for "no such key": absent; anything else is a failed read.
  return sh`if g=$(getent group -- ${name}); then printf '%s\\n' "$g"; else rc=$?; [ "$rc" = 2 ] && echo absent && exit 0; exit "$rc"; fi`;
}

export function parseGroupState(result: ExecResult, name: string): GroupState {
  if (result.exitCode !== 0) {
    throw new ReadFailedError(`cannot read group ${name}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  const text = result.stdout.toString("utf8").trim();
  if (text === "absent") return { exists: false };
  const [entry, gid, members] = [text.split(":")[0], text.split(":")[2], text.split(":")[3]];
  if (entry !== name || gid === undefined || !/^\d+$/.test(gid)) throw new ReadFailedError(`cannot parse the group entry of ${name}`);
  return { exists: true, gid: Number(gid), members: (members ?? "").split(",").filter(Boolean) };
}

export function diffGroup(p: Params, current: GroupState): GroupChange | null {
  if (p.state === "absent") return current.exists ? { summary: `remove group ${p.name}`, plan: { action: "remove" } } : null;
  if (!current.exists) {
    const what = [...(p.gid !== undefined ? [`gid ${p.gid}`] : []), ...(p.system ? ["system"] : [])];
    return { summary: `create${what.length ? ` (${what.join(", ")})` : ""}`, plan: { action: "create" } };
  }
  if (p.gid !== undefined && p.gid !== current.gid)
    return { summary: `gid ${current.gid} → ${p.gid}`, plan: { action: "set-gid", gid: p.gid } };
  return null;
}

export function groupCommand(p: Params, plan: GroupPlan): ShellCommand {
  switch (plan.action) {
    case "remove":
      return sh`groupdel -- ${p.name}`;
    case "set-gid":
      return sh`groupmod -g ${plan.gid} -- ${p.name}`;
    case "create":
      return sh`groupadd ${p.gid !== undefined ? sh`-g ${p.gid} ` : raw("")}${p.system ? raw("-r ") : raw("")}-- ${p.name}`;
  }
}
