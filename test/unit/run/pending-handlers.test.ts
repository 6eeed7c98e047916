/**
 * Handlers owed across runs (src/run/pending-handlers.ts), on the mock host: a run cut between a
 * change and its handler leaves the handler recorded on the host; the next check reports it as
 * drift, the next apply runs it (under the lock) and settles the record.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { overallResult } from "../../../src/cli/exit-code.ts";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import type { Step } from "../../../src/playbook/step.ts";
import { file } from "../../../src/steps/file.ts";
import { pendingFileName, recordPendingCommand, settlePendingCommand } from "../../../src/run/pending-handlers.ts";
import { sh } from "../../../src/shell/sh.ts";
import type { MockTransport } from "../../../src/transport/mock.ts";
import { TransportError } from "../../../src/transport/transport.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const OWED = "owed by an earlier run that did not finish";
const RECORD = pendingFileName("site");

/** A key in a store on the mock host; `kv-set` of a key in `cutAfter` loses the connection after it. */
function kvHost(initial: Record<string, string>, cutAfter = new Set<string>()): MockTransport {
  const store = new Map(Object.entries(initial));
  const host = debianHost()
    .on(/^kv-get /, (command) => ({ stdout: store.get(command.split(" ")[1] ?? "") ?? "" }))
    .on(/^kv-set /, (command, _stdin, mock) => {
      const [, key = "", value = ""] = command.split(" ");
      store.set(key, value);
      if (cutAfter.has(key)) mock.failWith = new TransportError(mock.host, "lost", "connection lost");
      return {};
    });
  return host;
}

function kvStep(key: string, desired: string, notify?: string[]): Step<string> {
  return {
    kind: "kv",
    name: `kv ${key}`,
    read: () => ({ command: sh`kv-get ${key}`, parse: (r) => r.stdout.toString("utf8") }),
    diff: (current) => (current === desired ? null : { summary: `${key} → ${desired}` }),
    apply: async ({ session }) => void (await session.runOrThrow(sh`kv-set ${key} ${desired}`)),
    ...(notify ? { notify } : {}),
  };
}

function sitePlaybook(ran: string[], options: { failing?: string } = {}) {
  return definePlaybook({
    name: "site",
    vars: z.object({}),
    steps: () => [kvStep("a", "1", ["reload"]), kvStep("b", "1", ["restart"])],
    handlers: () => ({
      reload: {
        run: async () => {
          if (options.failing === "reload") throw new Error("reload failed");
          ran.push("reload");
        },
      },
      restart: { run: async () => void ran.push("restart") },
    }),
  });
}

const sent = (mock: MockTransport, prefix: string) => mock.commands.filter((c) => c.command.startsWith(prefix)).length;

describe("handlers owed across runs", () => {
  it("a run cut after a change: check reports the owed handler as drift, apply runs it once, then all is quiet", async () => {
    const ran: string[] = [];
    const mock = kvHost({ a: "0", b: "1" }, new Set(["a"]));
    const cut = await runOn(mock, sitePlaybook(ran), "apply");
    expect(["failed", "unreachable"]).toContain(cut.report.status);
    expect(ran).toEqual([]);
    expect(mock.pendingHandlers.get(RECORD)).toEqual(["reload"]);

    // The config is converged now: only the record says the reload is missing.
    mock.failWith = undefined;
    const execsBefore = mock.execs.length;
    const check = await runOn(mock, sitePlaybook(ran), "check");
    expect(check.report.steps.map((s) => s.status)).toEqual(["ok", "ok"]);
    expect(check.report.handlers).toEqual([{ name: "reload", status: "would-run", reason: OWED }]);
    expect(check.report.status).toBe("drift");
    expect(overallResult([check.report]).exitCode).toBe(2);
    expect(mock.execs.length - execsBefore).toBe(2); // facts + one batch: the record read rides along
    expect(ran).toEqual([]);
    expect(mock.pendingHandlers.get(RECORD)).toEqual(["reload"]);
    expect(mock.lockEvents).toEqual(["acquired"]); // the cut run's; check never locks

    mock.lock = null; // the cut run's lock, broken as stale on a real host
    const apply = await runOn(mock, sitePlaybook(ran), "apply");
    expect(apply.report.status).toBe("changed");
    expect(apply.report.handlers).toEqual([{ name: "reload", status: "ran", reason: OWED }]);
    expect(ran).toEqual(["reload"]);
    expect(mock.pendingHandlers.has(RECORD)).toBe(false);
    expect(mock.lockEvents.slice(1)).toEqual(["acquired", "released"]);

    const again = await runOn(mock, sitePlaybook(ran), "apply");
    expect(again.report.status).toBe("ok");
    expect(again.report.handlers).toEqual([]);
    expect(again.report.roundTrips).toBe(2);
    expect(ran).toEqual(["reload"]);
  });

  it("records the handlers before the change they follow, and settles the record with the lock release", async () => {
    const ran: string[] = [];
    const mock = kvHost({ a: "0", b: "0" });
    const { report } = await runOn(mock, sitePlaybook(ran), "apply");
    expect(report.handlers).toEqual([
      { name: "reload", status: "ran" },
      { name: "restart", status: "ran" },
    ]);
    const order = mock.execs.map((e) =>
      e.command.includes("# provision-pending-handlers record")
        ? "record"
        : e.command.startsWith("kv-set")
          ? e.command
          : e.command.includes("# provision-pending-handlers settle")
            ? "settle"
            : "other",
    );
    const interesting = order.filter((o) => o !== "other");
    expect(interesting).toEqual(["record", "kv-set a 1", "record", "kv-set b 1", "settle"]);
    // The settle travels with the lock release: the last exec carries both.
    expect(mock.execs.at(-1)?.command).toContain("# provision-lock release");
    expect(mock.execs.at(-1)?.command).toContain("# provision-pending-handlers settle");
    expect(mock.pendingHandlers.has(RECORD)).toBe(false);
  });

  it("a failed step keeps what it owed; a failed handler stays owed", async () => {
    const ran: string[] = [];
    const mock = kvHost({ a: "0", b: "1" });
    const failing = await runOn(mock, sitePlaybook(ran, { failing: "reload" }), "apply");
    expect(failing.report.status).toBe("failed");
    expect(failing.report.handlers[0]).toMatchObject({ name: "reload", status: "failed" });
    expect(mock.pendingHandlers.get(RECORD)).toEqual(["reload"]);

    const fixed = await runOn(mock, sitePlaybook(ran), "apply");
    expect(fixed.report.handlers).toEqual([{ name: "reload", status: "ran", reason: OWED }]);
    expect(mock.pendingHandlers.has(RECORD)).toBe(false);
  });

  it("a step that notifies an owed handler again: it runs once, as this run's own", async () => {
    const ran: string[] = [];
    const mock = kvHost({ a: "0", b: "1" });
    mock.pendingHandlers.set(RECORD, ["reload", "renamed-since"]);
    const { report } = await runOn(mock, sitePlaybook(ran), "apply");
    expect(report.handlers).toEqual([{ name: "reload", status: "ran" }]);
    expect(ran).toEqual(["reload"]);
    expect(sent(mock, "kv-set")).toBe(1);
    // A name the playbook no longer has is dropped when the record is settled.
    expect(mock.pendingHandlers.has(RECORD)).toBe(false);
  });
});

describe("a step refused before it changed anything (HostUnchangedError) owes nothing", () => {
  const REFUSED = "/work/sshd: Bad configuration option: PasswordAuthenticaton\nprovision: validation failed\n";
  function dropInPlaybook(ran: string[], withEarlierChange = false, content = "PasswordAuthenticaton no\n") {
    return definePlaybook({
      name: "site",
      vars: z.object({}),
      steps: () => [
        ...(withEarlierChange ? [kvStep("a", "1", ["reload"])] : []),
        file({
          path: "/etc/ssh/sshd_config.d/10-x.conf",
          content,
          validate: "sshd -t -f %s",
          notify: ["reload"],
        }),
      ],
      handlers: () => ({ reload: { run: async () => void ran.push("reload") } }),
    });
  }
  const refusing = (mock: MockTransport) =>
    mock.on(
      (c) => c.includes("sshd -t -f"),
      (command) => (command.includes("mv -f") ? { exitCode: 3, stderr: REFUSED } : { exitCode: 127 }),
    );

  it("validation refused: the step fails, the reload recorded before it is taken back, the next check is clean", async () => {
    const ran: string[] = [];
    const mock = refusing(kvHost({ a: "1" }).file("/etc/ssh/sshd_config.d/10-x.conf", "PasswordAuthentication no\n"));
    const refused = await runOn(mock, dropInPlaybook(ran), "apply");
    expect(refused.report.steps[0]).toMatchObject({ status: "failed" });
    expect(refused.report.steps[0]?.error).toContain("validation failed");
    expect(ran).toEqual([]);
    // Recorded before the apply (as always), settled with the lock release once it was refused.
    expect(mock.execs.some((e) => e.command.includes("# provision-pending-handlers record"))).toBe(true);
    expect(mock.execs.at(-1)?.command).toContain("# provision-pending-handlers settle");
    expect(mock.pendingHandlers.has(RECORD)).toBe(false);
    expect(mock.files.get("/etc/ssh/sshd_config.d/10-x.conf")?.content.toString()).toBe("PasswordAuthentication no\n");

    // The typo corrected (what was there all along): converged, nothing owed — exit 0, not 2.
    const check = await runOn(mock, dropInPlaybook(ran, false, "PasswordAuthentication no\n"), "check");
    expect(check.report.steps.map((s) => [s.status, s.summary])).toEqual([["ok", undefined]]);
    expect(check.report.handlers).toEqual([]);
    expect(check.report.status).toBe("ok");
    expect(overallResult([check.report]).exitCode).toBe(0);
    // Still asking for the typo: the drop-in's own drift, and its reload as this run's (no "owed" reason).
    const typo = await runOn(mock, dropInPlaybook(ran), "check");
    expect(typo.report.steps.map((s) => s.status)).toEqual(["would-change"]);
    expect(typo.report.handlers).toEqual([{ name: "reload", status: "would-run" }]);
  });

  it("an earlier step changed and notified the same handler: it stays owed (and is not run: the run failed)", async () => {
    const ran: string[] = [];
    const mock = refusing(kvHost({ a: "0" }).file("/etc/ssh/sshd_config.d/10-x.conf", "PasswordAuthentication no\n"));
    const refused = await runOn(mock, dropInPlaybook(ran, true), "apply");
    expect(refused.report.steps.map((s) => s.status)).toEqual(["changed", "failed"]);
    expect(mock.pendingHandlers.get(RECORD)).toEqual(["reload"]);
  });

  it("any other apply failure keeps what the step owed (it may have changed something)", async () => {
    const ran: string[] = [];
    const mock = kvHost({ a: "1" })
      .file("/etc/ssh/sshd_config.d/10-x.conf", "PasswordAuthentication no\n")
      .on(
        (c) => c.includes("sshd -t -f"),
        (command) => (command.includes("mv -f") ? { exitCode: 1, stderr: "mv: cannot move\n" } : { exitCode: 127 }),
      );
    const failed = await runOn(mock, dropInPlaybook(ran), "apply");
    expect(failed.report.steps[0]?.status).toBe("failed");
    expect(mock.pendingHandlers.get(RECORD)).toEqual(["reload"]);
  });
});

describe("the record's commands", () => {
  it("names the file after the playbook, safely", () => {
    expect(pendingFileName("mail server/../x")).toBe("mail%20server%2F%2E%2E%2Fx");
    expect(pendingFileName("ünï")).toBe("%C3%BCn%C3%AF");
  });

  it("keeps handler names quoted and one per line", () => {
    const record = recordPendingCommand("site", 0, ["reload $(reboot)", "two\nlines"]).text;
    expect(record).toContain(`printf '%s' 'reload $(reboot)\ntwo lines\n'`);
    expect(record).toContain("d=/var/lib/provision/pending-handlers");
    expect(settlePendingCommand("site", 1000, []).text).toContain('rm -f -- "$f"');
    expect(settlePendingCommand("site", 1000, []).text).toContain("${XDG_STATE_HOME:-${HOME:-/nonexistent}/.local/state}");
  });
});
