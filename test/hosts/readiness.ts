/**
 * Readiness probes. Cheap ones: a TCP connect from Node costs no process spawn, so polling many
 * hosts does not steal CPU from the hosts that are still booting (start time is CPU-bound).
 */
import net from "node:net";
import { execInHost } from "./host.ts";
import { sleep } from "./run.ts";

/** True when a TCP connect succeeds (and, with `banner`, the server's first bytes start so). */
export function tcpProbe(address: string, port: number, timeoutMs: number, banner?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on("error", () => finish(false));
    socket.on("connect", () => {
      if (!banner) finish(true);
    });
    socket.on("data", (b: Buffer) => finish(b.toString("latin1").startsWith(banner ?? "")));
  });
}

/** Wait until sshd on the host sends its "SSH-2.0" banner. Bounded by count and deadline. */
export async function waitForSsh(address: string, port: number, deadline: number): Promise<void> {
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    if (await tcpProbe(address, port, 1000, "SSH-")) return;
    await sleep(150);
  }
  throw new Error(`sshd on ${address}:${port} did not answer in time`);
}

/**
 * Wait until systemd has finished booting (one blocking `is-system-running --wait`, bounded by
 * `timeout`, rather than a polling loop of spawns). "degraded" is accepted: some unit failed,
 * which the caller reports but tests may tolerate.
 */
export async function waitForSystemd(name: string, deadline: number): Promise<string> {
  const seconds = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
  const r = await execInHost(name, `timeout ${seconds} systemctl is-system-running --wait`, {
    timeoutMs: seconds * 1000 + 5000,
  });
  const state = r.stdout.trim().split("\n").pop() ?? "";
  if (state === "running" || state === "degraded") return state;
  throw new Error(`host ${name}: systemd state "${state}" (exit ${r.exitCode}) ${r.stderr.trim()}`);
}
