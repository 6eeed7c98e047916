/**
 * The host tools the harness drives. CI machines are fresh, so missing ones are installed with
 * apt (the Debian mirror is reachable); each is checked by the command we actually run.
 */
import { run, check } from "./run.ts";

const NEEDED: Array<[command: string, pkg: string]> = [
  ["debootstrap", "debootstrap"],
  ["ip", "iproute2"],
  ["unshare", "util-linux"],
  ["nsenter", "util-linux"],
  ["iptables", "iptables"], // FORWARD guard rules in the root namespace
  ["ssh-keygen", "openssh-client"],
  ["ssh", "openssh-client"],
];

export function assertRoot(): void {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    throw new Error("test hosts need root (network namespaces, mounts, debootstrap)");
  }
}

async function has(command: string): Promise<boolean> {
  // `command -v` is a shell builtin; sh is always there.
  const r = await run("sh", ["-c", 'command -v "$1" >/dev/null', "sh", command]);
  return r.exitCode === 0;
}

export async function ensurePrereqs(log: (m: string) => void = () => {}): Promise<void> {
  assertRoot();
  const missing: string[] = [];
  for (const [command, pkg] of NEEDED) {
    if (!(await has(command)) && !missing.includes(pkg)) missing.push(pkg);
  }
  if (missing.length === 0) return;
  log(`installing host tools: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // A fresh machine may have no package lists yet; update once, then install.
  let r = await run("apt-get", ["install", "-y", "--no-install-recommends", ...missing], { env, timeoutMs: 600_000 });
  if (r.exitCode !== 0) {
    await check("apt-get", ["update"], { env, timeoutMs: 300_000 });
    r = await run("apt-get", ["install", "-y", "--no-install-recommends", ...missing], { env, timeoutMs: 600_000 });
    if (r.exitCode !== 0) throw new Error(`apt-get install ${missing.join(" ")} failed: ${r.stderr.slice(-2000)}`);
  }
}
