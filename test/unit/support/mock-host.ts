/**
 * A mock Debian host for engine tests: facts answered like a Debian 12 machine, everything else
 * from the MockTransport's fixtures and file store.
 */
import { MockTransport } from "../../../src/transport/mock.ts";
import { runHost, type RunMode } from "../../../src/run/host-runner.ts";
import type { Playbook } from "../../../src/playbook/playbook.ts";
import type { RunEvent } from "../../../src/report/events.ts";
import { assertNoSecrets } from "../../support/secret-canary.ts";

export const DEBIAN_FACTS = `hostname=mail1
arch=x86_64
uid=0
id=debian
id_like=
version=12
has=apt-get
has=systemctl
has=service
systemd_running=1
dir=/etc/postfix/sasl
`;

export function debianHost(name = "mail1"): MockTransport {
  return new MockTransport(name).on((command) => command.startsWith('echo "hostname=$(uname -n)"'), { stdout: DEBIAN_FACTS });
}

export async function runOn(mock: MockTransport, playbook: Playbook, mode: RunMode, vars: unknown = {}) {
  const events: RunEvent[] = [];
  const report = await runHost({
    playbook,
    vars,
    host: { name: mock.host, address: mock.host },
    connect: async () => mock.reopen(),
    mode,
    emit: (event) => events.push(event),
  });
  // Every runner-level unit test that goes through here is also a secrets scan.
  assertNoSecrets("runner events and report", JSON.stringify({ events, report }));
  return { report, events };
}
