/**
 * Fixed names and places of the test-host harness, in one file so stale-state cleanup and startup
 * agree on exactly what belongs to us (we only ever delete what matches these).
 */
import { fileURLToPath } from "node:url";
import path from "node:path";

/** Everything the harness keeps lives here, outside the repo (base is ~400 MB). */
export const CACHE_DIR = "/var/cache/provision-testhosts";
export const BASE_DIR = path.join(CACHE_DIR, "base");
/** Per-host state that survives runs: only SSH host keys (so known_hosts stays valid). */
export const HOSTKEY_DIR = path.join(CACHE_DIR, "hostkeys");
/** Per-host overlay upper/work dirs; wiped on every start and stop. */
export const HOSTS_DIR = path.join(CACHE_DIR, "hosts");
export const TEST_KEY_PATH = path.join(CACHE_DIR, "test_ed25519");
export const KNOWN_HOSTS_PATH = path.join(CACHE_DIR, "known_hosts");
/** The running fleet, for other processes (benchmarks, the CLI under test). */
export const FLEET_FILE = path.join(CACHE_DIR, "fleet.json");
/** Runtime state (proxy pid, cgroup2 mount, logs): tmpfs, gone after a reboot like the hosts. */
export const RUN_DIR = "/run/provision-testhosts";
export const PROXY_PID_FILE = path.join(RUN_DIR, "apt-proxy.pid");
export const PROXY_LOG = path.join(RUN_DIR, "apt-proxy.log");
/** Our own cgroup2 mount (this machine runs cgroup v1 hierarchies; cgroup2 may be unmounted). */
export const CGROUP_MOUNT = path.join(RUN_DIR, "cgroup2");
export const CGROUP_PARENT = "provision-testhosts";

export const BRIDGE = "provbr0";
/** A private /24 that exists only on our bridge. */
export const SUBNET_PREFIX = "10.213.0";
export const GATEWAY = `${SUBNET_PREFIX}.1`;
export const SUBNET = `${SUBNET_PREFIX}.0/24`;
export const FIRST_HOST_OCTET = 10;
/** 10..250: the /24 caps the fleet size. */
export const MAX_HOSTS = 240;
export const NETNS_PREFIX = "provh-";
/** Root-namespace veth ends: "pv" + index keeps names under IFNAMSIZ (15) for any host name. */
export const VETH_PREFIX = "provv";
export const FORWARD_CHAIN = "PROVISION-TESTHOSTS";
export const PROXY_PORT = 3142;

export const TEST_USER_SUDO_PASSWORD = "test-sudo-pass"; // test-only, for deploy2

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const LAUNCHER = path.join(HERE, "launcher.sh");
