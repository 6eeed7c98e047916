/**
 * playbooks/mail.ts on the RHEL family, through the mock transport with recorded command outputs
 * (no RHEL host can run here): the package set and manager (dnf on Rocky 9, yum on CentOS 7), the
 * SASL config directory (/etc/sasl2 or the legacy /usr/lib64/sasl2) and the iptables save file
 * (/etc/sysconfig/iptables, `service iptables save`).
 */
import { describe, expect, it } from "vitest";
import mail from "../../../playbooks/mail.ts";
import { validateVars } from "../../../src/playbook/vars.ts";
import { runHost, type RunMode } from "../../../src/run/host-runner.ts";
import type { MockTransport } from "../../../src/transport/mock.ts";
import { FACTS, factsOutput, testHost } from "../../support/test-host.ts";

const RHEL_PACKAGES = ["postfix", "cyrus-sasl", "cyrus-sasl-md5", "cyrus-sasl-plain", "iptables", "iptables-services"];

/** A minimal RHEL host as recorded: base packages missing, so Postfix's tools are not there yet. */
function freshRhelHost(distro: "rocky9" | "centos7"): MockTransport {
  // Later fixtures win: the broad ones first; the rpm query (which names iptables) and the facts
  // probe (which mentions systemctl) last.
  return testHost(distro)
    .on(/iptables/, { exitCode: 0, stdout: "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n" })
    .on(/postconf/, { exitCode: 127, stderr: "sh: postconf: command not found\n" })
    .on(/sasldblistusers2|db_dump|gdbm_dump/, { exitCode: 127, stderr: "sh: sasldblistusers2: command not found\n" })
    .on(/id -nG/, { exitCode: 1, stderr: "id: 'postfix': no such user\n" })
    .on(/systemctl/, { exitCode: 4, stdout: "inactive\n", stderr: "Unit postfix.service could not be found.\n" })
    .on(/^rpm -q /, {
      // `rpm -q` prints the missing ones on stdout and exits with their number.
      stdout: `iptables\t(none):1.8.8-6.el9.x86_64\n${RHEL_PACKAGES.filter((p) => p !== "iptables")
        .map((p) => `package ${p} is not installed\n`)
        .join("")}@provision:rc 5\n`,
    })
    .on((c) => c.startsWith("# provision-facts v1 "), { stdout: factsOutput(FACTS[distro]) });
}

async function runMail(mock: MockTransport, mode: RunMode) {
  const vars = validateVars(mail, {
    hostname: "mail.example.org",
    users: [{ name: "bob", password: "rhel-test-password" }],
    verify: { smtpFrom: "off" },
  });
  return runHost({ playbook: mail, vars, host: { name: mock.host, address: mock.host }, connect: async () => mock.reopen(), mode });
}

describe("playbooks/mail.ts on the RHEL family (recorded outputs)", () => {
  it("Rocky 9 --check: dnf packages, /etc/sasl2/smtpd.conf, /etc/sysconfig/iptables; dependent steps unknown", async () => {
    const mock = freshRhelHost("rocky9");
    const report = await runMail(mock, "check");
    const byKind = (kind: string) => report.steps.filter((s) => s.kind === kind);

    const [pkgs] = byKind("packages");
    expect(pkgs?.status).toBe("would-change");
    for (const name of RHEL_PACKAGES.filter((p) => p !== "iptables")) expect(pkgs?.summary).toContain(name);

    // RHEL's postfix package ships /etc/sasl2/smtpd.conf: while the install is pending, "create"
    // is only how the host is now, not what apply would do.
    const sasl = report.steps.find((s) => s.name.startsWith("config /etc/sasl2/smtpd.conf:"));
    expect(sasl?.status).toBe("unknown");
    expect(sasl?.summary).toBe(`depends on a pending change of step "${pkgs?.name}" (as the host is now: create)`);
    expect(report.steps.some((s) => s.name.endsWith("→ /etc/sysconfig/iptables"))).toBe(true);
    // Postfix is not installed yet: what depends on it cannot be known, and says so.
    const postconf = report.steps.find((s) => s.kind === "postconf");
    expect(postconf?.status).toBe("unknown");
    expect(postconf?.summary).toContain("depends on a pending change");
    expect(report.status).toBe("drift");
    expect(report.steps.some((s) => s.status === "failed")).toBe(false);
    // Nothing but reads: no install, no write, no save.
    expect(mock.commands.some((c) => /dnf .*install|yum .*install|service iptables save|mktemp/.test(c.command))).toBe(false);
    // The password reaches the host only inside a script on stdin, never in a command line.
    for (const exec of mock.execs) expect(exec.command).not.toContain("rhel-test-password");
  });

  it("CentOS 7 apply: installs with yum, and the SASL config goes to /usr/lib64/sasl2", async () => {
    const mock = freshRhelHost("centos7").on(/^yum /, { stdout: "Complete!\n" });
    const report = await runMail(mock, "apply");
    const install = mock.commands.find((c) => /^yum /.test(c.command) && c.command.includes(" install "));
    expect(install?.command).toBeDefined();
    for (const name of ["postfix", "cyrus-sasl", "cyrus-sasl-md5", "cyrus-sasl-plain", "iptables-services"]) {
      expect(install?.command).toContain(name);
    }
    expect(report.steps[0]).toMatchObject({ kind: "packages", status: "changed" });
    expect(report.steps.some((s) => s.name.startsWith("config /usr/lib64/sasl2/smtpd.conf:"))).toBe(true);
    // The recorded host has no postconf even after "installing": the run stops there, named.
    const failed = report.steps.find((s) => s.status === "failed");
    expect(failed?.kind).toBe("postconf");
    // One error for a missing tool, made by the runner from the read's requiresTools (was the shell's "postconf: command not found").
    expect(failed?.error).toContain("postconf not found on centos7: is Postfix installed?");
  });
});
