/**
 * The private network: a bridge in the root namespace holding the gateway address, one veth per
 * host, and a dedicated iptables chain that drops anything forwarded into or out of the bridge
 * (ip_forward is 0 anyway; the chain is a second guard, and teardown removes exactly it).
 */
import fs from "node:fs";
import { BRIDGE, FORWARD_CHAIN, GATEWAY, NETNS_PREFIX, VETH_PREFIX } from "./paths.ts";
import { check, run } from "./run.ts";

export const netnsName = (host: string) => `${NETNS_PREFIX}${host}`;
const vethName = (octet: number) => `${VETH_PREFIX}${octet}`;

export async function setupBridge(log: (m: string) => void): Promise<void> {
  if (fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim() !== "0") {
    log("warning: net.ipv4.ip_forward is 1 in the root namespace; relying on the FORWARD DROP chain");
  }
  await check("ip", ["-b", "-"], {
    input: [`link add ${BRIDGE} type bridge`, `addr add ${GATEWAY}/24 dev ${BRIDGE}`, `link set ${BRIDGE} up`, ""].join("\n"),
  });
  // No IPv6 on the bridge: the root namespace then offers hosts no IPv6 path at all (the FORWARD
  // chain is IPv4 only). Hosts keep link-local IPv6 among themselves, which stays on the bridge.
  fs.writeFileSync(`/proc/sys/net/ipv6/conf/${BRIDGE}/disable_ipv6`, "1");
  await addForwardGuard();
}

async function addForwardGuard(): Promise<void> {
  await run("iptables", ["-w", "-N", FORWARD_CHAIN]); // exists already → flushed below
  await check("iptables", ["-w", "-F", FORWARD_CHAIN]);
  await check("iptables", ["-w", "-A", FORWARD_CHAIN, "-i", BRIDGE, "!", "-o", BRIDGE, "-j", "DROP"]);
  await check("iptables", ["-w", "-A", FORWARD_CHAIN, "!", "-i", BRIDGE, "-o", BRIDGE, "-j", "DROP"]);
  if ((await run("iptables", ["-w", "-C", "FORWARD", "-j", FORWARD_CHAIN])).exitCode !== 0) {
    await check("iptables", ["-w", "-I", "FORWARD", "1", "-j", FORWARD_CHAIN]);
  }
}

async function removeForwardGuard(): Promise<void> {
  if ((await run("sh", ["-c", "command -v iptables"])).exitCode !== 0) return;
  // Delete every jump we may have added (bounded: a crashed run could have added one more).
  for (let i = 0; i < 10; i++) {
    if ((await run("iptables", ["-w", "-D", "FORWARD", "-j", FORWARD_CHAIN])).exitCode !== 0) break;
  }
  await run("iptables", ["-w", "-F", FORWARD_CHAIN]);
  await run("iptables", ["-w", "-X", FORWARD_CHAIN]);
}

/** A namespace with one veth into the bridge; the host's only route is the bridge subnet. */
export async function addHostNetwork(host: string, octet: number, address: string): Promise<void> {
  const ns = netnsName(host);
  await check("ip", ["-b", "-"], {
    input: [
      `netns add ${ns}`,
      `link add ${vethName(octet)} type veth peer name eth0 netns ${ns}`,
      `link set ${vethName(octet)} master ${BRIDGE} up`,
      "",
    ].join("\n"),
  });
  await check("ip", ["-n", ns, "-b", "-"], {
    input: [`addr add ${address}/24 dev eth0`, "link set eth0 up", "link set lo up", ""].join("\n"),
  });
}

export async function listNetns(): Promise<string[]> {
  const r = await run("ip", ["netns", "list"]);
  return r.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

export async function deleteNetns(host: string): Promise<void> {
  // Deleting the namespace destroys its veth end, and with it the bridge end.
  await run("ip", ["netns", "del", netnsName(host)]);
}

/** Our veths (provvNN) and the bridge, e.g. left by a killed run. */
export async function listOurLinks(): Promise<string[]> {
  const r = await run("ip", ["-o", "link", "show"]);
  const names = r.stdout.split("\n").map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? "");
  return names.filter((n) => n === BRIDGE || new RegExp(`^${VETH_PREFIX}\\d+$`).test(n));
}

export async function teardownNetwork(): Promise<void> {
  const links = await listOurLinks();
  if (links.length) {
    await run("ip", ["-force", "-b", "-"], { input: links.map((l) => `link del ${l}`).join("\n") + "\n" });
  }
  await removeForwardGuard();
}
