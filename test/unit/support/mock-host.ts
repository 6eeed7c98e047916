/**
 * A mock Debian host for engine tests: facts answered like a Debian 12 machine, everything else
 * from the MockTransport's fixtures and file store.
 */
import type { MockTransport } from "../../../src/transport/mock.ts";
import { FACTS, factsOutput, testHost } from "../../support/test-host.ts";
import { runHost, type RunMode } from "../../../src/run/host-runner.ts";
import type { Playbook } from "../../../src/playbook/playbook.ts";
import type { RunEvent } from "../../../src/report/events.ts";
import { assertNoSecrets } from "../../support/secret-canary.ts";

/** The facts probe's output on Debian 12, from the test-host kit's typed facts. */
export const DEBIAN_FACTS = factsOutput(FACTS.debian12);

export function debianHost(name = "mail1"): MockTransport {
  return testHost("debian12", { name });
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
