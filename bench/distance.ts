/**
 * A fleet seen from a distance: every host behind its own latency proxy (latency-proxy.ts) on
 * 127.0.0.1, with a known_hosts file that names the hosts by their proxy address
 * (`[127.0.0.1]:PORT key`, as OpenSSH and provision look them up), so host keys are still checked.
 * RTT 0 is the fleet itself, no proxy.
 */
import fs from "node:fs";
import path from "node:path";
import type { TestFleet, TestHost } from "./fleet.ts";
import { startLatencyProxy, type LatencyProxy } from "./latency-proxy.ts";

/** A host as the tools see it; `direct` is its own address (for SMTP checks, not proxied). */
export type DistantHost = TestHost & { direct?: string };

export interface DistantFleet {
  fleet: TestFleet;
  hosts: DistantHost[];
  close(): Promise<void>;
}

export async function atDistance(fleet: TestFleet, rttMs: number, dir: string): Promise<DistantFleet> {
  if (rttMs === 0) return { fleet, hosts: fleet.hosts, close: async () => undefined };
  const proxies: LatencyProxy[] = [];
  try {
    for (const host of fleet.hosts) {
      proxies.push(
        await startLatencyProxy({ target: { host: host.address, port: host.port }, oneWayDelayMs: rttMs / 2, lifetimeMs: 20 * 60_000 }),
      );
    }
  } catch (error) {
    await Promise.all(proxies.map((p) => p.close()));
    throw error;
  }
  const hosts = fleet.hosts.map((host, i) => {
    const proxy = proxies[i] as LatencyProxy;
    const key = host.hostKeyLine.split(" ").slice(1).join(" ");
    return { ...host, address: proxy.host, port: proxy.port, direct: host.address, hostKeyLine: `[${proxy.host}]:${proxy.port} ${key}` };
  });
  fs.mkdirSync(dir, { recursive: true });
  const knownHostsPath = path.join(dir, `known_hosts-rtt${rttMs}`);
  fs.writeFileSync(knownHostsPath, `${hosts.map((h) => h.hostKeyLine).join("\n")}\n`);
  return { fleet: { ...fleet, hosts, knownHostsPath }, hosts, close: async () => void (await Promise.all(proxies.map((p) => p.close()))) };
}

/** `address` for port 22, else `address:port` (provision's --host, the floors). */
export const hostArg = (host: TestHost) => (host.port === 22 ? host.address : `${host.address}:${host.port}`);
