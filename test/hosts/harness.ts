/**
 * Test-host harness: N isolated Debian 12 hosts (systemd as PID 1, sshd, Postfix, Cyrus SASL,
 * iptables, sudo, python3) in network namespaces on a private bridge. One fleet per machine at a
 * time: starting a fleet first clears whatever an earlier (possibly killed) run left behind.
 * Needs root. See README.md.
 */
import fs from "node:fs";
import path from "node:path";
import { baseMirrorHost, ensureBase } from "./base.ts";
import { ensureHostKey, ensureTestKey, knownHostsLine } from "./keys.ts";
import { listNetns, setupBridge, addHostNetwork, teardownNetwork } from "./network.ts";
import { bootHost, execInHost, killHost, consoleLog } from "./host.ts";
import { removeAllCgroups } from "./cgroup.ts";
import { startProxy, stopProxy } from "./proxy-process.ts";
import { waitForSsh, waitForSystemd } from "./readiness.ts";
import { assertRoot } from "./prereqs.ts";
import { pool } from "./run.ts";
import { ensureInotifyInstances } from "./inotify.ts";
import {
  FIRST_HOST_OCTET,
  FLEET_FILE,
  GATEWAY,
  HOSTS_DIR,
  KNOWN_HOSTS_PATH,
  MAX_HOSTS,
  NETNS_PREFIX,
  RUN_DIR,
  SUBNET_PREFIX,
} from "./paths.ts";

export { ensureBase } from "./base.ts";
export { findLeftovers } from "./leftovers.ts";
export { FLEET_FILE, KNOWN_HOSTS_PATH, GATEWAY, TEST_USER_SUDO_PASSWORD } from "./paths.ts";

export interface TestHost {
  name: string;
  address: string;
  port: number;
  /** known_hosts line: "10.213.0.10 ssh-ed25519 AAAA…" */
  hostKeyLine: string;
}

/** What the fleet JSON file holds (and what vitest `provide`s): the fleet minus `stop`. */
export interface TestFleetData {
  hosts: TestHost[];
  privateKeyPath: string;
  publicKey: string;
  knownHostsPath: string;
  gateway: string;
}

export interface TestFleet extends TestFleetData {
  stop(): Promise<void>;
}

/** Hosts boot CPU-bound; launching (netns + spawn) this many at a time keeps the machine responsive. */
const LAUNCH_CONCURRENCY = 4;

export async function startHosts(options: { count: number; namePrefix?: string; log?: (m: string) => void }): Promise<TestFleet> {
  assertRoot();
  const log = options.log ?? (() => {});
  const prefix = options.namePrefix ?? "th";
  const { count } = options;
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) throw new Error(`count must be 1..${MAX_HOSTS}`);
  if (!/^[a-z][a-z0-9-]{0,20}$/.test(prefix)) throw new Error(`bad name prefix ${prefix}`);

  await ensureBase(log);
  await cleanupStale();
  await ensureInotifyInstances(count, log);
  const t0 = Date.now();
  const testKey = await ensureTestKey();
  const names = Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(2, "0")}`);
  const hostKeys = await pool(names, 2, (n) => ensureHostKey(n));
  const hosts: TestHost[] = names.map((name, i) => {
    const address = `${SUBNET_PREFIX}.${FIRST_HOST_OCTET + i}`;
    return { name, address, port: 22, hostKeyLine: knownHostsLine(address, (hostKeys[i] as { publicKey: string }).publicKey) };
  });

  const fleet: TestFleet = {
    hosts,
    privateKeyPath: testKey.privateKeyPath,
    publicKey: testKey.publicKey,
    knownHostsPath: KNOWN_HOSTS_PATH,
    gateway: GATEWAY,
    stop: () => stopAll(names, log),
  };
  try {
    await setupBridge(log);
    await startProxy(baseMirrorHost());
    await pool(hosts, LAUNCH_CONCURRENCY, async (host, i) => {
      await addHostNetwork(host.name, FIRST_HOST_OCTET + i, host.address);
      await bootHost({
        name: host.name,
        address: host.address,
        hostKey: hostKeys[i] as { privateKey: string; publicKey: string },
        authorizedKey: testKey.publicKey,
      });
    });
    // Boot time grows with the fleet on a 2-core machine (~2.2 s per host measured).
    const deadline = Date.now() + Math.max(120_000, count * 8_000);
    const states = await Promise.all(
      hosts.map(async (h) => {
        await waitForSsh(h.address, h.port, deadline);
        return waitForSystemd(h.name, deadline);
      }),
    );
    const degraded = hosts.filter((_, i) => states[i] === "degraded").map((h) => h.name);
    if (degraded.length) log(`degraded (some unit failed): ${degraded.join(" ")}`);
  } catch (e) {
    const first = names[0];
    const consoleTail = first && fs.existsSync(consoleLog(first)) ? fs.readFileSync(consoleLog(first), "utf8").slice(-1500) : "";
    await stopAll(names, log).catch(() => {});
    throw new Error(`starting test hosts failed: ${(e as Error).message}\n${first} console:\n${consoleTail}`);
  }

  fs.writeFileSync(KNOWN_HOSTS_PATH, hosts.map((h) => h.hostKeyLine).join("\n") + "\n");
  writeFleetFile(fleet);
  log(`${count} host(s) up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${hosts.map((h) => h.address).join(" ")}`);
  return fleet;
}

function writeFleetFile(fleet: TestFleetData): void {
  const data: TestFleetData = {
    hosts: fleet.hosts,
    privateKeyPath: fleet.privateKeyPath,
    publicKey: fleet.publicKey,
    knownHostsPath: fleet.knownHostsPath,
    gateway: fleet.gateway,
  };
  const tmp = `${FLEET_FILE}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2) + "\n");
  fs.renameSync(tmp, FLEET_FILE);
}

/** The running fleet as another process (benchmark, CLI under test) sees it, or undefined. */
export function readFleet(): TestFleetData | undefined {
  try {
    return JSON.parse(fs.readFileSync(FLEET_FILE, "utf8")) as TestFleetData;
  } catch {
    return undefined;
  }
}

async function stopAll(names: string[], log: (m: string) => void): Promise<void> {
  const t0 = Date.now();
  fs.rmSync(FLEET_FILE, { force: true });
  await pool(names, 8, (n) => killHost(n));
  await teardownShared();
  log(`stopped ${names.length} host(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Bridge, veths, FORWARD chain, proxy, cgroups: everything not owned by one host. */
async function teardownShared(): Promise<void> {
  await stopProxy();
  await teardownNetwork();
  await removeAllCgroups();
}

/**
 * Find and clear everything a killed earlier run may have left: host namespaces (and what runs
 * in them), pid files, cgroups, overlay dirs, the bridge, veths, the FORWARD chain, the proxy.
 */
export async function cleanupStale(): Promise<void> {
  assertRoot();
  const names = new Set<string>();
  for (const ns of await listNetns()) names.add(ns.slice(NETNS_PREFIX.length));
  if (fs.existsSync(RUN_DIR)) {
    for (const f of fs.readdirSync(RUN_DIR)) {
      const m = /^(.+)\.pid$/.exec(f);
      if (m && m[1] !== "apt-proxy") names.add(m[1] as string);
    }
  }
  if (fs.existsSync(HOSTS_DIR)) for (const d of fs.readdirSync(HOSTS_DIR)) names.add(d);
  fs.rmSync(FLEET_FILE, { force: true });
  await pool([...names], 8, (n) => killHost(n));
  await teardownShared();
  if (fs.existsSync(RUN_DIR)) {
    for (const f of fs.readdirSync(RUN_DIR)) if (f.endsWith(".console.log")) fs.rmSync(path.join(RUN_DIR, f), { force: true });
  }
}

/** Run a command inside the host as root without SSH (nsenter), for assertions and tampering. */
export async function hostExec(host: TestHost, command: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return execInHost(host.name, command);
}

/**
 * Restart one host as its own "reboot" (a test host cannot come back from `systemctl reboot`: its
 * PID 1 exits and nothing boots it again — measured): kill it, then boot it again at the same
 * address with the same host key, ready when sshd answers and systemd is running. Like a reboot it
 * gets a new PID 1; unlike one, its disk is fresh (the overlay's upper is recreated) and its boot id
 * stays the machine's (one kernel).
 */
export async function restartHost(host: TestHost): Promise<void> {
  const octet = Number(host.address.split(".").at(-1));
  const [hostKey, testKey] = await Promise.all([ensureHostKey(host.name), ensureTestKey()]);
  await killHost(host.name);
  await addHostNetwork(host.name, octet, host.address);
  await bootHost({ name: host.name, address: host.address, hostKey, authorizedKey: testKey.publicKey });
  const deadline = Date.now() + 120_000;
  await waitForSsh(host.address, host.port, deadline);
  await waitForSystemd(host.name, deadline);
}

/** Kill one host abruptly (for "host dies mid-run" tests); the rest of the fleet keeps running. */
export async function stopHost(host: TestHost): Promise<void> {
  await killHost(host.name);
}
