/**
 * playbooks/mail.ts --check on a Debian 12 host without Postfix (its packages purged), through the
 * mock transport answering every read with the output a real host gave
 * (fixtures/debian12-bare-mail-check.json: recorded from a test host after
 * `apt-get purge postfix sasl2-bin db-util libsasl2-modules`, batches split into their fragments).
 * Re-record it (a read's command changed) with test/support/record-bare-mail.ts, which uses the
 * same vars (test/support/bare-mail.ts).
 *
 * Before steps declared what they touch, this check said "insert at 1" for the 587 rule that goes
 * to position 2 (the 25 rule was itself pending at 1), showed the saved rules without 25 and 587,
 * and reported the SMTP check as drift ("connection refused") — none of which apply would do.
 */
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import mail from "../../../playbooks/mail.ts";
import { overallResult } from "../../../src/cli/exit-code.ts";
import { validateVars } from "../../../src/playbook/vars.ts";
import { runHost } from "../../../src/run/host-runner.ts";
import { MockTransport } from "../../../src/transport/mock.ts";
import { BARE_MAIL_FIXTURE, BARE_MAIL_VARS, type RecordedCommand } from "../../support/bare-mail.ts";

const recorded = JSON.parse(fs.readFileSync(BARE_MAIL_FIXTURE, "utf8")) as RecordedCommand[];

function bareDebianHost(): MockTransport {
  const mock = new MockTransport("th01");
  for (const r of recorded) {
    mock.on((command) => command === r.command, {
      exitCode: r.exitCode,
      stdout: Buffer.from(r.stdout, "base64"),
      stderr: Buffer.from(r.stderr, "base64"),
    });
  }
  return mock;
}

describe("playbooks/mail.ts --check on a bare Debian 12 host (recorded outputs)", () => {
  it("packages would change; everything that depends on them is unknown, naming the change it waits for", async () => {
    const mock = bareDebianHost();
    // The vars the outputs were recorded with (the SMTP check probes from the host: a remote read).
    const vars = validateVars(mail, BARE_MAIL_VARS);
    const report = await runHost({
      playbook: mail,
      vars,
      host: { name: "th01", address: "th01" },
      connect: async () => mock.reopen(),
      mode: "check",
    });
    expect(mock.unmatched).toEqual([]);
    const [packages, ...rest] = report.steps;
    expect(packages).toMatchObject({
      status: "would-change",
      summary: "install postfix sasl2-bin libsasl2-modules db-util iptables-persistent",
    });
    for (const step of rest) expect(step.status, `${step.name}: ${step.summary ?? step.error}`).toBe("unknown");

    const byName = (start: string) => report.steps.find((s) => s.name.startsWith(start));
    const smtpRule = byName("iptables filter/INPUT -p tcp --dport 25 ");
    // 587 goes to position 2: while 25 is pending at 1, "insert at 1" is not what apply would do.
    expect(byName("iptables filter/INPUT -p tcp --dport 587 ")?.summary).toBe(
      `depends on a pending change of step "${smtpRule?.name}" (as the host is now: insert at 1)`,
    );
    // What would be saved depends on the rules still to be inserted: no diff of today's rules.
    const persist = byName("iptables-save → /etc/iptables/rules.v4");
    expect(persist?.summary).toMatch(/^depends on a pending change of step "iptables filter\/INPUT -p tcp --dport 587 /);
    expect(persist?.diff).toBeUndefined();
    // Postfix is not even installed: the SMTP check cannot say anything yet.
    expect(byName("verify smtp")?.summary).toMatch(
      /^depends on a pending change of step "service postfix" \(as the host is now: port 25: (connect: )?connection refused/,
    );

    expect(report.status).toBe("drift");
    expect(overallResult([report]).exitCode).toBe(2);
    // Nothing but reads reached the host.
    expect(mock.commands.every((c) => recorded.some((r) => r.command === c.command))).toBe(true);
  });
});
