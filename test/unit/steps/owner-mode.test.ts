import { describe, expect, it } from "vitest";
import { ownerMode } from "../../../src/steps/owner-mode.ts";
import { packages } from "../../../src/steps/packages.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

describe("ownerMode", () => {
  it.each([
    { meta: { owner: "root", group: "sasl", mode: "0660" }, summary: "owner root → postfix", commands: ["chown -- postfix /etc/sasldb2"] },
    {
      meta: { owner: "root", group: "root", mode: "0644" },
      summary: "owner root → postfix, group root → sasl, mode 0644 → 0660",
      commands: ["chown -- postfix:sasl /etc/sasldb2 && chmod -- 0660 /etc/sasldb2"],
    },
    { meta: { owner: "postfix", group: "sasl", mode: "0660" }, summary: null, commands: [] },
  ])("$summary", async ({ meta, summary, commands }) => {
    for (const mode of ["check", "apply"] as const) {
      const host = mockHost("debian12")
        .file("/etc/sasldb2", "", meta)
        .on(/^chown|^chmod/, { exitCode: 0 });
      const { step } = await run(host, mode, () => [ownerMode({ path: "/etc/sasldb2", owner: "postfix", group: "sasl", mode: "660" })]);
      expect(step?.status).toBe(summary ? (mode === "check" ? "would-change" : "changed") : "ok");
      expect(step?.summary).toBe(summary ?? undefined);
      expect(applied(host)).toEqual(mode === "check" ? [] : commands);
    }
  });

  it("a missing path is a read error: unknown after a pending change, failed otherwise", async () => {
    const host = mockHost("debian12").on("dpkg-query", { stdout: "@provision:rc 1\n@provision:lists\n" });
    const { report } = await run(host, "check", (facts) => [
      packages(facts, { names: ["sasl2-bin"] }),
      ownerMode({ path: "/etc/sasldb2", owner: "postfix" }),
    ]);
    expect(report.steps.map((s) => s.status)).toEqual(["would-change", "unknown"]);
    const alone = await run(mockHost("debian12"), "check", () => [ownerMode({ path: "/etc/sasldb2", owner: "postfix" })]);
    expect(alone.step?.status).toBe("failed");
    expect(alone.step?.error).toContain("/etc/sasldb2 does not exist");
  });

  it("needs something to set", () => {
    expect(() => ownerMode({ path: "/etc/sasldb2" })).toThrow(/at least one/);
  });
});
