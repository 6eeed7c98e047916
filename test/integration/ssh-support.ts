/**
 * Shared bits of the SSH transport's integration tests: the fleet (real test hosts, or the dev
 * sshd of test/ssh-dev.global-setup.ts), and connecting to a fleet host as a given test user.
 */
import { inject } from "vitest";
import type { TestFleetData, TestHost } from "../hosts/harness.ts";
import { connectSsh, type SshOptions } from "../../src/transport/ssh/index.ts";
import type { SshTransport } from "../../src/transport/ssh/ssh-transport.ts";

export const fleet = (inject("fleet") as TestFleetData | null | undefined) ?? null;

export const SUDO_PASSWORD = "test-sudo-pass";

export function host(index: number): TestHost {
  const found = fleet?.hosts[index];
  if (!found) throw new Error(`test host #${index} is not running (fleet has ${fleet?.hosts.length ?? 0})`);
  return found;
}

/** True when the fleet is the dev sshd on 127.0.0.1 (no namespaces, no hostExec). */
export const devFleet = fleet?.hosts.every((h) => h.address === "127.0.0.1") ?? false;

export function connectAs(target: TestHost, user: string, extra: Partial<SshOptions> = {}): Promise<SshTransport> {
  const f = fleet;
  if (!f) throw new Error("no fleet");
  return connectSsh({
    host: target.address,
    port: target.port,
    user,
    identityFiles: [f.privateKeyPath],
    knownHostsFiles: [f.knownHostsPath],
    sshConfigPath: false,
    agent: false,
    ...extra,
  });
}
