/**
 * A failed step's error says what went wrong; the report (and so every summary line) names the
 * step once. Summaries used to read `step "X": step "X": …` (apply failures) and
 * `step "X": host: step "X": cannot read …` (read failures).
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import type { Step } from "../../../src/playbook/step.ts";
import { failureReason } from "../../../src/report/terminal-reporter.ts";
import { sh } from "../../../src/shell/sh.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const step: Step<string> = {
  kind: "kv",
  name: "kv b",
  read: () => ({
    command: sh`kv-get b`,
    parse: (result) => {
      if (result.exitCode !== 0) throw new Error(`kv-get exited ${result.exitCode}`);
      return result.stdout.toString();
    },
  }),
  diff: (current) => (current === "new" ? null : { summary: `b: ${current} → new` }),
  apply: async ({ session }) => void (await session.runOrThrow(sh`kv-set b new`)),
};
const playbook = definePlaybook({ name: "p", vars: z.object({}), steps: () => [step] });
const occurrences = (text: string, what: string) => text.split(what).length - 1;

describe("step errors name the step once", () => {
  it("an apply failure", async () => {
    const mock = debianHost()
      .on(/^kv-get b/, { stdout: "old" })
      .on(/^kv-set b/, { exitCode: 5, stderr: "disk full\n" });
    const { report } = await runOn(mock, playbook, "apply");
    const reason = failureReason(report) ?? "";
    expect(reason).toBe('step "kv b": mail1: command failed with exit code 5: disk full'); // the cause first: the command only with -v
    expect(occurrences(report.steps[0]?.error ?? "", 'step "kv b"')).toBe(0);
  });

  it("a read failure (check and apply)", async () => {
    for (const mode of ["check", "apply"] as const) {
      const mock = debianHost().on(/^kv-get b/, { exitCode: 3, stderr: "no such key\n" });
      const { report } = await runOn(mock, playbook, mode);
      const reason = failureReason(report) ?? "";
      expect(reason).toBe('step "kv b": mail1: cannot read current state: kv-get exited 3');
      expect(report.steps[0]?.error).toContain("stderr: no such key");
    }
  });

  it("a verification that fails in apply mode: its problem, once", async () => {
    const verify = { ...step, apply: undefined };
    const mock = debianHost().on(/^kv-get b/, { stdout: "old" });
    const { report } = await runOn(mock, definePlaybook({ name: "p", vars: z.object({}), steps: () => [verify] }), "apply");
    expect(failureReason(report)).toBe('step "kv b": b: old → new');
  });
});
