/**
 * One cgroup2 dir per host, so `cgroup.kill` can end everything a host started even if its PID 1
 * is already gone. This machine mounts only cgroup v1 hierarchies, so we mount cgroup2 ourselves
 * (under /run) when no cgroup2 mount exists; on pure-v2 machines the existing mount is used.
 */
import fs from "node:fs";
import path from "node:path";
import { CGROUP_MOUNT, CGROUP_PARENT } from "./paths.ts";
import { check, run, sleep } from "./run.ts";

function findCgroup2Mount(): string | undefined {
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    // fields: id parent maj:min root mountpoint opts [optional...] - fstype source superopts
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const fields = left.split(" ");
    if (right.startsWith("cgroup2 ") && fields[3] === "/") return fields[4];
  }
  return undefined;
}

export async function cgroupParent(create: boolean): Promise<string | undefined> {
  let mount = findCgroup2Mount();
  if (!mount) {
    if (!create) return undefined;
    fs.mkdirSync(CGROUP_MOUNT, { recursive: true });
    await check("mount", ["-t", "cgroup2", "none", CGROUP_MOUNT]);
    mount = CGROUP_MOUNT;
  }
  const parent = path.join(mount, CGROUP_PARENT);
  if (create) fs.mkdirSync(parent, { recursive: true });
  return fs.existsSync(parent) ? parent : undefined;
}

export async function hostCgroup(name: string): Promise<string> {
  const parent = await cgroupParent(true);
  const dir = path.join(parent as string, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The host's cgroup dir if it exists (never creates anything). */
export async function hostCgroupPath(name: string): Promise<string | undefined> {
  const parent = await cgroupParent(false);
  return parent && fs.existsSync(path.join(parent, name)) ? path.join(parent, name) : undefined;
}

/** Kill every process in the host's cgroup tree and remove it (bounded wait). */
export async function killCgroup(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  for (let i = 0; i < 50; i++) {
    try {
      fs.writeFileSync(path.join(dir, "cgroup.kill"), "1");
    } catch {
      /* gone already */
    }
    if (removeTree(dir)) return;
    await sleep(100);
  }
  throw new Error(`cgroup ${dir} still busy after 5 s`);
}

/** rmdir children first (systemd inside made sub-cgroups). True when the dir is gone. */
function removeTree(dir: string): boolean {
  if (!fs.existsSync(dir)) return true;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) removeTree(path.join(dir, e.name));
  }
  try {
    fs.rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

/** Stale or final cleanup: every host cgroup, the parent, and our own cgroup2 mount. */
export async function removeAllCgroups(): Promise<void> {
  const parent = await cgroupParent(false);
  if (parent) {
    for (const e of fs.readdirSync(parent, { withFileTypes: true })) {
      if (e.isDirectory()) await killCgroup(path.join(parent, e.name));
    }
    removeTree(parent);
  }
  if (findCgroup2Mount() === CGROUP_MOUNT) await run("umount", [CGROUP_MOUNT]);
}
