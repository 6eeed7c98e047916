import { describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { flushHandlers, InvalidStepError, type Step } from "../../../src/playbook/step.ts";
import { sh } from "../../../src/shell/sh.ts";
import { file } from "../../../src/steps/file.ts";
import { overallResult } from "../../../src/cli/exit-code.ts";
import type { MockTransport } from "../../../src/transport/mock.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const MOTD = "/etc/motd";

function motdPlaybook(content = "welcome\n") {
  return definePlaybook({
    name: "motd",
    vars: z.object({}),
    steps: () => [file({ path: MOTD, content, mode: "0644", notify: ["announce"] })],
    handlers: () => ({ announce: { run: async ({ session }) => void (await session.runOrThrow(sh`logger motd-changed`)) } }),
  });
}

/** A step over a key in a fake key-value store on the mock host: `kv-get KEY` / `kv-set KEY VALUE`. */
function kvStep(key: string, desired: string, extra: Partial<Step<string>> = {}): Step<string> {
  return {
    kind: "kv",
    name: `kv ${key}`,
    read: () => ({
      command: sh`kv-get ${key}`,
      parse: (result) => {
        if (result.exitCode !== 0) throw new Error(`kv-get exited ${result.exitCode}`);
        return result.stdout.toString("utf8");
      },
    }),
    diff: (current) => (current === desired ? null : { summary: `${key}: ${current || "(unset)"} → ${desired}` }),
    apply: async ({ session }) => void (await session.runOrThrow(sh`kv-set ${key} ${desired}`)),
    ...extra,
  };
}

function kvHost(initial: Record<string, string>): MockTransport {
  const store = new Map(Object.entries(initial));
  return debianHost()
    .on(/^kv-get /, (command) => {
      const key = command.split(" ")[1] ?? "";
      return store.has(key) ? { stdout: store.get(key) } : { exitCode: 3, stderr: `kv-get: no such key ${key}\n` };
    })
    .on(/^kv-set /, (command) => {
      const [, key, value] = command.split(" ");
      store.set(key ?? "", value ?? "");
      return {};
    })
    .on(/^logger /, {});
}

describe("host runner", () => {
  it("reports 0 changes and exit 0 on a converged host", async () => {
    const mock = debianHost().file(MOTD, "welcome\n", { mode: "0644" });
    const { report } = await runOn(mock, motdPlaybook(), "apply");
    expect(report.status).toBe("ok");
    expect(report.counts).toMatchObject({ ok: 1, changed: 0, wouldChange: 0, failed: 0 });
    expect(overallResult([report]).exitCode).toBe(0);
    expect(report.handlers).toEqual([]);
  });

  it("reports drift as would-change with a unified diff, exit 2", async () => {
    const mock = debianHost().file(MOTD, "old text\n", { mode: "0644" });
    const { report } = await runOn(mock, motdPlaybook(), "check");
    expect(report.status).toBe("drift");
    const [step] = report.steps;
    expect(step?.status).toBe("would-change");
    expect(step?.summary).toBe("content");
    expect(step?.diff).toContain("-old text");
    expect(step?.diff).toContain("+welcome");
    expect(report.handlers).toEqual([{ name: "announce", status: "would-run" }]);
    expect(overallResult([report]).exitCode).toBe(2);
    expect(mock.files.get(MOTD)?.content.toString()).toBe("old text\n");
  });

  it("sends nothing but the steps' reads in check mode", async () => {
    const mock = kvHost({ a: "1", b: "2" });
    mock.file(MOTD, "old\n");
    const steps = [kvStep("a", "9"), kvStep("b", "2"), file({ path: MOTD, content: "new\n" })];
    const playbook = definePlaybook({ name: "p", vars: z.object({}), steps: () => steps });
    const { report } = await runOn(mock, playbook, "check");
    // kv a provides everything (it declares nothing): the file's drift is unknown until it is applied.
    expect(report.steps.map((s) => s.status)).toEqual(["would-change", "ok", "unknown"]);
    const allowedReads = new Set(steps.map((step) => (step.read() as { command: { text: string } }).command.text));
    const sent = mock.commands.map((c) => c.command);
    // The first command is the facts probe; every other command must be one of the steps' reads.
    expect(sent[0]).toMatch(/^# provision-facts v1 \{\}\necho "hostname=/);
    for (const command of sent.slice(1)) expect(allowedReads.has(command), `non-read command sent: ${command}`).toBe(true);
    expect(sent.some((c) => c.startsWith("kv-set") || c.includes("mktemp"))).toBe(false);
  });

  it("reads N steps in one round trip", async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `k${i}`);
    const mock = kvHost(Object.fromEntries(keys.map((k) => [k, "v"])));
    const playbook = definePlaybook({ name: "p", vars: z.object({}), steps: () => keys.map((k) => kvStep(k, "v")) });
    const { report } = await runOn(mock, playbook, "check");
    expect(report.counts.ok).toBe(25);
    expect(mock.execs).toHaveLength(2); // facts + one batch
    expect(report.roundTrips).toBe(2);
    expect(report.readRoundTrips).toBe(2);
  });

  it("reads the later steps again, together, after an apply", async () => {
    const mock = kvHost({ a: "1", b: "2", c: "3" });
    const playbook = definePlaybook({
      name: "p",
      vars: z.object({}),
      steps: () => [kvStep("a", "x"), kvStep("b", "2"), kvStep("c", "3")],
    });
    const { report } = await runOn(mock, playbook, "apply");
    expect(report.steps.map((s) => s.status)).toEqual(["changed", "ok", "ok"]);
    // facts, first batch, host lock + fresh read of a, b, c (one batch), kv-set, one re-read batch
    // of b and c, lock release
    expect(mock.execs).toHaveLength(6);
    expect(mock.lockEvents).toEqual(["acquired", "released"]);
  });

  it("stops a host at a failing step; later steps are skipped; exit 1", async () => {
    const mock = kvHost({ a: "1", c: "3" }).on(/^kv-set b /, { exitCode: 5, stderr: "disk full\n" });
    mock.on(/^kv-get b/, { stdout: "old" });
    const playbook = definePlaybook({
      name: "p",
      vars: z.object({}),
      steps: () => [kvStep("a", "1"), kvStep("b", "new"), kvStep("c", "x")],
    });
    const { report } = await runOn(mock, playbook, "apply");
    expect(report.steps.map((s) => s.status)).toEqual(["ok", "failed", "skipped"]);
    expect(report.status).toBe("failed");
    expect(report.steps[1]?.error).toContain("exit code 5");
    expect(report.steps[1]?.error).toContain("disk full");
    expect(report.steps[1]?.error).toContain("kv-set b new");
    expect(mock.commands.some((c) => c.command.startsWith("kv-set c"))).toBe(false);
    expect(overallResult([report]).exitCode).toBe(1);
  });

  it("runs each notified handler once, after the steps, only when something changed", async () => {
    const ran: string[] = [];
    const handlers = () => ({
      reload: { run: async () => void ran.push("reload") },
      restart: { run: async () => void ran.push("restart") },
    });
    const steps = () => [
      kvStep("a", "1", { notify: ["reload"] }),
      kvStep("b", "2", { notify: ["reload"] }),
      kvStep("c", "3", { notify: ["restart"] }),
    ];
    const playbook = definePlaybook({ name: "p", vars: z.object({}), steps, handlers });

    const drifted = kvHost({ a: "0", b: "0", c: "3" });
    const first = await runOn(drifted, playbook, "apply");
    expect(first.report.steps.map((s) => s.status)).toEqual(["changed", "changed", "ok"]);
    expect(ran).toEqual(["reload"]);
    expect(first.report.handlers).toEqual([{ name: "reload", status: "ran" }]);

    ran.length = 0;
    const second = await runOn(drifted, playbook, "apply");
    expect(second.report.status).toBe("ok");
    expect(second.report.counts.ok).toBe(3);
    expect(ran).toEqual([]);
    expect(second.report.handlers).toEqual([]);
  });

  it("runs notified handlers at a flushHandlers marker, before later steps", async () => {
    const order: string[] = [];
    const mock = kvHost({ a: "0", b: "0" });
    const playbook = definePlaybook({
      name: "p",
      vars: z.object({}),
      steps: () => [kvStep("a", "1", { notify: ["h"] }), flushHandlers(), kvStep("b", "1", { notify: ["h"] })],
      handlers: () => ({ h: { run: async () => void order.push("h") } }),
    });
    await runOn(mock, playbook, "apply");
    expect(order).toEqual(["h", "h"]);
  });

  it("refuses a notify that names no handler, before any change", async () => {
    const mock = kvHost({ a: "0" });
    const playbook = definePlaybook({ name: "p", vars: z.object({}), steps: () => [kvStep("a", "1", { notify: ["relaod"] })] });
    const { report } = await runOn(mock, playbook, "apply");
    expect(report.status).toBe("failed");
    expect(report.error).toContain('notifies "relaod"');
    expect(mock.commands.some((c) => c.command.startsWith("kv-set"))).toBe(false);
  });

  it("reports unknown for a step whose state depends on a pending change (check mode only)", async () => {
    // b cannot be read until a is applied (think: the package that creates a config file).
    const mock = kvHost({ a: "0" });
    const playbook = definePlaybook({ name: "p", vars: z.object({}), steps: () => [kvStep("a", "1"), kvStep("b", "1")] });
    const { report } = await runOn(mock, playbook, "check");
    expect(report.steps.map((s) => s.status)).toEqual(["would-change", "unknown"]);
    expect(report.steps[1]?.summary).toContain("depends on a pending change");
    expect(overallResult([report]).exitCode).toBe(2);

    // Without a pending change, an unreadable state is a failure, not a guess.
    const alone = definePlaybook({ name: "p", vars: z.object({}), steps: () => [kvStep("b", "1")] });
    const { report: failed } = await runOn(kvHost({}), alone, "check");
    expect(failed.steps[0]?.status).toBe("failed");
    expect(failed.steps[0]?.error).toContain("no such key b");
    expect(failed.steps[0]?.error).toContain("exit code: 3");
  });

  it("fails the host before any change when a step's input is invalid", async () => {
    const invalid = kvStep("b", "1", {
      diff: () => {
        throw new InvalidStepError("unknown parameter b");
      },
    });
    const mock = kvHost({ a: "0", b: "0" });
    const playbook = definePlaybook({ name: "p", vars: z.object({}), steps: () => [kvStep("a", "1"), invalid] });
    const { report } = await runOn(mock, playbook, "apply");
    expect(report.status).toBe("failed");
    expect(report.error).toContain('step "kv b": unknown parameter b');
    expect(mock.commands.some((c) => c.command.startsWith("kv-set"))).toBe(false);
  });

  it("treats a read-only step whose check fails as drift in check mode and as a failure in apply mode", async () => {
    const verify = kvStep("port", "open", { apply: undefined, kind: "verify" });
    const playbook = definePlaybook({ name: "p", vars: z.object({}), steps: () => [verify] });
    const check = await runOn(kvHost({ port: "closed" }), playbook, "check");
    expect(check.report.steps[0]?.status).toBe("would-change");
    const apply = await runOn(kvHost({ port: "closed" }), playbook, "apply");
    expect(apply.report.steps[0]?.status).toBe("failed");
    expect(apply.report.steps[0]?.error).toContain("port: closed → open");
  });

  it("reports an unreachable host without running anything", async () => {
    const playbook = motdPlaybook();
    const { runHost } = await import("../../../src/run/host-runner.ts");
    const { TransportError } = await import("../../../src/transport/transport.ts");
    const report = await runHost({
      playbook,
      vars: {},
      host: { name: "gone", address: "gone" },
      connect: async () => {
        throw new TransportError("gone", "connect", "connection refused");
      },
      mode: "check",
    });
    expect(report.status).toBe("unreachable");
    expect(report.error).toBe("gone: connection refused");
    expect(overallResult([report]).exitCode).toBe(1);
  });
});
