/**
 * Mock hosts for the system steps' tests (packages, service, iptables, sasldb): Debian 12, CentOS 7
 * (yum, SysV-style `service iptables save`, /usr/lib64/sasl2), CentOS 6 and Rocky 9 (dnf), from the
 * test-host kit's typed facts (test/support/test-host.ts), and its runner helper.
 */
import type { MockTransport } from "../../../src/transport/mock.ts";
import type { RunMode } from "../../../src/run/host-runner.ts";
import type { Facts } from "../../../src/facts/facts.ts";
import type { Handler, PlaybookItem } from "../../../src/playbook/step.ts";
import { runSteps, testHost, type Distro } from "../../support/test-host.ts";

export type { Distro } from "../../support/test-host.ts";

export function mockHost(distro: Distro): MockTransport {
  return testHost(distro);
}

export async function run(
  mock: MockTransport,
  mode: RunMode,
  steps: (facts: Facts) => PlaybookItem[],
  handlers: Record<string, Handler> = {},
) {
  return runSteps(mock, steps, mode, { handlers });
}

/** Commands after the reads: what apply sent (batched reads and the facts probe excluded). */
export function applied(mock: MockTransport): string[] {
  return mock.commands.filter((c) => !c.batched && !c.command.startsWith("# provision-facts v1 ")).map((c) => c.command);
}
