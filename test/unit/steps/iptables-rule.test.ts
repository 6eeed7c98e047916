import { describe, expect, it } from "vitest";
import { iptablesRule, planFor, type IptablesRuleParams } from "../../../src/steps/iptables-rule.ts";
import { packages } from "../../../src/steps/packages.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

const SMTP = "-A INPUT -p tcp -m tcp --dport 25 -j ACCEPT";
const SUB = "-A INPUT -p tcp -m tcp --dport 587 -j ACCEPT";
const SSH = "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT";
const rule = ["-p", "tcp", "--dport", "587", "-j", "ACCEPT"];

/** What the read prints: `-S CHAIN`, the `-C` code, the canonical form from the scratch netns. */
function readOut(rules: string[], present: boolean, canonical: string | null = SUB): string {
  return [
    "-P INPUT ACCEPT",
    ...rules,
    "@provision:check",
    `rc=${present ? 0 : 1}`,
    "@provision:canonical",
    ...(canonical ? ["-P INPUT ACCEPT", canonical] : []),
    "",
  ].join("\n");
}

const cases: { title: string; params: Partial<IptablesRuleParams>; read: string; summary: string | null; commands: string[] }[] = [
  {
    title: "missing → append",
    params: {},
    read: readOut([SSH], false),
    summary: "append",
    commands: ["iptables -w -t filter -A INPUT -p tcp --dport 587 -j ACCEPT"],
  },
  { title: "present once → ok", params: {}, read: readOut([SSH, SUB], true), summary: null, commands: [] },
  {
    title: "duplicates → the extras go, highest number first",
    params: {},
    read: readOut([SUB, SSH, SUB, SUB], true),
    summary: "remove 2 duplicates",
    commands: ["iptables -w -t filter -D INPUT 4 && iptables -w -t filter -D INPUT 3"],
  },
  {
    title: "position 1, missing → insert at 1",
    params: { position: 1 },
    read: readOut([SSH, SMTP], false),
    summary: "insert at 1",
    commands: ["iptables -w -t filter -I INPUT 1 -p tcp --dport 587 -j ACCEPT"],
  },
  {
    title: "position beyond the chain's end → the end",
    params: { position: 9 },
    read: readOut([SSH], false),
    summary: "insert at 2",
    commands: ["iptables -w -t filter -I INPUT 2 -p tcp --dport 587 -j ACCEPT"],
  },
  {
    title: "position 1, present at 3 → moved",
    params: { position: 1 },
    read: readOut([SSH, SMTP, SUB], true),
    summary: "move to 1 (now 3)",
    commands: ["iptables -w -t filter -D INPUT 3 && iptables -w -t filter -I INPUT 1 -p tcp --dport 587 -j ACCEPT"],
  },
  {
    title: "position 2 with a copy already there → only the duplicate goes",
    params: { position: 2 },
    read: readOut([SSH, SUB, SMTP, SUB], true),
    summary: "remove 1 duplicate",
    commands: ["iptables -w -t filter -D INPUT 4"],
  },
  { title: "position 9 and last already → ok", params: { position: 9 }, read: readOut([SSH, SUB], true), summary: null, commands: [] },
  {
    title: "absent: every copy goes",
    params: { state: "absent" },
    read: readOut([SUB, SSH, SUB], true),
    summary: "remove 2 copies",
    commands: ["iptables -w -t filter -D INPUT 3 && iptables -w -t filter -D INPUT 1"],
  },
  { title: "absent and not there → ok", params: { state: "absent" }, read: readOut([SSH], false), summary: null, commands: [] },
  {
    title: "no scratch netns (unshare refused): -C decides presence",
    params: { position: 1 },
    read: readOut([SSH, SUB], true, null),
    summary: null,
    commands: [],
  },
  {
    title: "no scratch netns, absent: delete by spec while -C finds it (bounded)",
    params: { state: "absent" },
    read: readOut([SUB], true, null),
    summary: "remove",
    commands: [
      `i=0; while [ "$i" -lt 100 ] && iptables -w -t filter -C INPUT -p tcp --dport 587 -j ACCEPT 2>/dev/null; do iptables -w -t filter -D INPUT -p tcp --dport 587 -j ACCEPT || exit 1; i=$((i+1)); done`,
    ],
  },
];

describe("iptablesRule", () => {
  it.each(cases)("$title", async (c) => {
    const params = { chain: "INPUT", rule, ...c.params } as IptablesRuleParams;
    const check = mockHost("debian12").on("-S INPUT", { stdout: c.read });
    const checked = await run(check, "check", () => [iptablesRule(params)]);
    expect(checked.step?.summary).toBe(c.summary ?? undefined);
    expect(checked.step?.status).toBe(c.summary ? "would-change" : "ok");

    const host = mockHost("debian12")
      .on(/^iptables -w -t filter -[DIA]|^i=0/, { exitCode: 0 })
      .on("-S INPUT", { stdout: c.read });
    const result = await run(host, "apply", () => [iptablesRule(params)]);
    expect(result.step?.status).toBe(c.summary ? "changed" : "ok");
    expect(applied(host)).toEqual(c.commands);
  });

  it("ipv6 uses ip6tables everywhere, the rule quoted as argv words", async () => {
    const host = mockHost("debian12").on("-S INPUT", { stdout: readOut([], false, null) });
    await run(host, "check", () => [
      iptablesRule({ chain: "INPUT", family: "ipv6", rule: ["-m", "comment", "--comment", "it's mail", "-j", "ACCEPT"] }),
    ]);
    const read = host.commands.find((c) => c.batched)?.command ?? "";
    expect(read).toContain("ip6tables -w -t filter -S INPUT || exit\n");
    expect(read).toContain(`ip6tables -w -t filter -C INPUT -m comment --comment 'it'\\''s mail' -j ACCEPT`);
    expect(read).toContain("unshare -n sh -c ");
    expect(read).not.toMatch(/(^|[^6])iptables /);
  });

  it("a chain that does not exist fails the read", async () => {
    const host = mockHost("debian12").on("-S NOPE", { exitCode: 3, stderr: "iptables: No chain/target/match by that name.\n" });
    const { step } = await run(host, "check", () => [iptablesRule({ chain: "NOPE", rule })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("No chain/target/match");
  });

  it.each([
    ["ipv4", "iptables"],
    ["ipv6", "ip6tables"],
  ] as const)("a host without %s's tool: the kit's one error, made by the runner", async (family, tool) => {
    // The tool's own exit goes through (`|| exit`, was `|| exit 3`): the shell's 127 names it.
    const host = mockHost("debian12").on(`${tool} -w -t filter -S INPUT`, { exitCode: 127, stderr: `sh: 1: ${tool}: not found\n` });
    const step = iptablesRule({ chain: "INPUT", family, rule });
    expect(step.read()).toMatchObject({ requiresTools: [tool] });
    const { step: result } = await run(host, "check", () => [step]);
    expect(result?.status).toBe("failed");
    expect(result?.error).toBe(`${tool} not found on debian12: is iptables installed?`);
  });

  it("--check: a missing iptables that a pending packages change installs is unknown, not a failure", async () => {
    const host = mockHost("debian12")
      .on("dpkg-query", { stdout: "iptables\tunknown ok not-installed\t\n@provision:rc 1\n@provision:lists\n" })
      .on("iptables -w -t filter -S INPUT", { exitCode: 127, stderr: "sh: 1: iptables: not found\n" });
    const { report } = await run(host, "check", (facts) => [
      packages(facts, { names: ["iptables"] }),
      iptablesRule({ chain: "INPUT", rule }),
    ]);
    const [install, ruleStep] = report.steps;
    expect(install).toMatchObject({ status: "would-change", summary: "install iptables" });
    expect(ruleStep?.status).toBe("unknown");
    expect(ruleStep?.summary).toBe(
      `depends on a pending change of step "${install?.name}" (iptables not found on debian12: is iptables installed?)`,
    );
    expect(report.status).toBe("drift");
  });

  it("planFor is pure and agrees with itself after the change", () => {
    const before = { rules: [SSH, SUB, SMTP, SUB], present: true, canonical: SUB };
    expect(planFor(before, "present", 1).summary).toBe("remove 1 duplicate, move to 1");
    expect(planFor({ rules: [SUB, SSH, SMTP], present: true, canonical: SUB }, "present", 1).summary).toBe("");
  });
});
