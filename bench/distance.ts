/**
 * A fleet seen from a distance: every host behind its own latency proxies (latency-proxy.ts) on a
 * loopback address of its own (10.213.5.10 → 127.213.5.10): one for sshd (any free port) and one
 * for each SMTP port (25, 587, 465, the same port), all with the same delay. The tools reach the
 * host only through that address, so the playbook's SMTP verification (which connects to
 * `ctx.host.address`, here the proxy address) reaches the host's Postfix and pays the same
 * network distance as SSH does. A known_hosts file names the hosts by their proxy address
 * (`[127.213.5.10]:PORT key`, as OpenSSH and provision look them up), so host keys are still
 * checked. RTT 0 is the fleet itself, no proxy.
 */
import fs from "node:fs";
import path from "node:path";
import type { TestFleet, TestHost } from "./fleet.ts";
import { startLatencyProxy, type LatencyProxy } from "./latency-proxy.ts";

/** A host as the tools see it; `direct` is its own address (the name provision's --host gives it, mapped by an ssh config). */
export type DistantHost = TestHost & { direct?: string };

export interface DistantFleet {
  fleet: TestFleet;
  hosts: DistantHost[];
  close(): Promise<void>;
}

export async function atDistance(fleet: TestFleet, rttMs: number, dir: string): Promise<DistantFleet> {
  if (rttMs === 0) return { fleet, hosts: fleet.hosts, close: async () => undefined };
  const proxies: LatencyProxy[] = [];
  const sshProxies: LatencyProxy[] = [];
  try {
    for (const host of fleet.hosts) {
      const listenHost = loopbackFor(host.address);
      const start = (port: number, listenPort?: number) =>
        startLatencyProxy({
          target: { host: host.address, port },
          oneWayDelayMs: rttMs / 2,
          listenHost,
          ...(listenPort === undefined ? {} : { listenPort }),
          lifetimeMs: 20 * 60_000,
        });
      const ssh = await start(host.port);
      proxies.push(ssh);
      sshProxies.push(ssh);
      for (const port of SMTP_PORTS) proxies.push(await start(port, port));
    }
  } catch (error) {
    await Promise.all(proxies.map((p) => p.close()));
    throw error;
  }
  const hosts = fleet.hosts.map((host, i) => {
    const proxy = sshProxies[i] as LatencyProxy;
    const key = host.hostKeyLine.split(" ").slice(1).join(" ");
    return { ...host, address: proxy.host, port: proxy.port, direct: host.address, hostKeyLine: `[${proxy.host}]:${proxy.port} ${key}` };
  });
  fs.mkdirSync(dir, { recursive: true });
  const knownHostsPath = path.join(dir, `known_hosts-rtt${rttMs}`);
  fs.writeFileSync(knownHostsPath, `${hosts.map((h) => h.hostKeyLine).join("\n")}\n`);
  return { fleet: { ...fleet, hosts, knownHostsPath }, hosts, close: async () => void (await Promise.all(proxies.map((p) => p.close()))) };
}

/** The ports the mail playbook's verify smtp connects to, forwarded with the same delay as SSH. */
export const SMTP_PORTS = [25, 587, 465] as const;

/** A host's own loopback address for its proxies: 127 + the last three octets of its IPv4 address. */
export function loopbackFor(address: string): string {
  const octets = address.split(".");
  if (octets.length !== 4 || octets.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255))
    throw new Error(`latency proxy: an IPv4 host address, not ${address}`);
  return `127.${octets.slice(1).join(".")}`;
}

/** `address` for port 22, else `address:port` (provision's --host, the floors). */
export const hostArg = (host: TestHost) => (host.port === 22 ? host.address : `${host.address}:${host.port}`);
