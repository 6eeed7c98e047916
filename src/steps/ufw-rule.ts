/**
 * ufwRule: one simple ufw rule — `ufw allow 587/tcp` — among the rules ufw has added (or absent).
 *
 * Read with `ufw show added`, which lists the user's rules as the commands that add them
 * (`ufw allow 587/tcp`), whether or not ufw is active; the rule is compared in that same form.
 * Apply is `ufw allow 587/tcp` (`ufw delete allow 587/tcp` when absent): ufw writes its rules
 * files itself (persisted across reboots) and, when active, loads the rule at once.
 * This step does not enable ufw: `ufw enable` starts filtering with ufw's default policy (deny
 * incoming) and would cut SSH unless it is allowed first — that choice is the user's (a
 * `command` step, after an `ufwRule` for 22/tcp).
 *
 * Parameters are structured (action, port, proto), not free text, so a value is never a ufw
 * option or a second rule.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { sh } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";

const portSpec = z.union([
  z.number().int().min(1).max(65535),
  z.string().regex(/^[0-9]{1,5}(:[0-9]{1,5})?$/, "must be a port or a range like 6000:6007"),
]);

const ufwRuleParams = z
  .strictObject({
    action: z.enum(["allow", "deny", "reject", "limit"]).default("allow"),
    port: portSpec,
    proto: z.enum(["tcp", "udp"]).optional(),
    state: z.enum(["present", "absent"]).default("present"),
    notify: z.array(z.string()).optional(),
  })
  .refine((p) => typeof p.port === "number" || !p.port.includes(":") || p.proto !== undefined, {
    message: "a port range needs proto (ufw refuses one without)",
    path: ["proto"],
  });

export type UfwRuleParams = z.input<typeof ufwRuleParams>;

export interface UfwRuleState {
  /** `ufw show added` lines: `ufw allow 587/tcp`. */
  added: string[];
}

export interface UfwRuleChange extends Change {
  /** `ufw allow 587/tcp` or `ufw delete allow 587/tcp`. */
  plan: { action: "add" | "delete" };
}

export function ufwRule(input: UfwRuleParams): Step<UfwRuleState> {
  const p = parseStepParams("ufwRule", ufwRuleParams, input);
  const spec = p.proto ? `${p.port}/${p.proto}` : String(p.port);
  const line = `ufw ${p.action} ${spec}`;
  return {
    kind: "ufw-rule",
    name: line,
    notify: p.notify,
    provides: ["ufw", "iptables"],
    requires: ["ufw"],
    // ufw is the read's first command: the shell's own exit 127 says it is missing.
    read: () => ({ command: sh`ufw show added`, requiresTools: ["ufw"], parse: parseUfwAdded }),
    diff(current): UfwRuleChange | null {
      const present = current.added.includes(line);
      if (p.state === "present") return present ? null : { summary: `add ${line}`, plan: { action: "add" } };
      return present ? { summary: `delete ${line}`, plan: { action: "delete" } } : null;
    },
    async apply({ session }, _current, change: UfwRuleChange) {
      await session.runOrThrow(change.plan.action === "add" ? sh`ufw ${p.action} ${spec}` : sh`ufw delete ${p.action} ${spec}`);
    },
  };
}

export function parseUfwAdded(result: ExecResult): UfwRuleState {
  const text = result.stdout.toString("utf8");
  if (result.exitCode !== 0 || !text.startsWith("Added user rules")) {
    throw new ReadFailedError(`ufw show added failed: ${(result.stderr.toString("utf8") || text).trim() || `exit ${result.exitCode}`}`);
  }
  return {
    added: text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("ufw ")),
  };
}
