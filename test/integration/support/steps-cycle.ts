/**
 * The integration cycle every server step goes through on a real host: apply → apply again
 * (0 changes) → check (no drift) → tamper by hand → check finds drift → apply → check clean.
 * Returns the drift check's report so the test can assert that it names exactly its step.
 */
import { expect } from "vitest";
import { z } from "zod";
import { hostExec, type TestHost } from "../../hosts/harness.ts";
import { connectTestHost } from "./connect.ts";
import { runHost, type RunMode } from "../../../src/run/host-runner.ts";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import type { Facts } from "../../../src/facts/facts.ts";
import type { Handler, PlaybookItem } from "../../../src/playbook/step.ts";
import type { RunEvent } from "../../../src/report/events.ts";

export type StepsOf = (facts: Facts) => PlaybookItem[];

export async function play(host: TestHost, mode: RunMode, steps: StepsOf, handlers: Record<string, Handler> = {}) {
  const events: RunEvent[] = [];
  const playbook = definePlaybook({
    name: "steps-server",
    vars: z.object({}),
    steps: ({ facts }) => steps(facts),
    handlers: () => handlers,
  });
  const report = await runHost({
    playbook,
    vars: {},
    host: { name: host.name, address: host.address },
    connect: () => connectTestHost(host),
    mode,
    emit: (e) => events.push(e),
  });
  return { report, events };
}

/** Run a command inside the host (nsenter, no SSH); fail on a non-zero exit. */
export async function onHost(host: TestHost, command: string): Promise<string> {
  const r = await hostExec(host, command);
  if (r.exitCode !== 0) throw new Error(`${command}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

export async function cycle(host: TestHost, steps: StepsOf, tamper: string, handlers: Record<string, Handler> = {}) {
  const first = await play(host, "apply", steps, handlers);
  expect(first.report.status, JSON.stringify(first.report.steps)).toMatch(/^(changed|ok)$/);
  const second = await play(host, "apply", steps, handlers);
  expect(second.report.counts.changed, JSON.stringify(second.report.steps)).toBe(0);
  const check = await play(host, "check", steps, handlers);
  expect(check.report.status, JSON.stringify(check.report.steps)).toBe("ok");
  await onHost(host, tamper);
  const drift = await play(host, "check", steps, handlers);
  expect(drift.report.status, JSON.stringify(drift.report.steps)).toBe("drift");
  const fixed = await play(host, "apply", steps, handlers);
  expect(fixed.report.status, JSON.stringify(fixed.report.steps)).toBe("changed");
  const clean = await play(host, "check", steps, handlers);
  expect(clean.report.status, JSON.stringify(clean.report.steps)).toBe("ok");
  return drift.report;
}

/** Only the steps the drift check reported as changing: a check must name exactly the tampered one. */
export function drifted(report: { steps: { name: string; status: string }[] }): string[] {
  return report.steps.filter((s) => s.status !== "ok").map((s) => s.name);
}
