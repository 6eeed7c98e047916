import { describe, expect, it } from "vitest";
import { nftablesPersist, NFTABLES_HEADER } from "../../../src/steps/nftables-persist.ts";
import { nftablesRule } from "../../../src/steps/nftables-rule.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

/**
 * `nft -s list ruleset` on a Debian 12 test host after
 * `nft add table inet filter; nft add chain inet filter input '{ type filter hook input priority filter; policy accept; }';
 * nft add rule inet filter input tcp dport 587 counter accept` (-s: the counter without its values).
 */
const LIVE =
  "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\ttcp dport 587 counter accept\n\t}\n}\n";
const LIVE_WITH_25 = LIVE.replace("\t}\n}\n", "\t\ttcp dport 25 counter accept\n\t}\n}\n");
/** Debian 12's own /etc/nftables.conf (`ls -l`: -rwxr-xr-x root root 243), from `cat /etc/nftables.conf`. */
const DEBIAN_DEFAULT =
  "#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter;\n\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter;\n\t}\n\tchain output {\n\t\ttype filter hook output priority filter;\n\t}\n}\n";

const readOut = (live: string, file: string | null) =>
  `${live}@provision:file\n` + (file === null ? "@provision:absent\n" : `root root 0755 regular file\n${file}`);

const cases: { title: string; file: string | null; summary: string | null }[] = [
  { title: "Debian's default file ≠ live ruleset → update", file: DEBIAN_DEFAULT, summary: "update /etc/nftables.conf" },
  { title: "no file → create", file: null, summary: "create /etc/nftables.conf" },
  { title: "saved already → ok", file: NFTABLES_HEADER + LIVE, summary: null },
  {
    title: "saved, with other blank lines, comments and indentation → ok",
    file: `#!/usr/sbin/nft -f\n# saved by hand\nflush ruleset\n${LIVE.replace(/\t/g, "    ")}\n\n`,
    summary: null,
  },
];

describe("nftablesPersist", () => {
  it.each(cases)("$title", async (c) => {
    const check = mockHost("debian12").on("nft -s list ruleset", { stdout: readOut(LIVE, c.file) });
    const { step } = await run(check, "check", () => [nftablesPersist()]);
    expect(step?.status).toBe(c.summary ? "would-change" : "ok");
    expect(step?.summary).toBe(c.summary ?? undefined);

    const host = mockHost("debian12")
      .on(() => true, { exitCode: 0 })
      .on("nft -s list ruleset", { stdout: readOut(LIVE, c.file) });
    const result = await run(host, "apply", () => [nftablesPersist()]);
    expect(result.step?.status).toBe(c.summary ? "changed" : "ok");
    const writes = applied(host);
    expect(writes.length).toBe(c.summary ? 1 : 0);
    if (c.summary) {
      // Checked by nft on the temp file before it replaces /etc/nftables.conf, mode kept 0755.
      expect(writes[0]).toContain("nft -c -f ");
      expect(writes[0]).toContain("0755");
      const stdin = host.commands.find((x) => !x.batched && x.command === writes[0])?.stdin.toString() ?? "";
      expect(stdin).toContain(NFTABLES_HEADER + LIVE);
    }
  });

  it("--check: a pending rule makes the save unknown (it was a would-change naming an update apply would not make)", async () => {
    const host = mockHost("debian12")
      .on("nft -a list chain", { stdout: `@provision:chain 0\n${LIVE}@provision:canonical\n${LIVE.replace("587", "25")}` })
      .on("nft -s list ruleset", { stdout: readOut(LIVE, NFTABLES_HEADER + LIVE_WITH_25) });
    const { report } = await run(host, "check", () => [
      nftablesRule({ family: "inet", table: "filter", chain: "input", rule: "tcp dport 25 counter accept" }),
      nftablesPersist(),
    ]);
    expect(
      report.steps.map((s) => s.status),
      JSON.stringify(report.steps),
    ).toEqual(["would-change", "unknown"]);
    expect(report.steps[1]?.summary).toContain("depends on a pending change of step");
  });

  it("table: saves that one table (no flush ruleset: other tables, iptables-nft's, are not wiped at boot)", async () => {
    const TABLE =
      "table inet provision {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\ttcp dport 22 accept\n\t}\n}\n";
    const header = "#!/usr/sbin/nft -f\ntable inet provision\ndelete table inet provision\n\n";
    const persist = () => [nftablesPersist({ table: { family: "inet", name: "provision" } })];
    const listed = (file: string | null) => ({ stdout: readOut(TABLE, file) });
    const converged = mockHost("debian12").on("nft -s list table inet provision", listed(header + TABLE));
    expect((await run(converged, "check", persist)).step?.status).toBe("ok");
    expect(converged.commands.find((c) => c.batched)?.command).toContain("nft -s list table inet provision");
    expect(converged.commands.some((c) => c.command.includes("list ruleset"))).toBe(false);

    const fresh = mockHost("debian12")
      .on(() => true, { exitCode: 0 })
      .on("nft -s list table inet provision", listed(null));
    const result = await run(fresh, "apply", persist);
    expect(result.step?.status).toBe("changed");
    const [write] = applied(fresh);
    const stdin = fresh.commands.find((x) => !x.batched && x.command === write)?.stdin.toString() ?? "";
    expect(stdin).toContain(header + TABLE);
    expect(stdin).not.toContain("flush ruleset");
    expect(write).toContain("nft -c -f ");
  });

  it("a failing nft fails the read", async () => {
    const host = mockHost("debian12").on("nft -s list ruleset", { exitCode: 3, stderr: "sh: 1: nft: not found\n" });
    const { step } = await run(host, "check", () => [nftablesPersist()]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("nft: not found");
  });

  it.each([
    ["the whole ruleset", () => nftablesPersist()],
    ["one table", () => nftablesPersist({ table: { family: "inet", name: "provision" } })],
  ])("a host without nft (%s): the kit's one error, made by the runner", async (_label, persist) => {
    // needTool("nft") fails the read as the shell does (exit 127), before `|| exit 3` can hide it.
    const host = mockHost("debian12").on(/^command -v nft /, { exitCode: 127, stderr: "nft: not found\n" });
    const { step } = await run(host, "check", () => [persist()]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toBe("nft not found on debian12: is nftables installed?");
    const text = (persist().read() as { command: { text: string } }).command.text;
    expect(text).toMatch(/^command -v nft >\/dev\/null 2>&1 \|\| \{ echo 'nft: not found' >&2; exit 127; \}\n/);
    expect(text).toContain("\necho @provision:file; ");
  });

  it("depends on the live rules: every nftables and iptables(-nft) chain; with table, that table's chains", () => {
    expect(nftablesPersist().requires).toEqual(["nftables:*", "iptables:*", "path:/etc/nftables.conf"]);
    expect(nftablesPersist({ table: { family: "inet", name: "provision" } }).requires).toEqual([
      "nftables:inet:provision:*",
      "path:/etc/nftables.conf",
    ]);
    expect(() => nftablesPersist({ path: "relative" })).toThrow(/path: must be an absolute path/);
  });
});
