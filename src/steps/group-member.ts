/**
 * groupMember: a user is a member of a supplementary group — e.g. postfix in `sasl`, so the
 * chrooted smtpd on Debian can read its copy of the sasldb (root:sasl 0660). Adding only: other
 * memberships are left alone. A missing user or group is a read error (in check mode before the
 * package that creates it is installed: `unknown`).
 */
import { z } from "zod";
import { ReadFailedError, type Step } from "../playbook/step.ts";
import { sh } from "../shell/sh.ts";
import { parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const account = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/, "must be a user or group name");
const groupMemberParams = z.strictObject({ user: account, group: account, notify: z.array(z.string()).optional() });

export type GroupMemberParams = z.input<typeof groupMemberParams>;

export function groupMember(input: GroupMemberParams): Step<{ groups: string[] }> {
  const p = parseStepParams("groupMember", groupMemberParams, input);
  return {
    kind: "group-member",
    name: `group ${p.group} has ${p.user}`,
    notify: p.notify,
    // usermod writes both; `id` reads the user and its groups.
    provides: [pathResource("/etc/group"), pathResource("/etc/gshadow")],
    requires: [pathResource("/etc/group"), pathResource("/etc/passwd")],
    read: () => ({
      command: sh`getent group ${p.group} >/dev/null || { echo ${`no group ${p.group}`} >&2; exit 4; }; id -nG -- ${p.user}`,
      parse(result) {
        if (result.exitCode !== 0) throw new ReadFailedError(result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`);
        return { groups: result.stdout.toString("utf8").trim().split(/\s+/) };
      },
    }),
    diff: (current) => (current.groups.includes(p.group) ? null : { summary: `add ${p.user} to ${p.group}` }),
    async apply({ session }) {
      await session.runOrThrow(sh`usermod -a -G ${p.group} -- ${p.user}`);
    },
  };
}
