/**
 * The host lock on a real host (fleet index 11), through the CLI: a second apply run while one is
 * changing the host fails fast, naming the holder; the first completes untouched and releases the
 * lock. A controller killed with SIGKILL mid-apply leaves the lock behind; its holder (the sshd
 * session of the dead connection) is gone, so the next run breaks it as stale, converges, and the
 * run after it changes nothing. Check mode runs beside an apply without taking the lock.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { testHost } from "./support/fleet.ts";
import { parseReport, REPO, runOnTestHost, fleetCliArgs } from "./support/cli.ts";
import { onHost } from "./support/reliability.ts";
import { writeSlowPlaybook } from "./support/slow-playbook.ts";

const host = testHost(11);
let dir: string;
let playbook: string;
const MARK = "/var/tmp/provision-reliability-lock";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-lock-it-"));
  playbook = await writeSlowPlaybook(dir);
});
// Another test file may leave a stale lock on this host, legitimately: a run killed mid-apply
// leaves one, and a later run that finds nothing to change never takes (so never breaks) it.
// Each test here starts from no lock, so "the lock exists" means "our first run holds it".
beforeEach(async () => {
  await onHost(host, "rm -rf /run/provision.lock /run/provision.lock.break");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await onHost(host, `rm -f ${MARK}*`);
});

const run = (marker: string, ...extra: string[]) => runOnTestHost(playbook, host.address, ["--var", `marker=${marker}`, ...extra]);

async function waitFor(command: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 400 && Date.now() < deadline; i += 1) {
    if ((await onHost(host, `${command} && echo yes || :`)).includes("yes")) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for: ${command}`);
}

describe("host lock (apply runs on one host)", () => {
  it("a second run fails fast naming the holder; the first completes and releases the lock", async () => {
    const marker = `${MARK}-a`;
    await onHost(host, `rm -f ${marker}*`);
    // Long enough that the second run, even on a loaded machine, reads while the slow step is
    // still pending (a run that finds nothing to change never takes the lock).
    const first = run(marker, "--var", "seconds=12");
    await waitFor(`test -s ${marker}.log && test -f /run/provision.lock/owner`, 20_000);
    const started = Date.now();
    const second = await run(marker, "--json");
    const elapsed = Date.now() - started;
    expect(second.code).toBe(1);
    expect(elapsed).toBeLessThan(15_000);
    const report = parseReport(second).hosts[0];
    expect(report?.status).toBe("failed");
    expect(report?.error).toMatch(
      new RegExp(`^host ${host.address.replace(/\./g, "\\.")} is being provisioned by \\S+@\\S+ \\(controller pid \\d+\\) since \\d{4}-`),
    );
    expect(report?.error).toContain("if that run died, remove /run/provision.lock on the host");
    // A check beside the apply is read-only and takes no lock: it just reports.
    const check = await run(marker, "--check", "--json");
    expect([0, 2]).toContain(check.code);
    const done = await first;
    expect(done.code, done.stderr).toBe(0);
    expect(await onHost(host, `cat ${marker}.log`)).toBe("started\n");
    expect(await onHost(host, `cat ${marker}`)).toBe("done\n");
    expect((await onHost(host, "ls -d /run/provision.lock* 2>/dev/null || :")).trim()).toBe("");
  }, 60_000);

  it("a controller killed with SIGKILL mid-apply: the next run breaks the stale lock and converges", async () => {
    const marker = `${MARK}-b`;
    await onHost(host, `rm -f ${marker}*`);
    const child = spawn(
      "node",
      [join(REPO, "bin/provision.js"), "run", playbook, ...fleetCliArgs(host.address), "--var", `marker=${marker}`, "--var", "seconds=2"],
      { cwd: REPO, stdio: "ignore", env: { ...process.env, CI: "1" } },
    );
    const exited = new Promise((r) => child.on("exit", r));
    try {
      await waitFor("test -f /run/provision.lock/owner", 20_000);
      expect(child.pid).toBeDefined();
      process.kill(child.pid as number, "SIGKILL");
      await exited;
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    expect((await onHost(host, "ls -d /run/provision.lock 2>/dev/null || :")).trim()).toBe("/run/provision.lock");
    // The dead run's command may still be running on the host: the lock stays held until it ends
    // (issue 11). Let it end, and undo its change, so the next run has something to change and so
    // must break the stale lock (a run with nothing to change never takes — nor breaks — it).
    await waitFor(`test -f ${marker}`, 8_000).catch(() => undefined);
    await onHost(host, `rm -f ${marker}`);
    let next = await run(marker, "--json");
    for (let attempt = 0; attempt < 3 && next.code !== 0 && /being provisioned/.test(next.stdout); attempt += 1) {
      await new Promise((r) => setTimeout(r, 2_000));
      next = await run(marker, "--json");
    }
    expect(next.code, next.stdout + next.stderr).toBe(0);
    const again = await run(marker, "--json");
    expect(again.code).toBe(0);
    expect(parseReport(again).hosts[0]?.counts.changed).toBe(0);
    expect(await onHost(host, `cat ${marker}`)).toBe("done\n");
    expect((await onHost(host, "ls -d /run/provision.lock* 2>/dev/null || :")).trim()).toBe("");
  }, 90_000);
});
