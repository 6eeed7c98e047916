import { describe, expect, it } from "vitest";
import { nftablesRule, type NftablesRuleParams } from "../../../src/steps/nftables-rule.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

/**
 * The read's output as a Debian 12 test host printed it (nftables 1.0.6): the read command
 * (`nftablesRule(params).read().command.text`) sent with `ssh root@10.213.9.10 sh -s < read.sh`.
 */
const CANONICAL_587 =
  "@provision:canonical\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\ttcp dport 587 accept\n\t}\n}\n";
const NO_CHAIN = "@provision:chain 1\nError: No such file or directory\nlist chain inet filter input\n                ^^^^^^\n";
const REAL = {
  // { chain: "input", rule: "tcp dport 587 accept" }, empty ruleset (nftables disabled at boot)
  emptyRuleset: NO_CHAIN + CANONICAL_587,
  // the same after `nft add rule inet filter input tcp dport 22 accept`, then 587 twice
  duplicates:
    "@provision:chain 0\ntable inet filter {\n\tchain input { # handle 1\n\t\ttype filter hook input priority filter; policy accept;\n\t\ttcp dport 22 accept # handle 2\n\t\ttcp dport 587 accept # handle 3\n\t\ttcp dport 587 accept # handle 4\n\t}\n}\n" +
    CANONICAL_587,
  // { chain: "input", rule: "tcp dport { 25, 587 } ip saddr 10.0.0.0/8 accept" }, empty ruleset
  setCanonical:
    NO_CHAIN +
    "@provision:canonical\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\ttcp dport { 25, 587 } ip saddr 10.0.0.0/8 accept\n\t}\n}\n",
  // { chain: "input", rule: "tcp dport 587 acept" }
  syntaxError:
    NO_CHAIN +
    "@provision:canonical\nError: syntax error, unexpected newline\nadd rule inet filter input tcp dport 587 acept\n                                              ^\n",
};
const chainWith = (lines: string[]) =>
  `@provision:chain 0\ntable inet filter {\n\tchain input { # handle 1\n\t\ttype filter hook input priority filter; policy accept;\n${lines.map((l) => `\t\t${l}\n`).join("")}\t}\n}\n` +
  CANONICAL_587;

const rule = "tcp dport 587 accept";
const cases: { title: string; params: Partial<NftablesRuleParams>; read: string; summary: string | null; commands: string[] }[] = [
  {
    title: "empty ruleset → table and base chain (policy accept) created, rule added",
    params: {},
    read: REAL.emptyRuleset,
    summary: "create chain, append",
    commands: [
      "nft add table inet filter && nft add chain inet filter input '{ type filter hook input priority filter; policy accept; }' && nft add rule inet filter input 'tcp dport 587 accept'",
    ],
  },
  {
    title: "present once → ok",
    params: {},
    read: chainWith(["tcp dport 22 accept # handle 2", "tcp dport 587 accept # handle 3"]),
    summary: null,
    commands: [],
  },
  {
    title: "missing from an existing chain → append",
    params: {},
    read: chainWith(["tcp dport 22 accept # handle 2"]),
    summary: "append",
    commands: ["nft add rule inet filter input 'tcp dport 587 accept'"],
  },
  {
    title: "duplicates → the extras go by handle",
    params: {},
    read: REAL.duplicates,
    summary: "remove 1 duplicate",
    commands: ["nft delete rule inet filter input handle 4"],
  },
  {
    title: "absent → every copy goes",
    params: { state: "absent" },
    read: REAL.duplicates,
    summary: "remove 2 copies",
    commands: ["nft delete rule inet filter input handle 3 && nft delete rule inet filter input handle 4"],
  },
  { title: "absent, no chain → ok", params: { state: "absent" }, read: REAL.emptyRuleset, summary: null, commands: [] },
  {
    title: "a similar but different rule is not the rule",
    params: {},
    read: chainWith(["tcp dport 587 drop # handle 2", "udp dport 587 accept # handle 3"]),
    summary: "append",
    commands: ["nft add rule inet filter input 'tcp dport 587 accept'"],
  },
];

describe("nftablesRule", () => {
  it.each(cases)("$title", async (c) => {
    const params = { chain: "input", rule, ...c.params } as NftablesRuleParams;
    const check = mockHost("debian12").on("nft -a list chain", { stdout: c.read });
    const checked = await run(check, "check", () => [nftablesRule(params)]);
    expect(checked.step?.summary).toBe(c.summary ?? undefined);
    expect(checked.step?.status).toBe(c.summary ? "would-change" : "ok");
    expect(applied(check)).toEqual([]);

    const host = mockHost("debian12")
      .on(/^nft (add|delete)/, { exitCode: 0 })
      .on("nft -a list chain", { stdout: c.read });
    const result = await run(host, "apply", () => [nftablesRule(params)]);
    expect(result.step?.status).toBe(c.summary ? "changed" : "ok");
    expect(applied(host)).toEqual(c.commands);
  });

  it("compares nft's canonical form, not the text written", async () => {
    const written = "tcp dport {25,587} ip saddr 10.0.0.0/8 accept";
    const host = mockHost("debian12").on("nft -a list chain", {
      stdout: chainWith(["tcp dport { 25, 587 } ip saddr 10.0.0.0/8 accept # handle 7"]).replace(
        CANONICAL_587,
        REAL.setCanonical.slice(NO_CHAIN.length),
      ),
    });
    const { step } = await run(host, "check", () => [nftablesRule({ chain: "input", rule: written })]);
    expect(step?.status).toBe("ok");
  });

  it("a rule nft refuses fails the read with nft's error", async () => {
    const host = mockHost("debian12").on("nft -a list chain", { stdout: REAL.syntaxError });
    const { step } = await run(host, "check", () => [nftablesRule({ chain: "input", rule: "tcp dport 587 acept" })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("could not canonicalise");
    expect(step?.error).toContain("Error: syntax error, unexpected newline");
  });

  it("a host without nft: the kit's one error, made by the runner", async () => {
    // needTool("nft") fails the read as the shell does (exit 127, "nft: not found").
    const host = mockHost("debian12").on("nft -a list chain", { exitCode: 127, stderr: "nft: not found\n" });
    const { step } = await run(host, "check", () => [nftablesRule({ chain: "input", rule })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toBe("nft not found on debian12: is nftables installed?");
    const read = nftablesRule({ chain: "input", rule }).read() as { command: { text: string } };
    expect(read.command.text).toMatch(/^command -v nft >\/dev\/null 2>&1 \|\| \{ echo 'nft: not found' >&2; exit 127; \}\n/);
    expect(read.command.text).toContain('echo @provision:chain "$rc"');
    expect(read.command.text).toContain("echo @provision:canonical;");
  });

  it("another nft error (not a missing chain) fails the read", async () => {
    const host = mockHost("debian12").on("nft -a list chain", {
      stdout: "@provision:chain 1\nError: Could not process rule: Operation not permitted\n" + CANONICAL_587,
    });
    const { step } = await run(host, "check", () => [nftablesRule({ chain: "input", rule })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("Operation not permitted");
  });

  it.each([
    ["tcp dport 587 accept; flush ruleset", /rule: must be one nft rule/],
    ["tcp dport 587 accept\nflush ruleset", /rule: must be one nft rule/],
    ["accept # hidden", /rule: must be one nft rule/],
  ])("refuses a rule that could hold a second command: %j", (bad, error) => {
    expect(() => nftablesRule({ chain: "input", rule: bad })).toThrow(error);
  });

  it("refuses bad names and unknown parameters", () => {
    expect(() => nftablesRule({ chain: "in put", rule })).toThrow(/chain: must be an nftables name/);
    expect(() => nftablesRule({ chain: "input", table: "-x", rule })).toThrow(/table: must be an nftables name/);
    expect(() => nftablesRule({ chain: "input", rule, famliy: "ip" } as unknown as NftablesRuleParams)).toThrow(/did you mean "family"/);
  });
});
