/**
 * nftablesRule: one rule in one nftables chain of the LIVE ruleset, present exactly once (or
 * absent). `nftablesRule({ family: "inet", table: "filter", chain: "input", rule: "tcp dport 587 accept" })`.
 *
 * Matching is nft's own: a rule is printed back canonicalised (`tcp dport { 25, 587 }`,
 * `ip saddr 10.0.0.0/8`), so the read asks nft for the canonical text of the desired rule by
 * adding it to an empty chain inside a throwaway network namespace (`unshare -n`: an nftables
 * ruleset is per namespace, nothing on the host is touched), and compares the real chain's rules
 * (`nft -a list chain`, handles stripped) with it exactly. That finds duplicates (removed by
 * handle). Where the scratch namespace is not allowed the read fails rather than guess.
 *
 * A missing table or chain is created: a chain named input/forward/output as a base chain with
 * that hook and `policy accept` (so creating it never cuts SSH), any other name as a regular chain.
 *
 * The rule is one nft rule: `;` (nft's command separator), `#` (a comment to end of line) and
 * newlines are refused — a rule value can never smuggle a second nft command (`flush ruleset`).
 * It is passed to nft as one argv word, quoted by `sh`.
 *
 * Not persisted: this step changes the live ruleset only. Saving it for boot is not done yet.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { needTool, section, sections } from "../shell/read-output.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";

const nftName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, "must be an nftables name (letters, digits, _ . -)");

const nftablesRuleParams = z.strictObject({
  family: z.enum(["inet", "ip", "ip6", "arp", "bridge", "netdev"]).default("inet"),
  table: nftName.default("filter"),
  chain: nftName,
  rule: z
    .string()
    .min(1)
    .max(4096)
    .refine((r) => !/[;#\n\r\0]/.test(r), "must be one nft rule: no ; # or newline"),
  state: z.enum(["present", "absent"]).default("present"),
  notify: z.array(z.string()).optional(),
});

export type NftablesRuleParams = z.input<typeof nftablesRuleParams>;

export interface NftablesRuleState {
  /** False when the table or chain does not exist. */
  chainExists: boolean;
  /** The chain's rules as `nft -a list chain` prints them: text (handle stripped) and handle. */
  rules: { text: string; handle: number }[];
  /** The desired rule as nft prints it. */
  canonical: string;
}

const BASE_HOOKS = new Set(["input", "forward", "output"]);

export function nftablesRule(input: NftablesRuleParams): Step<NftablesRuleState> {
  const p = parseStepParams("nftablesRule", nftablesRuleParams, input);
  const where = `${p.family} ${p.table} ${p.chain}`;
  const resource = `nftables:${p.family}:${p.table}:${p.chain}`;
  return {
    kind: "nftables-rule",
    name: `nft ${where} ${p.rule}`,
    notify: p.notify,
    provides: [resource],
    requires: [resource],
    read: () => ({
      command: readCommand(p.family, p.table, p.chain, p.rule),
      requiresTools: ["nft"],
      parse: (r) => parseNftRead(r, where),
    }),
    diff(current): NftablesRuleChange | null {
      const { summary, ...plan } = planNft(current, p.state);
      return summary ? { summary, plan } : null;
    },
    async apply({ session }, _current, change: NftablesRuleChange) {
      const { plan } = change;
      const commands: ShellCommand[] = [];
      if (plan.createChain) commands.push(...createChainCommands(p.family, p.table, p.chain));
      for (const handle of plan.deleteHandles) commands.push(sh`nft delete rule ${p.family} ${p.table} ${p.chain} handle ${handle}`);
      if (plan.append) commands.push(sh`nft add rule ${p.family} ${p.table} ${p.chain} ${p.rule}`);
      if (commands.length > 0) await session.runOrThrow(joinCommands(commands, " && "));
    },
  };
}

function createChainCommands(family: string, table: string, chain: string): ShellCommand[] {
  const spec = BASE_HOOKS.has(chain) ? `{ type filter hook ${chain} priority filter; policy accept; }` : "";
  return [
    sh`nft add table ${family} ${table}`,
    spec ? sh`nft add chain ${family} ${table} ${chain} ${spec}` : sh`nft add chain ${family} ${table} ${chain}`,
  ];
}

function readCommand(family: string, table: string, chain: string, rule: string): ShellCommand {
  const scratch = joinCommands(
    [
      ...createChainCommands(family, table, chain),
      sh`nft add rule ${family} ${table} ${chain} ${rule}`,
      sh`nft list chain ${family} ${table} ${chain}`,
    ],
    " && ",
  );
  return sh`${needTool("nft")}
out=$(nft -a list chain ${family} ${table} ${chain} 2>&1); rc=$?
${section("chain")} "$rc"; printf '%s\\n' "$out"
${section("canonical")}; unshare -n sh -c ${scratch.text} 2>&1 || :`;
}

/** Rule lines of `nft list chain` output: inside the chain's braces, not its type/policy line. */
function ruleLines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(
      (l) => l && !/^(table|chain) .*\{( # handle \d+)?$/.test(l) && l !== "}" && !/^type \S+ hook /.test(l) && !l.startsWith("policy "),
    );
}

export function parseNftRead(result: ExecResult, where: string): NftablesRuleState {
  if (result.exitCode !== 0)
    throw new ReadFailedError(`cannot read nftables chain ${where}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  const parts = sections(result.stdout.toString("utf8"), ["chain", "canonical"]);
  const chainPart = parts.get("chain");
  const canonicalPart = parts.get("canonical");
  if (!chainPart || !canonicalPart) throw new ReadFailedError(`nftables read of ${where} printed no sections`);
  const rc = /^\d+$/.test(chainPart.value) ? Number(chainPart.value) : 1;
  const body = chainPart.body;
  const missing = rc !== 0 && /No such file or directory/.test(body);
  if (rc !== 0 && !missing) throw new ReadFailedError(`nft list chain ${where} failed: ${body.trim()}`);
  const canonicalLines = ruleLines(canonicalPart.body);
  if (canonicalLines.length !== 1) {
    throw new ReadFailedError(
      `nft could not canonicalise the rule for ${where} (in a scratch network namespace): ${canonicalLines.join(" / ") || "no output"}`,
    );
  }
  const rules = missing
    ? []
    : ruleLines(body).map((line) => {
        const m = /^(.*?)\s+# handle (\d+)$/.exec(line);
        return m ? { text: m[1] as string, handle: Number(m[2]) } : { text: line, handle: -1 };
      });
  return { chainExists: !missing, rules, canonical: canonicalLines[0] as string };
}

export interface NftablesRuleChange extends Change {
  /** What diff decided (planNft without its summary). */
  plan: Omit<NftPlan, "summary">;
}

export interface NftPlan {
  summary: string;
  createChain: boolean;
  deleteHandles: number[];
  append: boolean;
}

/** Pure: what to do, from the state read: diff's summary and the plan apply carries out. */
export function planNft(s: NftablesRuleState, state: "present" | "absent"): NftPlan {
  const none: NftPlan = { summary: "", createChain: false, deleteHandles: [], append: false };
  const copies = s.rules.filter((r) => r.text === s.canonical).map((r) => r.handle);
  if (state === "absent") {
    return copies.length === 0
      ? none
      : { ...none, summary: `remove ${copies.length === 1 ? "1 copy" : `${copies.length} copies`}`, deleteHandles: copies };
  }
  if (!s.chainExists) return { ...none, summary: "create chain, append", createChain: true, append: true };
  if (copies.length === 0) return { ...none, summary: "append", append: true };
  if (copies.length === 1) return none;
  const extra = copies.slice(1);
  return { ...none, summary: `remove ${extra.length === 1 ? "1 duplicate" : `${extra.length} duplicates`}`, deleteHandles: extra };
}
