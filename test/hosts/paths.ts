/**
 * Fixed names and places of the test-host harness, in one file so stale-state cleanup and startup
 * agree on exactly what belongs to us (we only ever delete what matches these).
 */
import { fileURLToPath } from "node:url";
import path from "node:path";

/**
 * Several fleets can run side by side (a benchmark while the tests run, two engineers' test runs):
 * PROVISION_TESTHOSTS_INSTANCE=N (0–9, default 0) gives a fleet its own bridge, subnet
 * (10.213.N.0/24), namespaces, proxy port, state and fleet file. Each instance clears only its own
 * leftovers. The base image and the per-name host keys are shared.
 */
export const INSTANCE = parseInstance(process.env.PROVISION_TESTHOSTS_INSTANCE);
const SUFFIX = INSTANCE === 0 ? "" : `-${INSTANCE}`;

function parseInstance(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 9) throw new Error(`PROVISION_TESTHOSTS_INSTANCE must be 0–9, got "${raw}"`);
  return n;
}

/** Everything the harness keeps lives here, outside the repo (base is ~400 MB). */
export const CACHE_DIR = "/var/cache/provision-testhosts";
export const BASE_DIR = path.join(CACHE_DIR, "base");
/** Per-host state that survives runs: only SSH host keys (so known_hosts stays valid). */
export const HOSTKEY_DIR = path.join(CACHE_DIR, "hostkeys");
/** Per-host overlay upper/work dirs; wiped on every start and stop. */
export const HOSTS_DIR = path.join(CACHE_DIR, `hosts${SUFFIX}`);
export const TEST_KEY_PATH = path.join(CACHE_DIR, "test_ed25519");
export const KNOWN_HOSTS_PATH = path.join(CACHE_DIR, `known_hosts${SUFFIX}`);
/** The running fleet, for other processes (benchmarks, the CLI under test). */
export const FLEET_FILE = path.join(CACHE_DIR, `fleet${SUFFIX}.json`);
/** Runtime state (proxy pid, cgroup2 mount, logs): tmpfs, gone after a reboot like the hosts. */
export const RUN_DIR = `/run/provision-testhosts${SUFFIX}`;
export const PROXY_PID_FILE = path.join(RUN_DIR, "apt-proxy.pid");
export const PROXY_LOG = path.join(RUN_DIR, "apt-proxy.log");
/** Our own cgroup2 mount (this machine runs cgroup v1 hierarchies; cgroup2 may be unmounted). */
export const CGROUP_MOUNT = path.join(RUN_DIR, "cgroup2");
export const CGROUP_PARENT = `provision-testhosts${SUFFIX}`;

export const BRIDGE = `provbr${INSTANCE}`;
/** A private /24 that exists only on our bridge. */
export const SUBNET_PREFIX = `10.213.${INSTANCE}`;
export const GATEWAY = `${SUBNET_PREFIX}.1`;
export const SUBNET = `${SUBNET_PREFIX}.0/24`;
export const FIRST_HOST_OCTET = 10;
/** 10..250: the /24 caps the fleet size. */
export const MAX_HOSTS = 240;
export const NETNS_PREFIX = INSTANCE === 0 ? "provh-" : `provh${INSTANCE}-`;
/** Root-namespace veth ends: "pv" + index keeps names under IFNAMSIZ (15) for any host name. */
export const VETH_PREFIX = INSTANCE === 0 ? "provv" : `pv${INSTANCE}v`;
export const FORWARD_CHAIN = `PROVISION-TESTHOSTS${SUFFIX}`;
export const PROXY_PORT = 3142 + INSTANCE;

export const TEST_USER_SUDO_PASSWORD = "test-sudo-pass"; // test-only, for deploy2

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const LAUNCHER = path.join(HERE, "launcher.sh");
