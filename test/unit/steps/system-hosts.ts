/**
 * Mock hosts for the system steps' tests (packages, service, iptables, sasldb): facts as Debian 12,
 * CentOS 7 (yum, SysV-style `service iptables save`, /usr/lib64/sasl2) and Rocky 9 (dnf) print
 * them, and a one-line way to run steps through the real runner.
 */
import { z } from "zod";
import { MockTransport } from "../../../src/transport/mock.ts";
import { runHost, type RunMode } from "../../../src/run/host-runner.ts";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import type { Facts } from "../../../src/facts/facts.ts";
import type { Handler, PlaybookItem } from "../../../src/playbook/step.ts";
import type { RunEvent } from "../../../src/report/events.ts";

const FACTS = {
  debian12:
    "hostname=mail1\narch=x86_64\nuid=0\nid=debian\nid_like=\nversion=12\nhas=apt-get\nhas=systemctl\nhas=service\nsystemd_running=1\ndir=/etc/postfix/sasl\n",
  centos7:
    "hostname=mail7\narch=x86_64\nuid=0\nid=centos\nid_like=rhel fedora\nversion=7\nhas=yum\nhas=systemctl\nhas=service\nsystemd_running=1\ndir=/usr/lib64/sasl2\n",
  centos6: "hostname=mail6\narch=x86_64\nuid=0\nid=centos\nid_like=rhel fedora\nversion=6\nhas=yum\nhas=service\ndir=/usr/lib64/sasl2\n",
  rocky9:
    "hostname=mail9\narch=x86_64\nuid=0\nid=rocky\nid_like=rhel centos fedora\nversion=9.3\nhas=dnf\nhas=yum\nhas=systemctl\nhas=service\nsystemd_running=1\ndir=/etc/sasl2\n",
} as const;

export type Distro = keyof typeof FACTS;

export function mockHost(distro: Distro): MockTransport {
  return new MockTransport(distro).on((command) => command.startsWith('echo "hostname=$(uname -n)"'), { stdout: FACTS[distro] });
}

export async function run(
  mock: MockTransport,
  mode: RunMode,
  steps: (facts: Facts) => PlaybookItem[],
  handlers: Record<string, Handler> = {},
) {
  const events: RunEvent[] = [];
  const playbook = definePlaybook({ name: "t", vars: z.object({}), steps: ({ facts }) => steps(facts), handlers: () => handlers });
  const report = await runHost({
    playbook,
    vars: {},
    host: { name: mock.host, address: mock.host },
    connect: async () => mock.reopen(),
    mode,
    emit: (event) => events.push(event),
  });
  return { report, events, step: report.steps[0] };
}

/** Commands after the reads: what apply sent (batched reads and the facts probe excluded). */
export function applied(mock: MockTransport): string[] {
  return mock.commands.filter((c) => !c.batched && !c.command.startsWith('echo "hostname=')).map((c) => c.command);
}
