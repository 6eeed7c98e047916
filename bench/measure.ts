/**
 * Run one command as a benchmark sample: wall time, and the CPU time (user + sys) of its whole
 * process tree — including daemons it forks off, like the ssh ControlPersist masters Ansible
 * leaves behind, which getrusage/`time` would miss. The command runs in its own cgroup2 dir
 * (the shell moves itself there before exec, so nothing escapes); after it exits, whatever it
 * left running is killed (`cgroup.kill`) and the dir's cpu.stat is read.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface Sample {
  wallMs: number;
  /** CPU of the whole process tree, ms. */
  userMs: number;
  sysMs: number;
  code: number;
  stdout: string;
  stderr: string;
}

let counter = 0;

export function cgroup2Mount(): string {
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [left, right] = line.split(" - ");
    const fields = left?.split(" ") ?? [];
    if (right?.startsWith("cgroup2 ") && fields[3] === "/" && fields[4]) return fields[4];
  }
  throw new Error("no cgroup2 mount (the test-host harness mounts one when it starts a fleet)");
}

export async function measure(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<Sample> {
  const dir = path.join(cgroup2Mount(), "provision-bench", `run-${process.pid}-${++counter}`);
  fs.mkdirSync(dir, { recursive: true });
  const started = process.hrtime.bigint();
  const child = spawn("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, ...argv], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  const timer = setTimeout(() => killTree(dir), options.timeoutMs ?? 600_000);
  const code = await new Promise<number>((resolve) => {
    child.on("error", () => resolve(127));
    child.on("exit", (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? 9 : 0)));
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  clearTimeout(timer);
  await killTree(dir);
  const stat = new Map(
    fs
      .readFileSync(path.join(dir, "cpu.stat"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" ") as [string, string]),
  );
  fs.rmdirSync(dir);
  return {
    wallMs,
    userMs: Number(stat.get("user_usec") ?? 0) / 1000,
    sysMs: Number(stat.get("system_usec") ?? 0) / 1000,
    code,
    stdout: Buffer.concat(stdout).toString("utf8"),
    stderr: Buffer.concat(stderr).toString("utf8"),
  };
}

/** Kill whatever is left in the cgroup and wait (bounded) until it is empty. */
async function killTree(dir: string): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").trim() === "") return;
    fs.writeFileSync(path.join(dir, "cgroup.kill"), "1");
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${dir}: processes still running after 2 s`);
}
