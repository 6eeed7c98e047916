/**
 * vitest globalSetup for the `integration` project: starts the test hosts once for the whole run
 * and tears them down after it. Wired by the lead's vitest.config.ts, e.g.
 *
 *   test: { projects: [{ test: { name: "integration", include: ["test/integration/**\/*.test.ts"],
 *                                globalSetup: ["test/hosts/global-setup.ts"] } }] }
 *
 * PROVISION_TEST_HOSTS=<n>: number of hosts (0 = none; tests needing hosts then skip).
 * Unset: 24 when running as root (the fleet tests need 10; 12–23 belong to one test file each), else 0. Tests read the fleet with `inject("fleet")` (null when
 * no hosts; see test/integration/support/fleet.ts), and `inject("spareHost")`: one extra host that tests may kill (stopHost), so the
 * shared fleet stays whole for every other test file. The fleet JSON file (FLEET_FILE) is written
 * too, for processes that cannot inject (the CLI under test).
 */
import type { TestProject } from "vitest/node";
import { findLeftovers, startHosts, type TestFleetData, type TestHost } from "./harness.ts";

declare module "vitest" {
  export interface ProvidedContext {
    fleet: TestFleetData | null;
    spareHost: TestHost | null;
  }
}

function hostCount(): number {
  const raw = process.env.PROVISION_TEST_HOSTS;
  if (raw === undefined || raw === "") return process.getuid?.() === 0 ? 24 : 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`PROVISION_TEST_HOSTS must be a whole number, got "${raw}"`);
  return n;
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const count = hostCount();
  if (count === 0) {
    project.provide("fleet", null);
    project.provide("spareHost", null);
    return undefined;
  }
  const log = (m: string) => console.error(`[testhosts] ${m}`);
  const fleet = await startWithRetry(count + 1, log);
  const spare = fleet.hosts[count] as TestHost;
  const data: TestFleetData = {
    hosts: fleet.hosts.slice(0, count),
    privateKeyPath: fleet.privateKeyPath,
    publicKey: fleet.publicKey,
    knownHostsPath: fleet.knownHostsPath,
    gateway: fleet.gateway,
  };
  project.provide("fleet", data);
  project.provide("spareHost", spare);
  return async () => {
    await fleet.stop();
    // Teardown is checked every run: anything left behind fails the run loudly.
    const left = await findLeftovers();
    if (left.length) throw new Error(`test-host teardown left: ${left.join(", ")}`);
  };
}

/**
 * A loaded machine (another fleet booting, a benchmark) can make a host miss its boot deadline.
 * One more try from scratch (startHosts clears its own leftovers) beats failing the whole run.
 */
async function startWithRetry(count: number, log: (m: string) => void) {
  try {
    return await startHosts({ count, log });
  } catch (error) {
    log(`first start failed, retrying once: ${(error as Error).message.split("\n")[0]}`);
    return startHosts({ count, log });
  }
}
