/**
 * One test host: its overlay dirs and per-host files, its boot (launcher.sh as PID 1's parent in
 * fresh namespaces), finding its PID 1, running commands inside it without SSH, and killing it.
 */
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { BASE_DIR, GATEWAY, HOSTS_DIR, LAUNCHER, PROXY_PORT, RUN_DIR } from "./paths.ts";
import { netnsName, deleteNetns } from "./network.ts";
import { hostCgroup, hostCgroupPath, killCgroup } from "./cgroup.ts";
import { run, sleep, withClosedFds, type RunResult } from "./run.ts";
import type { HostKey } from "./keys.ts";

export interface HostSpec {
  name: string;
  address: string;
  hostKey: HostKey;
  authorizedKey: string;
}

const hostDir = (name: string) => path.join(HOSTS_DIR, name);
const pidFile = (name: string) => path.join(RUN_DIR, `${name}.pid`);
export const consoleLog = (name: string) => path.join(RUN_DIR, `${name}.console.log`);

/**
 * Write a file into the host's overlay upper dir before boot. Parent dirs are created with the
 * base's mode and owner: in overlayfs an upper dir's attributes win over the lower's, so a plain
 * mkdir -p would silently turn /root into 0755.
 */
function writeUpper(upper: string, file: string, content: string, mode: number): void {
  const parts = path.dirname(file).split("/").filter(Boolean);
  let rel = "";
  for (const part of parts) {
    rel = path.join(rel, part);
    const dir = path.join(upper, rel);
    if (fs.existsSync(dir)) continue;
    const ref = fs.statSync(path.join(BASE_DIR, rel));
    fs.mkdirSync(dir);
    fs.chmodSync(dir, ref.mode & 0o7777);
    fs.chownSync(dir, ref.uid, ref.gid);
  }
  // A file takes its owner from its directory in the base (root, deploy, deploy2).
  const owner = fs.statSync(path.join(BASE_DIR, path.dirname(file)));
  const target = path.join(upper, file);
  fs.writeFileSync(target, content, { mode });
  fs.chmodSync(target, mode);
  fs.chownSync(target, owner.uid, owner.gid);
}

function prepareDirs(spec: HostSpec): { upper: string; work: string; merged: string } {
  const dir = hostDir(spec.name);
  fs.rmSync(dir, { recursive: true, force: true }); // never boot on an earlier run's upper
  const upper = path.join(dir, "upper");
  const work = path.join(dir, "work");
  const merged = path.join(dir, "merged");
  for (const d of [upper, work, merged]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  // The upper's root dir is the merged root dir: give it the base root's attributes.
  fs.chmodSync(upper, fs.statSync(BASE_DIR).mode & 0o7777);

  const { name, address } = spec;
  writeUpper(upper, "etc/hostname", `${name}\n`, 0o644);
  writeUpper(upper, "etc/hosts", `127.0.0.1\tlocalhost\n${address}\t${name}\n`, 0o644);
  writeUpper(upper, "etc/mailname", `${name}\n`, 0o644);
  // apt goes through this instance's proxy on the bridge gateway (the base is shared by instances).
  const aptProxy = `Acquire::http::Proxy "http://${GATEWAY}:${PROXY_PORT}/";\nAcquire::Retries "0";\n`;
  writeUpper(upper, "etc/apt/apt.conf.d/01provision-testhosts-proxy", aptProxy, 0o644);
  // Debian's postinst wrote the build machine's name; each host gets its own.
  const mainCf = fs.readFileSync(path.join(BASE_DIR, "etc/postfix/main.cf"), "utf8");
  writeUpper(upper, "etc/postfix/main.cf", mainCf.replace(/^myhostname\s*=.*$/m, `myhostname = ${name}`), 0o644);
  writeUpper(upper, "etc/ssh/ssh_host_ed25519_key", spec.hostKey.privateKey, 0o600);
  writeUpper(upper, "etc/ssh/ssh_host_ed25519_key.pub", spec.hostKey.publicKey + "\n", 0o644);
  for (const home of ["root", "home/deploy", "home/deploy2"]) {
    writeUpper(upper, `${home}/.ssh/authorized_keys`, spec.authorizedKey + "\n", 0o600);
  }
  return { upper, work, merged };
}

/** Boot the host; resolves with its PID 1 (as seen from the root pid namespace). */
export async function bootHost(spec: HostSpec): Promise<number> {
  const { upper, work, merged } = prepareDirs(spec);
  const cgroup = await hostCgroup(spec.name);
  fs.mkdirSync(RUN_DIR, { recursive: true });
  const out = fs.openSync(consoleLog(spec.name), "w");
  // The shell joins the host's cgroup first (before `ip netns exec`, which remounts /sys), so
  // the cgroup namespace unshare creates is rooted there and cgroup.kill reaches everything.
  const [cmd, ...args] = withClosedFds([
    "sh",
    "-c",
    'echo $$ > "$1/cgroup.procs" && shift && exec "$@"',
    "sh",
    cgroup,
    "ip",
    "netns",
    "exec",
    netnsName(spec.name),
    "unshare",
    "--mount",
    "--uts",
    "--ipc",
    "--pid",
    "--cgroup",
    "--fork",
    "--kill-child",
    "/bin/sh",
    LAUNCHER,
    spec.name,
    BASE_DIR,
    upper,
    work,
    merged,
  ]);
  // detached: the host is not in our process group, so a Ctrl-C aimed at us does not half-kill it.
  const child = spawn(cmd as string, args, { stdio: ["ignore", out, out], detached: true });
  fs.closeSync(out);
  child.unref();
  const pid1 = await findInit(child.pid as number, spec.name);
  fs.writeFileSync(pidFile(spec.name), String(pid1));
  return pid1;
}

/** Descend from the spawned process to the one that is PID 1 of the new pid namespace. */
async function findInit(rootPid: number, name: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < 400 && Date.now() < deadline; i++) {
    const found = descend(rootPid, 4);
    if (found) return found;
    if (!fs.existsSync(`/proc/${rootPid}`)) break;
    await sleep(25);
  }
  const tail = fs.existsSync(consoleLog(name)) ? fs.readFileSync(consoleLog(name), "utf8").slice(-1500) : "";
  throw new Error(`host ${name}: no PID 1 appeared (launcher output: ${tail})`);
}

function descend(pid: number, depth: number): number | undefined {
  if (nsPidIsOne(pid)) return pid;
  if (depth === 0) return undefined;
  for (const c of children(pid)) {
    const found = descend(c, depth - 1);
    if (found) return found;
  }
  return undefined;
}

function children(pid: number): number[] {
  try {
    // No trailing newline; space separated.
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function nsPidIsOne(pid: number): boolean {
  try {
    const line = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "";
    const ids = line.trim().split(/\s+/);
    return ids.length > 1 && ids[ids.length - 1] === "1";
  } catch {
    return false;
  }
}

/** The host's PID 1, checked to still be in the host's network namespace (pids get reused). */
export function hostInit(name: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile(name), "utf8"));
    const nsOfPid = fs.statSync(`/proc/${pid}/ns/net`).ino;
    const nsOfHost = fs.statSync(`/run/netns/${netnsName(name)}`).ino;
    return nsOfPid === nsOfHost && nsPidIsOne(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Run `sh -c command` inside the host as root, entering its namespaces and root (no SSH). */
export async function execInHost(name: string, command: string, options: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const pid = hostInit(name);
  if (!pid) throw new Error(`host ${name} is not running`);
  return run(
    "nsenter",
    [
      "-t",
      String(pid),
      "-m",
      "-u",
      "-i",
      "-n",
      "-p",
      "-C",
      "-r",
      "-w",
      "--",
      "/usr/bin/env",
      "-i",
      `PATH=${HOST_PATH}`,
      "HOME=/root",
      "LANG=C.UTF-8",
      "/bin/sh",
      "-c",
      command,
    ],
    { input: options.input, timeoutMs: options.timeoutMs ?? 60_000 },
  );
}

/**
 * Kill a host: SIGKILL its PID 1 (the whole pid namespace dies with it, and with the mount
 * namespace its overlay), cgroup.kill for anything that escaped, then its netns and dirs.
 * Killing the `unshare` parent would do nothing: with --fork it ignores SIGTERM/SIGINT.
 */
export async function killHost(name: string): Promise<void> {
  const pid = hostInit(name);
  if (pid) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* already gone */
    }
    for (let i = 0; i < 100 && fs.existsSync(`/proc/${pid}`); i++) await sleep(20);
  }
  await killStragglersInNetns(name);
  const cgroup = await hostCgroupPath(name);
  if (cgroup) await killCgroup(cgroup);
  await deleteNetns(name);
  fs.rmSync(pidFile(name), { force: true });
  await removeHostDirs(name);
}

/** Whatever still runs in the host's netns (e.g. a stale run whose pid file is gone). */
export async function killStragglersInNetns(name: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const r = await run("ip", ["netns", "pids", netnsName(name)]);
    const pids = r.stdout.split(/\s+/).filter(Boolean).map(Number);
    if (r.exitCode !== 0 || pids.length === 0) return;
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await sleep(50);
  }
}

/** The overlay lived in the host's mount namespace, so after its death these are plain dirs. */
export async function removeHostDirs(name: string): Promise<void> {
  const dir = hostDir(name);
  const merged = path.join(dir, "merged");
  // Defensive: if something still has it mounted in *our* namespace, detach it first.
  if (fs.readFileSync("/proc/self/mountinfo", "utf8").includes(` ${merged} `)) await run("umount", ["-l", merged]);
  fs.rmSync(dir, { recursive: true, force: true });
}
