/**
 * The Postfix steps (postconf, masterService, configKeys, line) against a real Debian 12 host
 * (Postfix 3.7) over SSH: for each, apply → apply again (0 changes) → check (no drift) → tamper
 * by hand (nsenter, not through the tool) → check names the step with a diff → apply → check
 * clean. And the guide's `smtpd_sasl_secrity_options` typo: the host fails before anything changes.
 * Uses test host #3 only.
 */
import { beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../src/playbook/playbook.ts";
import type { PlaybookItem } from "../../src/playbook/step.ts";
import type { HostReport } from "../../src/report/events.ts";
import { runHost, type RunMode } from "../../src/run/host-runner.ts";
import { configKeys } from "../../src/steps/config-keys.ts";
import { line } from "../../src/steps/line.ts";
import { masterService } from "../../src/steps/master-service.ts";
import { postconf } from "../../src/steps/postconf.ts";
import { hostExec } from "../hosts/harness.ts";
import type {} from "../hosts/global-setup.ts";
import { connectTestHost } from "./support/connect.ts";
import { testHost, type FleetHost } from "./support/fleet.ts";

const HOST_INDEX = 3;

const guide = {
  smtpd_sasl_auth_enable: "yes",
  smtpd_sasl_local_domain: "$myhostname",
  smtpd_banner: "$myhostname ESMTP unknown",
  smtpd_recipient_restrictions: "permit_mynetworks,\n    permit_sasl_authenticated,\n    reject_unauth_destination",
  smtpd_sasl_security_options: "noanonymous, noplaintext",
};
const submission = {
  service: "submission",
  type: "inet",
  private: "n",
  chroot: "n",
  command: "smtpd",
  options: {
    syslog_name: "postfix/submission",
    smtpd_sasl_auth_enable: "yes",
    smtpd_recipient_restrictions: "permit_sasl_authenticated,reject",
  },
} as const;
const SASL_CONF = "/etc/postfix/sasl/smtpd.conf";
const sasl = { pwcheck_method: "auxprop", auxprop_plugin: "sasldb", mech_list: "CRAM-MD5 DIGEST-MD5 PLAIN LOGIN" };

describe.skipIf(!inject("fleet"))("Postfix steps on a real Debian 12 host", () => {
  let host: FleetHost;
  beforeAll(() => {
    host = testHost(HOST_INDEX);
  });

  const run = (items: () => PlaybookItem[], mode: RunMode): Promise<HostReport> =>
    runHost({
      playbook: definePlaybook({ name: "steps-postfix", vars: z.object({}), steps: items }),
      vars: {},
      host: { name: host.name, address: host.address },
      connect: () => connectTestHost(host),
      mode,
    });

  const sh = async (command: string): Promise<string> => {
    const result = await hostExec(host, command);
    if (result.exitCode !== 0) throw new Error(`${command}: exit ${result.exitCode}: ${result.stderr}`);
    return result.stdout;
  };

  const snapshot = () => sh(`postconf -n; echo ===; cat /etc/postfix/master.cf; echo ===; cat ${SASL_CONF} 2>/dev/null || :`);

  it("the guide's misspelled smtpd_sasl_secrity_options fails the host before anything changes", async () => {
    const before = await snapshot();
    const report = await run(
      () => [
        postconf({ settings: { ...guide, smtpd_sasl_secrity_options: "noanonymous, noplaintext" } }),
        masterService(submission),
        configKeys({ path: SASL_CONF, settings: sasl, separator: ": ", create: true }),
      ],
      "apply",
    );
    expect(report.status).toBe("failed");
    expect(report.error).toContain("unknown Postfix parameter smtpd_sasl_secrity_options — did you mean smtpd_sasl_security_options?");
    expect(report.steps.every((s) => s.status !== "changed")).toBe(true);
    expect(await snapshot()).toBe(before);
  });

  /** apply → apply (0) → check ok → tamper → check drift (this step, with a diff) → apply → check ok. */
  async function cycle(items: () => PlaybookItem[], stepName: string, tamper: string, diffContains: string): Promise<void> {
    const first = await run(items, "apply");
    expect(first.status, first.error ?? JSON.stringify(first.steps)).not.toBe("failed");
    const again = await run(items, "apply");
    expect(again.counts.changed, JSON.stringify(again.steps)).toBe(0);
    expect((await run(items, "check")).status).toBe("ok");

    await sh(tamper);
    const drift = await run(items, "check");
    expect(drift.status).toBe("drift");
    const step = drift.steps.find((s) => s.status === "would-change");
    expect(step?.name).toBe(stepName);
    expect(step?.diff).toContain(diffContains);

    expect((await run(items, "apply")).counts.changed).toBe(1);
    expect((await run(items, "check")).status).toBe("ok");
  }

  it("postconf", async () => {
    const steps = () => [postconf({ settings: guide })];
    await cycle(
      steps,
      steps()[0]!.name,
      "postconf -e smtpd_sasl_security_options=noanonymous",
      "-smtpd_sasl_security_options = noanonymous",
    );
    expect(await sh("postconf -n smtpd_recipient_restrictions smtpd_sasl_local_domain")).toBe(
      "smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination\nsmtpd_sasl_local_domain = $myhostname\n",
    );
  });

  it("postconf: null removes a parameter from main.cf (postconf -X), and keeps it removed", async () => {
    await sh("postconf -e 'relayhost=[smtp.example.net]:587'");
    const steps = () => [postconf({ settings: { relayhost: null } })];
    await cycle(steps, steps()[0]!.name, "postconf -e 'relayhost=[smtp.example.net]:2525'", "-relayhost = [smtp.example.net]:2525");
    expect(await sh("postconf -n relayhost")).toBe("");
    expect(await sh("grep -c '^relayhost' /etc/postfix/main.cf || :")).toBe("0\n");
  });

  it("masterService (the commented-out Debian submission entry)", async () => {
    expect(await sh("postconf -M submission/inet 2>/dev/null")).toBe(""); // only commented out to start with
    const steps = () => [masterService(submission)];
    await cycle(
      steps,
      "master.cf submission/inet",
      "postconf -PX submission/inet/syslog_name && postconf -P submission/inet/smtpd_tls_security_level=none && postconf -F submission/inet/chroot=y",
      "-  -o smtpd_tls_security_level=none",
    );
    expect(await sh("postconf -P submission/inet")).toBe(
      "submission/inet/smtpd_recipient_restrictions = permit_sasl_authenticated,reject\n" +
        "submission/inet/smtpd_sasl_auth_enable = yes\nsubmission/inet/syslog_name = postfix/submission\n",
    );
    expect(await sh("postfix check 2>&1 || :")).toBe("");
  });

  it("configKeys (SASL smtpd.conf)", async () => {
    const steps = () => [configKeys({ path: SASL_CONF, settings: sasl, separator: ": ", create: true, mode: "0644" })];
    await cycle(
      steps,
      steps()[0]!.name,
      `sed -i 's/^pwcheck_method: .*/pwcheck_method: saslauthd/' ${SASL_CONF}`,
      "+pwcheck_method: auxprop",
    );
    expect(await sh(`cat ${SASL_CONF}`)).toBe(
      "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: CRAM-MD5 DIGEST-MD5 PLAIN LOGIN\n",
    );
  });

  it("line (sshd_config; the regexp owns every PermitRootLogin line)", async () => {
    const steps = () => [
      line({
        path: "/etc/ssh/sshd_config",
        line: "PermitRootLogin prohibit-password",
        regexp: "^PermitRootLogin",
        insertAfter: "^#PermitRootLogin",
      }),
    ];
    const mode = await sh("stat -c %a /etc/ssh/sshd_config");
    await cycle(steps, steps()[0]!.name, "echo 'PermitRootLogin yes' >> /etc/ssh/sshd_config", "-PermitRootLogin yes");
    expect(await sh("grep -c '^PermitRootLogin' /etc/ssh/sshd_config")).toBe("1\n");
    expect(await sh("stat -c %a /etc/ssh/sshd_config")).toBe(mode);
  });
});
