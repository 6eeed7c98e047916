/**
 * Runs apt-proxy.ts as a detached child (it must outlive nothing but the fleet; teardown and
 * stale cleanup find it by its pid file and check its command line before killing).
 */
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { GATEWAY, HERE, PROXY_LOG, PROXY_PID_FILE, PROXY_PORT, RUN_DIR } from "./paths.ts";
import { tcpProbe } from "./readiness.ts";
import { sleep, withClosedFds } from "./run.ts";

/** tsx's loader by absolute path (vitest's module runner has no import.meta.resolve). */
function tsxLoader(): string {
  return "file://" + createRequire(import.meta.url).resolve("tsx");
}

export async function startProxy(mirrorHost: string): Promise<void> {
  fs.mkdirSync(RUN_DIR, { recursive: true });
  const out = fs.openSync(PROXY_LOG, "w");
  const [cmd, ...args] = withClosedFds([
    process.execPath,
    "--import",
    tsxLoader(),
    path.join(HERE, "apt-proxy.ts"),
    GATEWAY,
    String(PROXY_PORT),
    mirrorHost,
  ]);
  const child = spawn(cmd as string, args, { stdio: ["ignore", out, out], detached: true });
  fs.closeSync(out);
  child.unref();
  fs.writeFileSync(PROXY_PID_FILE, String(child.pid));
  const deadline = Date.now() + 15_000;
  for (let i = 0; i < 150 && Date.now() < deadline; i++) {
    if (await tcpProbe(GATEWAY, PROXY_PORT, 300)) return;
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`apt proxy did not start: ${fs.readFileSync(PROXY_LOG, "utf8").slice(-1000)}`);
}

export async function stopProxy(): Promise<void> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(PROXY_PID_FILE, "utf8"));
  } catch {
    return;
  }
  let cmdline = "";
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    /* not running */
  }
  // Only kill it if that pid is still our proxy (pids are reused).
  if (cmdline.includes("apt-proxy.ts")) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
    for (let i = 0; i < 50 && fs.existsSync(`/proc/${pid}`); i++) await sleep(20);
  }
  fs.rmSync(PROXY_PID_FILE, { force: true });
}
