/**
 * A local command ends with its controller (issue 11, defect 6): the controller — a real node
 * process running LocalTransport — is killed with SIGKILL (and SIGINT, as Ctrl-C sends it) while
 * its command `sleep 2 && touch MARK` runs; the command's process group must be gone at once and
 * MARK never appear. Before the fix the command, spawned detached, finished 2 s after the
 * controller died.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const REPO = path.resolve(import.meta.dirname, "../../..");
const dir = mkdtempSync(path.join(os.tmpdir(), "provision-local-lifetime-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Running (a zombie — killed, not yet reaped by init — is not). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

async function killControllerMidCommand(signal: NodeJS.Signals, name: string): Promise<{ commandPid: number; mark: string }> {
  const pidFile = path.join(dir, `${name}.pid`);
  const mark = path.join(dir, `${name}.mark`);
  const script = `import { LocalTransport } from ${JSON.stringify(path.join(REPO, "src/transport/local.ts"))};
await new LocalTransport().exec(${JSON.stringify(`echo $$ > '${pidFile}'; sleep 2 && touch '${mark}'`)});`;
  const controller = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO, stdio: "ignore" });
  const exited = new Promise((r) => controller.on("exit", r));
  for (let i = 0; i < 200 && !existsSync(pidFile); i += 1) await sleep(25);
  await sleep(100);
  const commandPid = Number(readFileSync(pidFile, "utf8"));
  expect(alive(commandPid)).toBe(true);
  controller.kill(signal);
  await exited;
  return { commandPid, mark };
}

describe("local transport: commands end with the controller", () => {
  for (const signal of ["SIGKILL", "SIGINT"] as const) {
    it(`${signal} to the controller: its running command's group is killed, nothing runs on`, async () => {
      const { commandPid, mark } = await killControllerMidCommand(signal, signal);
      for (let i = 0; i < 40 && alive(commandPid); i += 1) await sleep(25);
      expect(alive(commandPid), "the command outlived its controller").toBe(false);
      await sleep(2_500);
      expect(existsSync(mark)).toBe(false);
    }, 20_000);
  }
});
