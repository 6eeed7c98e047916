/**
 * The host lock (src/run/host-lock.ts): the runner's use of it with the mock host, and the lock
 * script itself run by the real /bin/sh of this machine on a lock path in a temp dir (never the
 * machine's own /run/provision.lock, which other runs on this machine may be using).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { sh, type ShellCommand } from "../../../src/shell/sh.ts";
import type { Step } from "../../../src/playbook/step.ts";
import {
  acquireLockCommand,
  brokenLockMessage,
  lockedMessage,
  newLockOwner,
  parseLockResult,
  releaseLockCommand,
  ROOT_LOCK_PATH,
} from "../../../src/run/host-lock.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

function kvStep(key: string, desired: string, failApply = false): Step<string> {
  return {
    kind: "kv",
    name: `kv ${key}`,
    read: () => ({ command: sh`kv-get ${key}`, parse: (r) => r.stdout.toString("utf8") }),
    diff: (current) => (current === desired ? null : { summary: `${key} → ${desired}` }),
    apply: async ({ session }) => void (await session.runOrThrow(failApply ? sh`kv-fail ${key}` : sh`kv-set ${key} ${desired}`)),
  };
}

function kvHost(store: Map<string, string>) {
  return debianHost()
    .on(/^kv-get /, (c) => ({ stdout: store.get(c.split(" ")[1] ?? "") ?? "" }))
    .on(/^kv-set /, (c) => {
      const [, k, v] = c.split(" ");
      store.set(k ?? "", v ?? "");
      return {};
    })
    .on(/^kv-fail /, { exitCode: 4, stderr: "boom\n" });
}

const playbook = (steps: () => Step<string>[]) => definePlaybook({ name: "p", vars: z.object({}), steps });

describe("host lock in the runner (mock host)", () => {
  it("a converged apply run never takes the lock: no extra round trip", async () => {
    const mock = kvHost(new Map([["a", "1"]]));
    const { report } = await runOn(
      mock,
      playbook(() => [kvStep("a", "1")]),
      "apply",
    );
    expect(report.status).toBe("ok");
    expect(mock.lockEvents).toEqual([]);
    expect(mock.execs).toHaveLength(2); // facts + one batch, as before the lock existed
  });

  it("check mode never takes (nor asks about) the lock, even with drift", async () => {
    const mock = kvHost(new Map([["a", "0"]]));
    const { report } = await runOn(
      mock,
      playbook(() => [kvStep("a", "1")]),
      "check",
    );
    expect(report.status).toBe("drift");
    expect(mock.lockEvents).toEqual([]);
    expect(mock.execs.some((e) => e.command.includes("provision-lock") || e.stdin.includes("provision-lock"))).toBe(false);
  });

  it("a changing run takes it with a fresh read of the remaining steps, and releases it", async () => {
    const mock = kvHost(
      new Map([
        ["a", "0"],
        ["b", "0"],
      ]),
    );
    const { report } = await runOn(
      mock,
      playbook(() => [kvStep("a", "1"), kvStep("b", "1")]),
      "apply",
    );
    expect(report.steps.map((s) => s.status)).toEqual(["changed", "changed"]);
    expect(mock.lockEvents).toEqual(["acquired", "released"]);
    expect(mock.lock).toBeNull();
    // The lock script travels in the same script as the reads (one round trip).
    const lockExec = mock.execs.find((e) => e.command.includes("# provision-lock acquire"));
    expect(lockExec?.command).toContain("kv-get a");
    expect(lockExec?.command).toContain("kv-get b");
  });

  it("releases the lock when a step fails, and when a handler fails", async () => {
    const mock = kvHost(new Map([["a", "0"]]));
    const { report } = await runOn(
      mock,
      playbook(() => [kvStep("a", "1", true)]),
      "apply",
    );
    expect(report.status).toBe("failed");
    expect(mock.lockEvents).toEqual(["acquired", "released"]);

    const mock2 = kvHost(new Map([["a", "0"]]));
    const withHandler = definePlaybook({
      name: "p",
      vars: z.object({}),
      steps: () => [{ ...kvStep("a", "1"), notify: ["h"] }],
      handlers: () => ({
        h: {
          run: async () => {
            throw new Error("handler broke");
          },
        },
      }),
    });
    const second = await runOn(mock2, withHandler, "apply");
    expect(second.report.handlers[0]?.status).toBe("failed");
    expect(mock2.lockEvents).toEqual(["acquired", "released"]);
  });

  it("a held lock fails the host before any change, naming the holder and how to clear it", async () => {
    const store = new Map([["a", "0"]]);
    const mock = kvHost(store);
    mock.lock = {
      token: "x",
      controller: "ctl-7",
      controller_pid: "4242",
      user: "ops",
      started: "2030-01-02T03:04:05.000Z",
      holder_pid: "777",
    };
    const { report } = await runOn(
      mock,
      playbook(() => [kvStep("a", "1"), kvStep("b", "")]),
      "apply",
    );
    expect(report.status).toBe("failed");
    expect(store.get("a")).toBe("0");
    expect(mock.commands.some((c) => c.command.startsWith("kv-set"))).toBe(false);
    expect(report.error).toMatch(/^host mail1 is being provisioned by ops@ctl-7 \(controller pid 4242\) since 2030-01-02T03:04:05.000Z/);
    expect(report.error).toContain("if that run died, remove /run/provision.lock on the host");
    expect(report.steps[0]?.status).toBe("failed");
    expect(report.steps[1]?.status).toBe("skipped");
    expect(mock.lockEvents).toEqual(["held"]);
    expect(mock.lock?.token).toBe("x"); // not ours: never released
  });

  it("does not apply what another run already fixed while we waited for the lock", async () => {
    const store = new Map([["a", "0"]]);
    const mock = kvHost(store);
    // The fresh read under the lock sees the value another run has just set.
    let reads = 0;
    mock.on(/^kv-get a/, () => ({ stdout: (reads += 1) === 1 ? "0" : "1" }));
    const { report } = await runOn(
      mock,
      playbook(() => [kvStep("a", "1")]),
      "apply",
    );
    expect(report.steps[0]?.status).toBe("ok");
    expect(mock.commands.some((c) => c.command.startsWith("kv-set"))).toBe(false);
    expect(mock.lockEvents).toEqual(["acquired", "released"]);
  });
});

describe("a stale lock broken by the runner", () => {
  it("is reported: a warning event, the host report and the JSON, naming whose lock it was and why", async () => {
    const mock = kvHost(new Map([["a", "0"]]));
    mock.lock = {
      token: "dead",
      controller: "ctl-9",
      user: "ops",
      controller_pid: "4242",
      started: "2030-01-02T03:04:05.000Z",
      stale: "its holder (pid 77 on this host) has exited",
    };
    const { report, events } = await runOn(
      mock,
      playbook(() => [kvStep("a", "1")]),
      "apply",
    );
    expect(report.status).toBe("changed");
    const expected =
      "host mail1: broke the stale host lock of ops@ctl-9 (controller pid 4242) since 2030-01-02T03:04:05.000Z: its holder (pid 77 on this host) has exited";
    expect(report.warnings).toEqual([expected]);
    expect(events).toContainEqual({ type: "warning", host: "mail1", message: expected });
    // A lock taken from nobody says nothing.
    const quiet = await runOn(
      kvHost(new Map([["a", "0"]])),
      playbook(() => [kvStep("a", "1")]),
      "apply",
    );
    expect(quiet.report.warnings).toBeUndefined();
  });
});

describe("lockedMessage / parseLockResult", () => {
  it("parses the three outcomes", () => {
    const ok = (stdout: string) => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });
    expect(parseLockResult(ok("lock=acquired\n"), "h")).toEqual({ acquired: true });
    expect(parseLockResult(ok("lock=acquired\nlock_broke=its holder (pid 9 on this host) has exited\n"), "h")).toEqual({
      acquired: true,
      brokeStale: "its holder (pid 9 on this host) has exited",
      brokenOwner: {},
    });
    const held = parseLockResult(ok("lock=held\npath=/run/provision.lock\nage=12\nowner.user=u\nowner.controller=c\n"), "h");
    expect(held).toMatchObject({ acquired: false, ageSeconds: 12, holder: { user: "u", controller: "c" } });
    expect(() => parseLockResult(ok("lock=error\nerror=cannot create /run/provision.lock: Read-only file system\n"), "h")).toThrow(
      /h: cannot take the host lock: cannot create \/run\/provision.lock: Read-only/,
    );
    if (held.acquired) throw new Error("unreachable");
    expect(lockedMessage("h", { ...held, holder: {} })).toContain("an unknown run (no owner recorded yet)");
  });
});

// ---------------------------------------------------------------------------------------------
// The script itself, on this machine's /bin/sh, with the lock in a temp dir.

const dir = mkdtempSync(join(tmpdir(), "provision-lock-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function localized(command: ShellCommand, lock: string): string {
  const text = command.text.replace(/^if \[ "\$\(id -u\)" = 0 \]; then L=.*; fi$/m, `L=${lock}`);
  expect(text).not.toContain(ROOT_LOCK_PATH);
  return text;
}

function runSh(script: string): string {
  const r = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", timeout: 20_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe("the lock script on a real POSIX shell", () => {
  it("acquire → held by a live holder (within ~2.5 s) → release only by its owner → acquire again", () => {
    const lock = join(dir, "a.lock");
    const first = newLockOwner();
    const out = runSh(localized(acquireLockCommand(first), lock));
    expect(parseLockResult({ exitCode: 0, stdout: Buffer.from(out), stderr: Buffer.alloc(0) }, "h")).toEqual({ acquired: true });
    const owner = readFileSync(join(lock, "owner"), "utf8");
    expect(owner).toContain(`token=${first.token}`);
    // The holder is this shell's parent: this (vitest) process, which is alive.
    expect(owner).toContain(`holder_pid=${process.pid}`);
    expect(owner).toMatch(/holder_start=\d+/);

    const started = Date.now();
    const second = runSh(localized(acquireLockCommand(newLockOwner()), lock));
    const outcome = parseLockResult({ exitCode: 0, stdout: Buffer.from(second), stderr: Buffer.alloc(0) }, "h");
    expect(outcome.acquired).toBe(false);
    expect(Date.now() - started).toBeLessThan(6_000);
    if (!outcome.acquired) expect(outcome.holder.token).toBe(first.token);

    runSh(localized(releaseLockCommand(newLockOwner()), lock)); // someone else's token: kept
    expect(existsSync(lock)).toBe(true);
    runSh(localized(releaseLockCommand(first), lock));
    expect(existsSync(lock)).toBe(false);
    expect(runSh(localized(acquireLockCommand(newLockOwner()), lock))).toContain("lock=acquired");
  });

  it("breaks a lock whose holder process has exited (controller killed, connection cut)", async () => {
    const lock = join(dir, "b.lock");
    // A holder that existed and is gone: a short-lived child's pid and start time.
    const child = spawn("/bin/sh", ["-c", "sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20"], { stdio: ["ignore", "pipe", "ignore"] });
    let start = "";
    child.stdout.on("data", (d: Buffer) => (start += d.toString()));
    await new Promise((r) => child.on("close", r));
    mkdirSync(lock);
    writeFileSync(join(lock, "owner"), `token=dead\ncontroller=gone\nholder_pid=${child.pid}\nholder_start=${start.trim()}\n`);
    const out = runSh(localized(acquireLockCommand(newLockOwner()), lock));
    expect(out).toContain("lock=acquired");
    expect(out).toMatch(new RegExp(`lock_broke=its holder \\(pid ${child.pid} on this host\\) has exited`));
    expect(existsSync(`${lock}.break`)).toBe(false);
  });

  it("a pid reused by another process does not keep a lock alive (start time differs)", () => {
    const lock = join(dir, "c.lock");
    mkdirSync(lock);
    writeFileSync(join(lock, "owner"), `token=old\nholder_pid=${process.pid}\nholder_start=1\n`);
    expect(runSh(localized(acquireLockCommand(newLockOwner()), lock))).toContain("lock=acquired");
  });

  it("a lock without an owner file is held while young, broken once older than 2 minutes", () => {
    const lock = join(dir, "d.lock");
    mkdirSync(lock);
    expect(runSh(localized(acquireLockCommand(newLockOwner()), lock))).toContain("lock=held");
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(lock, old, old);
    const out = runSh(localized(acquireLockCommand(newLockOwner()), lock));
    expect(out).toContain("lock=acquired");
    expect(out).toMatch(/lock_broke=no owner recorded/);
  });

  it("cannot create the lock (parent missing): an error, never 'held'", () => {
    const out = runSh(localized(acquireLockCommand(newLockOwner()), join(dir, "no/such/dir/lock")));
    expect(out).toContain("lock=error");
    expect(() => parseLockResult({ exitCode: 0, stdout: Buffer.from(out), stderr: Buffer.alloc(0) }, "h")).toThrow(/cannot create/);
  });

  it("two acquirers racing on a stale lock: exactly one wins", async () => {
    const lock = join(dir, "e.lock");
    mkdirSync(lock);
    writeFileSync(join(lock, "owner"), `token=dead\nholder_pid=999999999\nholder_start=1\n`);
    const race = () =>
      new Promise<string>((resolve) => {
        const p = spawn("/bin/sh", ["-c", localized(acquireLockCommand(newLockOwner()), lock)], { stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        p.stdout.on("data", (d: Buffer) => (out += d.toString()));
        p.on("close", () => resolve(out));
      });
    // Both holders (this process) stay alive, so the loser must see the winner's lock as held.
    const results = await Promise.all([race(), race(), race()]);
    expect(results.filter((r) => r.includes("lock=acquired"))).toHaveLength(1);
    expect(results.filter((r) => r.includes("lock=held"))).toHaveLength(2);
  }, 20_000);

  it("a dead holder's lock is not broken while a command of its run still runs; then broken and reported", async () => {
    const lock = join(dir, "f.lock");
    const run = "0123456789abcdef";
    mkdirSync(lock);
    writeFileSync(
      join(lock, "owner"),
      `token=dead\ncontroller=ctl-9\ncontroller_pid=4242\nuser=ops\nstarted=2030-01-02T03:04:05.000Z\nholder_pid=999999999\nholder_start=1\nrun=${run}\n`,
    );
    // The dead controller's command, still running (over SSH: until its timeout(1) backstop).
    const straggler = spawn("sleep", ["30"], { stdio: "ignore", env: { ...process.env, PROVISION_RUN: run } });
    try {
      const held = runSh(localized(acquireLockCommand(newLockOwner()), lock));
      const outcome = parseLockResult({ exitCode: 0, stdout: Buffer.from(held), stderr: Buffer.alloc(0) }, "h");
      expect(outcome.acquired).toBe(false);
      if (outcome.acquired) throw new Error("unreachable");
      expect(outcome.why).toBe("its holder (pid 999999999) has exited but commands of its run are still running on the host");
      expect(lockedMessage("h", outcome)).toContain("commands of its run are still running");
    } finally {
      straggler.kill("SIGKILL");
      await new Promise((r) => straggler.on("close", r));
    }
    const out = runSh(localized(acquireLockCommand(newLockOwner()), lock));
    const broke = parseLockResult({ exitCode: 0, stdout: Buffer.from(out), stderr: Buffer.alloc(0) }, "h");
    expect(broke).toMatchObject({ acquired: true, brokenOwner: { controller: "ctl-9", user: "ops", run } });
    if (!broke.acquired) throw new Error("unreachable");
    expect(brokenLockMessage("h", broke)).toBe(
      "host h: broke the stale host lock of ops@ctl-9 (controller pid 4242) since 2030-01-02T03:04:05.000Z: its holder (pid 999999999 on this host) has exited",
    );
    // The new owner file records the run id of the command that took it (empty here: no transport set it).
    expect(readFileSync(join(lock, "owner"), "utf8")).toMatch(/^run=$/m);
  }, 20_000);
});
