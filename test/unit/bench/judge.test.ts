/**
 * The benchmark's judge of a drifted --check (bench/tools.ts): TAMPER edits one main.cf value, so
 * the run must find exactly that — postconf would change — and may call `unknown` only the steps
 * that depend on it (verify smtp reads what postconf provides); any other drift is a wrong run.
 */
import { describe, expect, it } from "vitest";
import { judge, type JsonHost, unexpectedDrift } from "../../../bench/tools.ts";

const POSTCONF = "postconf main.cf";
const step = (name: string, status: string, summary?: string) => ({ name, status, ...(summary ? { summary } : {}) });
const host = (steps: JsonHost["steps"]): JsonHost => ({
  status: "drift",
  roundTrips: 1,
  readRoundTrips: 1,
  counts: { ok: steps.filter((s) => s.status === "ok").length, wouldChange: 1, unknown: 0 },
  steps,
});
const dependsOn = (label: string) => `depends on a pending change of ${label} (as the host is now: ok)`;
const report = (...hosts: JsonHost[]) => JSON.stringify({ hosts });

describe("bench judge: --check with one setting drifted", () => {
  it("accepts postconf would-change plus verify unknown because of it", () => {
    const h = host([
      step("package postfix", "ok"),
      step(POSTCONF, "would-change", "smtpd_banner"),
      step("verify smtp 127.0.0.1", "unknown", dependsOn(`step "${POSTCONF}"`)),
    ]);
    expect(unexpectedDrift(h)).toEqual([]);
    const outcome = judge("provision", "check-drift", 2, report(h, h), 2);
    expect(outcome).toMatchObject({ ok: true });
  });

  it("accepts unknown through a chain: a step unknown because of postconf, or its handler", () => {
    const h = host([
      step(POSTCONF, "would-change"),
      step("file /etc/postfix/sasl/smtpd.conf", "unknown", dependsOn(`step "${POSTCONF}"`)),
      step("verify smtp", "unknown", dependsOn('step "file /etc/postfix/sasl/smtpd.conf"')),
      step("verify dns", "unknown", dependsOn('handler "restart postfix"')),
    ]);
    expect(unexpectedDrift(h)).toEqual([]);
  });

  it("rejects a wrong drift: another step would change", () => {
    const h = host([step(POSTCONF, "would-change"), step("file /etc/mailname", "would-change")]);
    expect(unexpectedDrift(h)).toEqual(["file (would-change)"]);
    expect(judge("provision", "check-drift", 2, report(h), 1)).toMatchObject({ ok: false, why: "drifted: file (would-change)" });
  });

  it("rejects no postconf drift, an unknown for another reason, a failure", () => {
    expect(unexpectedDrift(host([step("verify smtp", "unknown", dependsOn('step "file /etc/mailname"'))]))).toEqual([
      "verify (unknown)",
      "no postconf would-change",
    ]);
    expect(unexpectedDrift(host([step(POSTCONF, "would-change"), step("verify smtp", "unknown", "connection refused")]))).toEqual([
      "verify (unknown)",
    ]);
    expect(unexpectedDrift(host([step(POSTCONF, "would-change"), step("verify smtp", "failed")]))).toEqual(["verify (failed)"]);
    // An unknown before postconf cannot depend on it.
    expect(
      unexpectedDrift(host([step("verify smtp", "unknown", dependsOn(`step "${POSTCONF}"`)), step(POSTCONF, "would-change")])),
    ).toEqual(["verify (unknown)"]);
  });
});
