/**
 * iptablesRule: one rule in one chain, present exactly once (or absent), for IPv4 or IPv6.
 *
 * Matching is semantic, not textual: `iptables -S` prints rules in a canonical form that differs
 * from what people write (`-p tcp --dport 587` comes back as `-p tcp -m tcp --dport 587`,
 * addresses gain `/32`). The read therefore asks iptables itself for the canonical form — it adds
 * the rule to an empty chain inside a throwaway network namespace (`unshare -n`), which touches
 * nothing on the host — and compares lines of the real chain with it exactly. That finds
 * duplicates and positions. Where `unshare` is not allowed the read falls back to `iptables -C`
 * alone: presence is still exact; duplicates and positions are then unknown (treated as fine).
 *
 * Position: without `position` the rule may be anywhere (it is appended when missing). With
 * `position: N` it must be the Nth rule (or the last, when the chain is shorter): a rule present
 * elsewhere is moved. Extra copies are always removed.
 */
import { section, sections } from "../shell/read-output.ts";
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";

const word = z
  .string()
  .min(1)
  .refine((w) => !w.includes("\n"), "must not contain a newline");

const iptablesRuleParams = z.strictObject({
  chain: z.string().regex(/^[A-Za-z0-9_.-]{1,28}$/, "must be a chain name"),
  table: z.enum(["filter", "nat", "mangle", "raw", "security"]).default("filter"),
  rule: z.array(word).min(1),
  position: z.number().int().min(1).optional(),
  state: z.enum(["present", "absent"]).default("present"),
  family: z.enum(["ipv4", "ipv6"]).default("ipv4"),
  notify: z.array(z.string()).optional(),
});

export type IptablesRuleParams = z.input<typeof iptablesRuleParams>;

export interface IptablesRuleState {
  /** The chain's rules as `iptables -S CHAIN` prints them, without -P/-N lines. */
  rules: string[];
  /** `iptables -C` said the rule is there. */
  present: boolean;
  /** The rule in iptables' canonical `-A CHAIN …` form, or null when it could not be learnt. */
  canonical: string | null;
}

export function iptablesRule(input: IptablesRuleParams): Step<IptablesRuleState> {
  const p = parseStepParams("iptablesRule", iptablesRuleParams, input);
  const tool = p.family === "ipv6" ? "ip6tables" : "iptables";
  const where = `${p.table}/${p.chain}`;
  return {
    kind: "iptables-rule",
    name: `${tool} ${where} ${p.rule.join(" ")}`,
    notify: p.notify,
    // Any change to the chain moves the others' positions; a rule without a position depends only
    // on its own presence (and copies), which only a step with the same rule changes.
    provides: [chainResource(p.family, p.table, p.chain), ruleResource(p.family, p.table, p.chain, p.rule)],
    requires: [p.position === undefined ? ruleResource(p.family, p.table, p.chain, p.rule) : chainResource(p.family, p.table, p.chain)],
    // The tool is the read's first command and its exit goes through: a missing one is the shell's
    // 127, which the runner words (requiresTools: "iptables not found on HOST: is iptables installed?").
    read: () => ({ command: readCommand(tool, p.table, p.chain, p.rule), requiresTools: [tool], parse: (r) => parseRead(r, where) }),
    diff(current): IptablesRuleChange | null {
      const { summary, ...plan } = planFor(current, p.state, p.position);
      return summary ? { summary, plan } : null;
    },
    async apply({ session }, _current, change: IptablesRuleChange) {
      const { plan } = change;
      const base = sh`${tool} -w -t ${p.table}`;
      const commands: ShellCommand[] = [];
      if (plan.deleteAt.length > 0) {
        // Highest number first, so the numbers of the rules still to delete do not shift.
        for (const n of [...plan.deleteAt].sort((a, b) => b - a)) commands.push(sh`${base} -D ${p.chain} ${n}`);
      } else if (plan.deleteBySpec) {
        // Fallback mode (no canonical form): delete by spec while `-C` finds it, bounded.
        commands.push(
          sh`i=0; while [ "$i" -lt 100 ] && ${base} -C ${p.chain} ${p.rule} 2>/dev/null; do ${base} -D ${p.chain} ${p.rule} || exit 1; i=$((i+1)); done`,
        );
      }
      if (plan.insertAt !== undefined) commands.push(sh`${base} -I ${p.chain} ${plan.insertAt} ${p.rule}`);
      else if (plan.append) commands.push(sh`${base} -A ${p.chain} ${p.rule}`);
      if (commands.length > 0) await session.runOrThrow(joinCommands(commands, " && "));
    },
  };
}

/** `iptables:ipv4:filter:INPUT`: one chain (iptablesPersist requires `iptables:ipv4:*`, all of them). */
export function chainResource(family: string, table: string, chain: string): string {
  return `iptables:${family}:${table}:${chain}`;
}

/** One rule's presence in a chain (beside the chain's order). */
function ruleResource(family: string, table: string, chain: string, rule: readonly string[]): string {
  return `iptables-rule:${family}:${table}:${chain}:${JSON.stringify(rule)}`;
}

function readCommand(tool: string, table: string, chain: string, rule: readonly string[]): ShellCommand {
  // Built-in targets need no chain; a jump to a user chain does, so create it in the scratch netns.
  const jump = rule.findIndex((w) => w === "-j" || w === "-g" || w === "--jump" || w === "--goto");
  const target = jump >= 0 ? rule[jump + 1] : undefined;
  const scratch = sh`${tool} -t ${table} -N ${chain} 2>/dev/null
${tool} -t ${table} -A ${chain} ${rule} 2>/dev/null || { ${target ? sh`${tool} -t ${table} -N ${target} 2>/dev/null;` : sh``} ${tool} -t ${table} -A ${chain} ${rule}; } && ${tool} -t ${table} -S ${chain}`;
  return sh`${tool} -w -t ${table} -S ${chain} || exit
${section("check")}; ${tool} -w -t ${table} -C ${chain} ${rule} >/dev/null 2>&1; echo "rc=$?"
${section("canonical")}; unshare -n sh -c ${scratch.text} 2>/dev/null || :`;
}

function parseRead(result: ExecResult, where: string): IptablesRuleState {
  if (result.exitCode !== 0) {
    throw new ReadFailedError(`cannot list ${where}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  const parts = sections(result.stdout.toString("utf8"), ["check", "canonical"]);
  const isRule = (line: string) => line.startsWith("-A ");
  const rc = /rc=(\d+)/.exec(parts.get("check")?.body ?? "")?.[1];
  if (rc === undefined || Number(rc) > 1) throw new ReadFailedError(`iptables -C failed on ${where} (rc ${rc ?? "?"})`);
  const canonical = (parts.get("canonical")?.body ?? "").split("\n").filter(isRule);
  return {
    rules: (parts.get("")?.body ?? "").split("\n").filter(isRule),
    present: rc === "0",
    // Exactly one rule in the scratch chain, or we learnt nothing.
    canonical: canonical.length === 1 ? (canonical[0] as string) : null,
  };
}

/** What diff decided (planFor without its summary): the commands apply sends follow from it alone. */
export type IptablesRulePlan = Omit<Plan, "summary">;

export interface IptablesRuleChange extends Change {
  plan: IptablesRulePlan;
}

interface Plan {
  summary: string;
  /** Rule numbers to delete (1-based). */
  deleteAt: number[];
  deleteBySpec: boolean;
  insertAt?: number;
  append: boolean;
}

/** Pure: what to do, from the state read: diff's summary and the plan apply carries out. */
export function planFor(s: IptablesRuleState, state: "present" | "absent", position?: number): Plan {
  const none: Plan = { summary: "", deleteAt: [], deleteBySpec: false, append: false };
  const at = s.canonical ? s.rules.flatMap((r, i) => (r === s.canonical ? [i + 1] : [])) : [];
  if (state === "absent") {
    if (!s.present && at.length === 0) return none;
    return s.canonical && at.length > 0
      ? { ...none, summary: `remove ${count(at.length)}`, deleteAt: at }
      : { ...none, summary: "remove", deleteBySpec: true };
  }
  if (!s.present && at.length === 0) {
    if (position === undefined) return { ...none, summary: "append", append: true };
    const insertAt = Math.min(position, s.rules.length + 1);
    return { ...none, summary: `insert at ${insertAt}`, insertAt };
  }
  if (at.length === 0) return none; // present per -C, positions unknown (fallback mode)
  if (position === undefined) {
    if (at.length === 1) return none;
    return { ...none, summary: `remove ${count(at.length - 1, "duplicate")}`, deleteAt: at.slice(1) };
  }
  // With our copies gone the chain has rules.length - at.length others; the rule goes at `want`.
  const want = Math.min(position, s.rules.length - at.length + 1);
  // The copy at rule number a_j ends up at a_j - j once the copies before it are gone.
  const keep = at.findIndex((n, j) => n - j === want);
  if (keep >= 0) {
    if (at.length === 1) return none;
    const extra = at.filter((_, j) => j !== keep);
    return { ...none, summary: `remove ${count(extra.length, "duplicate")}`, deleteAt: extra };
  }
  const parts = [];
  if (at.length > 1) parts.push(`remove ${count(at.length - 1, "duplicate")}`);
  parts.push(`move to ${want}` + (at.length === 1 ? ` (now ${at[0]})` : ""));
  return { ...none, summary: parts.join(", "), deleteAt: at, insertAt: want };
}

function count(n: number, what = "copy"): string {
  return n === 1 ? `1 ${what}` : `${n} ${what === "copy" ? "copies" : `${what}s`}`;
}
