/**
 * What integration tests get from the harness (test/hosts/global-setup.ts): the started hosts,
 * the test key and a known_hosts file with their real keys.
 */
import { inject } from "vitest";

export interface FleetHost {
  name: string;
  address: string;
  port: number;
  hostKeyLine: string;
}

export interface Fleet {
  hosts: FleetHost[];
  privateKeyPath: string;
  publicKey: string;
  knownHostsPath: string;
  gateway: string;
}

// The `fleet` key of vitest's ProvidedContext is declared by test/hosts/global-setup.ts.
export function testFleet(): Fleet {
  const fleet = inject("fleet") as Fleet | null;
  if (!fleet || fleet.hosts.length === 0) throw new Error("no test hosts: run the integration project as root (see README)");
  return fleet;
}

/** A host by position; test files use different positions so they never share state. */
export function testHost(index: number): FleetHost {
  const fleet = testFleet();
  const host = fleet.hosts[index];
  if (!host) throw new Error(`test host #${index} was not started (fleet has ${fleet.hosts.length})`);
  return host;
}
