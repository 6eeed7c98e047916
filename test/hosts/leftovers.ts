/**
 * Everything the harness could leave on the machine, listed (not removed): teardown is verified
 * against this, so "clean" means checked, not assumed.
 */
import fs from "node:fs";
import { FORWARD_CHAIN, HOSTS_DIR, PROXY_PID_FILE, RUN_DIR, CGROUP_PARENT } from "./paths.ts";
import { listNetns, listOurLinks } from "./network.ts";
import { run } from "./run.ts";
import { cgroupParent } from "./cgroup.ts";

export async function findLeftovers(): Promise<string[]> {
  const found: string[] = [];
  for (const ns of await listNetns()) found.push(`netns ${ns}`);
  for (const link of await listOurLinks()) found.push(`link ${link}`);
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mountpoint = line.split(" ")[4] ?? "";
    if (mountpoint.startsWith(`${HOSTS_DIR}/`) || mountpoint.startsWith(`${RUN_DIR}/`) || mountpoint.split("/").includes(CGROUP_PARENT)) {
      found.push(`mount ${mountpoint}`);
    }
  }
  if ((await run("iptables", ["-w", "-S", FORWARD_CHAIN])).exitCode === 0) found.push(`iptables chain ${FORWARD_CHAIN}`);
  const cgroup = await cgroupParent(false);
  if (cgroup) found.push(`cgroup ${cgroup}`);
  if (fs.existsSync(PROXY_PID_FILE)) found.push(`proxy pid file ${PROXY_PID_FILE}`);
  if (fs.existsSync(HOSTS_DIR) && fs.readdirSync(HOSTS_DIR).length) found.push(`host dirs in ${HOSTS_DIR}`);
  if (fs.existsSync(RUN_DIR)) {
    for (const f of fs.readdirSync(RUN_DIR)) {
      if (f.endsWith(".pid") && `${RUN_DIR}/${f}` !== PROXY_PID_FILE) found.push(`pid file ${f}`);
    }
  }
  return found;
}
