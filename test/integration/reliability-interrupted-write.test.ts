/**
 * A write cut short never replaces the real file (issue 11, defect 1). The CLI writes a large
 * file (random bytes, so its content is compared by digest: "content (binary, …)") and is killed
 * — SIGKILL, and SIGINT as Ctrl-C sends it — while the content streams, as seen by the temp file
 * on the host being partly written. Every time, the file must then hold either its old content
 * or the whole new one, byte for byte (sha256 on the host), and the next run must converge.
 * Over SSH on a real test host (fleet index 12), and with the local transport on this machine (a
 * temp dir; the controller runs as `nobody` so its lock is its own, not this machine's
 * /run/provision.lock). Before the fix, `cat` saw end-of-input and the truncated temp file was
 * renamed over the real one.
 *
 * Also here (defect 6): a controller killed over SSH while its command runs leaves that command
 * running on the host until it ends (or its timeout(1) backstop stops it); the lock's holder (the
 * sshd session) is gone, yet the next run must not start beside it: it is refused, saying the
 * dead run's commands still run, and once they have ended the next run breaks the lock and converges.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testHost } from "./support/fleet.ts";
import { parseReport, REPO, runOnTestHost, fleetCliArgs } from "./support/cli.ts";
import { onHost } from "./support/reliability.ts";
import { writeSlowPlaybook } from "./support/slow-playbook.ts";

const host = testHost(12);
const REMOTE_DIR = "/var/tmp/provision-interrupted-write";
const REMOTE_PATH = `${REMOTE_DIR}/big.bin`;
const SSH_BYTES = 64 * 1024 * 1024;
const LOCAL_BYTES = 128 * 1024 * 1024;
const NOBODY = 65534;

let dir: string;
let playbook: string;
const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-interrupted-write-"));
  playbook = join(dir, "big-write.ts");
  await writeFile(
    playbook,
    `import { readFileSync } from "node:fs";
import { definePlaybook, file, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "big-write",
  vars: z.object({ path: z.string(), source: z.string() }),
  steps: ({ vars }) => [file({ path: vars.path, content: readFileSync(vars.source), mode: "0644" })],
});
`,
  );
  await chown(dir, NOBODY, NOBODY);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await onHost(host, `rm -rf ${REMOTE_DIR}`).catch(() => undefined);
});

/** Two versions of the content, in files the controller reads (nobody may read them). */
async function versions(bytes: number, name: string): Promise<{ path: string; sha256: string }[]> {
  return Promise.all(
    ["a", "b"].map(async (v) => {
      const content = randomBytes(bytes);
      const path = join(dir, `${name}-${v}.bin`);
      await writeFile(path, content);
      return { path, sha256: sha(content) };
    }),
  );
}

function startCliPlaybook(book: string, args: string[], asNobody = false): { child: ChildProcess; exited: Promise<unknown> } {
  const node = [join(REPO, "bin/provision.js"), "run", book, ...args];
  const [command, argv] = asNobody
    ? ["setpriv", ["--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups", "env", `HOME=${dir}`, process.execPath, ...node]]
    : [process.execPath, node];
  const child = spawn(command, argv, { cwd: REPO, stdio: "ignore", env: { ...process.env, CI: "1" } });
  return { child, exited: new Promise((resolve) => child.on("exit", resolve)) };
}

function startCli(args: string[], asNobody: boolean): { child: ChildProcess; exited: Promise<unknown> } {
  return startCliPlaybook(playbook, args, asNobody);
}

/**
 * Start a run that writes `source` to the target, kill it with `signal` once the temp file holds
 * part of the content (polled by `tempSize`), wait for it to end. Returns whether it was cut
 * mid-stream (false: the write was over before the poll saw it; the run then just finished).
 */
async function killMidStream(
  args: string[],
  asNobody: boolean,
  total: number,
  tempSize: () => Promise<number | undefined>,
  signal: NodeJS.Signals,
): Promise<boolean> {
  const { child, exited } = startCli(args, asNobody);
  let done = false;
  void exited.then(() => (done = true));
  let cut = false;
  try {
    const deadline = Date.now() + 60_000;
    for (let i = 0; i < 200_000 && !done && Date.now() < deadline; i += 1) {
      const size = await tempSize();
      if (size !== undefined && size > 0 && size < total * 0.9) {
        child.kill(signal);
        cut = true;
        break;
      }
      if (size === undefined) await new Promise((r) => setTimeout(r, 5));
    }
    await exited;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  return cut;
}

describe("an interrupted write leaves the old file or the whole new one", () => {
  it("over SSH on a real host: the controller killed mid-stream, many times", async () => {
    const [a, b] = await versions(SSH_BYTES, "ssh");
    if (!a || !b) throw new Error("no versions");
    await onHost(host, `rm -rf ${REMOTE_DIR} && mkdir -p ${REMOTE_DIR}`);
    const ssh = [...fleetCliArgs(host.address), "--var", `path=${REMOTE_PATH}`];
    const first = await runOnTestHost(playbook, host.address, ["--var", `path=${REMOTE_PATH}`, "--var", `source=${a.path}`, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(parseReport(first).hosts[0]?.steps[0]?.summary).toBe("create (0644)");
    const remoteSha = async () => (await onHost(host, `sha256sum < ${REMOTE_PATH} | cut -d' ' -f1`)).trim();
    const tempSize = async () => {
      const out = await onHost(host, `for f in ${REMOTE_DIR}/.provision-*; do [ -f "$f" ] && stat -c %s -- "$f"; done; :`);
      const sizes = out.split("\n").filter(Boolean).map(Number);
      return sizes.length ? Math.max(...sizes) : undefined;
    };
    let current = a;
    let cuts = 0;
    const rounds: NodeJS.Signals[] = ["SIGKILL", "SIGKILL", "SIGKILL", "SIGKILL", "SIGKILL", "SIGKILL", "SIGINT", "SIGINT"];
    for (const signal of rounds) {
      const next = current === a ? b : a;
      const wasCut = await killMidStream([...ssh, "--var", `source=${next.path}`], false, SSH_BYTES, tempSize, signal);
      if (wasCut) cuts += 1;
      // The remote command may still be checking what arrived: give it a moment to end.
      for (let i = 0; i < 20 && (await tempSize()) !== undefined; i += 1) await new Promise((r) => setTimeout(r, 250));
      const now = await remoteSha();
      expect([a.sha256, b.sha256], `after ${signal} (cut mid-stream: ${wasCut})`).toContain(now);
      // SIGKILL gives the write no chance to finish; on SIGINT the CLI may let it finish (whole new content).
      if (wasCut && signal === "SIGKILL") expect(now, "SIGKILL mid-stream must leave the old content").toBe(current.sha256);
      current = now === a.sha256 ? a : b;
    }
    expect(cuts, "most rounds must really cut the stream").toBeGreaterThanOrEqual(rounds.length - 2);
    // The next run converges (and says why there is no text diff); the one after changes nothing.
    const target = current === a ? b : a;
    const converge = await runOnTestHost(playbook, host.address, [
      "--var",
      `path=${REMOTE_PATH}`,
      "--var",
      `source=${target.path}`,
      "--json",
    ]);
    expect(converge.code, converge.stderr).toBe(0);
    expect(parseReport(converge).hosts[0]?.steps[0]?.summary).toBe(`content (binary, ${SSH_BYTES} bytes → ${SSH_BYTES} bytes)`);
    expect(await remoteSha()).toBe(target.sha256);
    const again = await runOnTestHost(playbook, host.address, ["--var", `path=${REMOTE_PATH}`, "--var", `source=${target.path}`, "--json"]);
    expect(parseReport(again).hosts[0]?.counts.changed).toBe(0);
    expect((await onHost(host, `ls -A ${REMOTE_DIR}`)).trim()).toBe("big.bin");
  }, 300_000);

  it("with the local transport: the controller killed mid-stream, many times", async () => {
    const [a, b] = await versions(LOCAL_BYTES, "local");
    if (!a || !b) throw new Error("no versions");
    const target = join(dir, "out");
    await rm(target, { recursive: true, force: true });
    await mkdir(target);
    await chown(target, NOBODY, NOBODY);
    const path = join(target, "big.bin");
    const localSha = async () => sha(await readFile(path));
    const tempSize = async () => {
      for (const name of await readdir(target)) {
        if (!name.startsWith(".provision-")) continue;
        const size = await stat(join(target, name)).then(
          (s) => s.size,
          () => undefined,
        );
        if (size !== undefined) return size;
      }
      return undefined;
    };
    const local = (source: string) => ["--host", "localhost", "--var", `path=${path}`, "--var", `source=${source}`];
    const { child, exited } = startCli(local(a.path), true);
    await exited;
    expect(child.exitCode).toBe(0);
    expect(await localSha()).toBe(a.sha256);
    let current = a;
    let cuts = 0;
    const rounds: NodeJS.Signals[] = ["SIGKILL", "SIGKILL", "SIGKILL", "SIGKILL", "SIGKILL", "SIGINT", "SIGINT"];
    for (const signal of rounds) {
      const next = current === a ? b : a;
      const wasCut = await killMidStream(local(next.path), true, LOCAL_BYTES, tempSize, signal);
      if (wasCut) cuts += 1;
      for (let i = 0; i < 20 && (await tempSize()) !== undefined; i += 1) await new Promise((r) => setTimeout(r, 250));
      const now = await localSha();
      expect([a.sha256, b.sha256], `after ${signal} (cut mid-stream: ${wasCut})`).toContain(now);
      // SIGKILL gives the write no chance to finish; on SIGINT the CLI may let it finish (whole new content).
      if (wasCut && signal === "SIGKILL") expect(now, "SIGKILL mid-stream must leave the old content").toBe(current.sha256);
      current = now === a.sha256 ? a : b;
    }
    expect(cuts, "most rounds must really cut the stream").toBeGreaterThanOrEqual(rounds.length - 2);
    // The next run converges and leaves nothing behind (it removes what a killed write left).
    const last = current === a ? b : a;
    const converge = startCli(local(last.path), true);
    await converge.exited;
    expect(converge.child.exitCode).toBe(0);
    expect(await localSha()).toBe(last.sha256);
    expect(await readdir(target)).toEqual(["big.bin"]);
  }, 300_000);

  it("over SSH: a killed controller's lock is not broken while its command still runs", async () => {
    const slow = await writeSlowPlaybook(dir);
    const marker = `${REMOTE_DIR}-slow`;
    await onHost(host, `rm -rf /run/provision.lock /run/provision.lock.break ${marker}*`);
    const { child, exited } = startCliPlaybook(slow, [...fleetCliArgs(host.address), "--var", `marker=${marker}`, "--var", "seconds=8"]);
    try {
      for (let i = 0; i < 200; i += 1) {
        if ((await onHost(host, `cat ${marker}.log 2>/dev/null || :`)).includes("started")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill("SIGKILL");
      await exited;
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    // Its sshd session is gone (the holder), its `sleep 8` is not.
    const second = await runOnTestHost(slow, host.address, ["--var", `marker=${marker}`, "--var", "seconds=0", "--json"]);
    expect(second.code, second.stdout).toBe(1);
    expect(parseReport(second).hosts[0]?.error).toContain("has exited but commands of its run are still running on the host");
    expect(await onHost(host, `cat ${marker} 2>/dev/null || :`)).toBe("");
    // Once the dead run's command has ended (it finishes its own write), the lock is broken.
    for (let i = 0; i < 150 && (await onHost(host, `cat ${marker} 2>/dev/null || :`)) !== "done\n"; i += 1)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    await onHost(host, `rm -f ${marker}`);
    const third = await runOnTestHost(slow, host.address, ["--var", `marker=${marker}`, "--var", "seconds=0", "--json"]);
    expect(third.code, third.stdout + third.stderr).toBe(0);
    expect(await onHost(host, `cat ${marker}`)).toBe("done\n");
    expect(await onHost(host, `cat ${marker}.log`)).toBe("started\nstarted\n");
    expect((await onHost(host, "ls -d /run/provision.lock* 2>/dev/null || :")).trim()).toBe("");
    await onHost(host, `rm -f ${marker}*`);
  }, 120_000);
});
