/**
 * playbooks/mail.ts on a fresh real test host (Debian 12: real Postfix, Cyrus SASL, iptables),
 * through the CLI over SSH: converge, prove it with a client that is not ours, stay idempotent,
 * then drift each thing the guide set up by hand and watch --check name it and a run repair it.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostExec } from "../hosts/harness.ts";
import { pythonSmtpLogin } from "../support/python-smtp-login.ts";
import { testHost } from "./support/fleet.ts";
import { driftedSteps, parseReport, REPO, runOnTestHost } from "./support/cli.ts";

const host = testHost(6);
const HOSTNAME = "mail.example.test";
const PASSWORD = "Mail-Test-pw-7731";
const PLAYBOOK = join(REPO, "playbooks/mail.ts");

let dir: string;
let varsFile: string;

const run = (...extra: string[]) =>
  runOnTestHost(PLAYBOOK, host.address, ["--vars-file", varsFile, ...extra], { env: { MAIL_TEST_PASSWORD: PASSWORD } });

async function check() {
  const result = await run("--check", "--json");
  const report = parseReport(result);
  const [hostReport] = report.hosts;
  if (!hostReport) throw new Error(`no host in report: ${result.stdout}`);
  return { code: result.code, host: hostReport, raw: result };
}

async function onHost(command: string): Promise<string> {
  const result = await hostExec(host, command);
  if (result.exitCode !== 0) throw new Error(`${command}: exit ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-mail-"));
  varsFile = join(dir, "mail.yml");
  await writeFile(
    varsFile,
    [
      `hostname: ${HOSTNAME}`,
      "users:",
      "  - name: bob",
      "    password: { fromEnv: MAIL_TEST_PASSWORD }",
      "verify:",
      "  smtpFrom: controller",
      "",
    ].join("\n"),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("playbooks/mail.ts on a real Debian 12 host", () => {
  it("converges a fresh host, and a real SMTP client logs in with CRAM-MD5 on 587", async () => {
    const first = await run();
    expect(first.code, `${first.stdout}\n${first.stderr}`).toBe(0);
    expect(first.stdout).toMatch(/handler restart postfix: ran/);

    const login = await pythonSmtpLogin({ host: host.address, port: 587, user: `bob@${HOSTNAME}`, password: PASSWORD });
    expect(login.mechanisms).toEqual(expect.arrayContaining(["CRAM-MD5", "DIGEST-MD5"]));
    expect(login.code, login.text).toBe(235);
    const wrong = await pythonSmtpLogin({ host: host.address, port: 587, user: `bob@${HOSTNAME}`, password: "not-the-password" });
    expect(wrong.code).toBe(535);

    const settings = await onHost("postconf -n");
    for (const expected of [
      `myhostname = ${HOSTNAME}`,
      "mydomain = example.test",
      "myorigin = $mydomain",
      "inet_interfaces = all",
      "inet_protocols = ipv4",
      "mydestination = $myhostname, localhost.$mydomain, $mydomain",
      "home_mailbox = Maildir/",
      "smtpd_banner = $myhostname ESMTP",
      "disable_vrfy_command = yes",
      "smtpd_sasl_auth_enable = yes",
      "smtpd_sasl_local_domain = $myhostname",
      "smtpd_sasl_security_options = noanonymous, noplaintext",
      "smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
    ]) {
      expect(settings).toContain(`${expected}\n`);
    }
    expect(await onHost("postconf -M submission/inet")).toMatch(/^submission\s+inet\s+n\s+-\s+y\s+-\s+-\s+smtpd/);
    expect(await onHost("stat -c '%U %G %a' /etc/sasldb2")).toBe("postfix sasl 640\n");
    expect(await onHost("cat /etc/iptables/rules.v4")).toMatch(/-A INPUT -p tcp -m tcp --dport 587 -j ACCEPT/);
  });

  it("reports 0 changes on a second run, and --check exits 0", async () => {
    const second = await run("--json");
    expect(second.code, second.stderr).toBe(0);
    const [report] = parseReport(second).hosts;
    expect(report?.counts.changed).toBe(0);
    expect(report?.handlers).toEqual([]);
    const clean = await check();
    expect(clean.code, JSON.stringify(clean.host.steps.filter((s) => s.status !== "ok"))).toBe(0);
  });

  // drifted: would change; unknown: depends on one of those pending changes (apply would see
  // another state — after a restart the SMTP check may well pass, after the 587 rule is back
  // rules.v4 matches again).
  const scenarios: { name: string; tamper: string; drifted: RegExp[]; unknown: RegExp[] }[] = [
    {
      name: "a main.cf value edited by hand",
      tamper: "postconf -e 'smtpd_banner = $myhostname ESMTP $mail_name ($mail_version)'",
      drifted: [/^postconf /],
      unknown: [/^verify smtp/],
    },
    {
      name: "submission commented out again",
      tamper: "sed -i 's/^submission/#submission/' /etc/postfix/master.cf && postfix reload",
      // The port closes once Postfix reloads, so the login check fails too.
      drifted: [/submission/],
      unknown: [/^verify smtp/],
    },
    {
      name: "the port-587 rule deleted",
      tamper: "iptables -D INPUT -p tcp --dport 587 -j ACCEPT",
      // rules.v4 no longer matches the live rules either.
      drifted: [/--dport 587/],
      unknown: [/^iptables-save → /, /^verify smtp/],
    },
    {
      name: "the sasl password changed by hand with saslpasswd2",
      tamper: `printf 'changed-by-hand' | saslpasswd2 -p -c -u ${HOSTNAME} bob && cp -p /etc/sasldb2 /var/spool/postfix/etc/sasldb2`,
      drifted: [/sasldb/],
      unknown: [/^verify smtp/],
    },
    {
      name: "/etc/sasldb2 owned by root again",
      tamper: "chown root /etc/sasldb2",
      drifted: [/sasldb/],
      unknown: [/^verify smtp/],
    },
    {
      name: "Postfix stopped",
      tamper: "systemctl stop postfix",
      drifted: [/^service postfix/],
      unknown: [/^verify smtp/],
    },
  ];

  for (const scenario of scenarios) {
    it(`detects and repairs: ${scenario.name}`, async () => {
      await onHost(scenario.tamper);
      const drift = await check();
      expect(drift.code, drift.raw.stderr).toBe(2);
      const names = driftedSteps(drift.host);
      const shown = JSON.stringify(
        drift.host.steps.filter((s) => s.status !== "ok"),
        null,
        2,
      );
      expect(names, shown).toHaveLength(scenario.drifted.length + scenario.unknown.length);
      const withStatus = (status: string) => drift.host.steps.filter((s) => s.status === status).map((s) => s.name);
      scenario.drifted.forEach(
        (pattern) =>
          void expect(
            withStatus("would-change").some((name) => pattern.test(name)),
            `${pattern} would change: ${shown}`,
          ).toBe(true),
      );
      scenario.unknown.forEach(
        (pattern) =>
          void expect(
            withStatus("unknown").some((name) => pattern.test(name)),
            `${pattern} unknown: ${shown}`,
          ).toBe(true),
      );
      for (const step of drift.host.steps)
        if (step.status === "unknown") expect(step.summary).toMatch(/^depends on a pending change of (step|handler) "/);
      expect(drift.raw.stdout).not.toContain(PASSWORD);

      const repair = await run();
      expect(repair.code, `${repair.stdout}\n${repair.stderr}`).toBe(0);
      const after = await check();
      expect(after.code, JSON.stringify(after.host.steps.filter((s) => s.status !== "ok"))).toBe(0);
    });
  }

  it("shows the main.cf drift as a diff", async () => {
    await onHost("postconf -e 'disable_vrfy_command = no'");
    const result = await run("--check", "--diff");
    expect(result.code).toBe(2);
    expect(result.stdout).toContain("-disable_vrfy_command = no");
    expect(result.stdout).toContain("+disable_vrfy_command = yes");
    expect((await run()).code).toBe(0);
  });
});
