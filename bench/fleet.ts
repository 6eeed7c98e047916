/**
 * Test hosts for the benchmark, through the project's harness (test/hosts), on their own harness
 * instance — default 3: bridge provbr3, subnet 10.213.3.0/24 — so a benchmark never clears or
 * kills the hosts of a test run (instance 0). The instance must be set before the harness is
 * loaded (its paths are fixed at import), hence the dynamic imports.
 */
import type { TestFleet, TestHost } from "../test/hosts/harness.ts";

export type { TestFleet, TestHost };

export const DEFAULT_INSTANCE = 3;

export function useInstance(instance: number): void {
  if (!Number.isInteger(instance) || instance < 1 || instance > 9) {
    throw new Error(`--instance must be 1–9 (0 belongs to the test suite), got ${instance}`);
  }
  process.env.PROVISION_TESTHOSTS_INSTANCE = String(instance);
}

async function harness() {
  if (!process.env.PROVISION_TESTHOSTS_INSTANCE) throw new Error("useInstance() first");
  return import("../test/hosts/harness.ts");
}

export async function startFleet(count: number, log: (m: string) => void): Promise<TestFleet> {
  return (await harness()).startHosts({ count, log });
}

/** Run a command in the host as root without SSH (nsenter): for tampering and counting. */
export async function onHost(host: TestHost, command: string): Promise<string> {
  const result = await (await harness()).hostExec(host, command);
  if (result.exitCode !== 0) throw new Error(`${host.name}: ${command}: exit ${result.exitCode}: ${result.stderr.trim()}`);
  return result.stdout;
}

/** sshd connections accepted so far (from the host's journal). */
export async function acceptedConnections(host: TestHost): Promise<number> {
  return Number((await onHost(host, "journalctl -u ssh -o cat | grep -c 'Accepted publickey' || :")).trim() || "0");
}
