/**
 * A bare VPS (testHost(14)): the mail packages purged (Postfix, Cyrus SASL, OpenDKIM,
 * iptables-persistent), their configuration and state removed. playbooks/mail.ts with TLS, 465 and
 * DKIM must say in --check exactly what it would do (exit 2, nothing failed: what depends on the
 * packages is unknown), install everything non-interactively (debconf never asks), converge on the
 * first apply, then report 0 changes and --check 0 — and the server then really works (swaks).
 *
 * Reached through an ~/.ssh/config alias (`--host vps1`).
 * The SMTP checks from the controller reach the HostName ssh reached: no DNS knows `vps1`.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostExec } from "../hosts/harness.ts";
import { testFleet, testHost } from "./support/fleet.ts";
import { parseReport, provisionCli, REPO } from "./support/cli.ts";

const host = testHost(14);
const HOSTNAME = "mail.example.test";
const PASSWORD = "Bare-Mail-pw-3318";
const PACKAGES = [
  "postfix",
  "sasl2-bin",
  "libsasl2-modules",
  "db-util",
  "opendkim",
  "opendkim-tools",
  "iptables-persistent",
  "netfilter-persistent",
];

let dir: string;
let sshConfig: string;
let varsFile: string;

const run = (...extra: string[]) =>
  provisionCli(
    [
      "run",
      join(REPO, "playbooks/mail.ts"),
      "--host",
      "vps1",
      "--ssh-config",
      sshConfig,
      "--known-hosts",
      testFleet().knownHostsPath,
      "--vars-file",
      varsFile,
      ...extra,
    ],
    {
      env: { MAIL_BARE_PASSWORD: PASSWORD },
      timeoutMs: 420_000,
    },
  );

async function onHost(command: string): Promise<string> {
  const result = await hostExec(host, command);
  if (result.exitCode !== 0) throw new Error(`${command}: exit ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-mail-bare-"));
  sshConfig = join(dir, "ssh_config");
  await writeFile(
    sshConfig,
    `Host vps1\n  HostName ${host.address}\n  Port ${host.port}\n  User root\n  IdentityFile ${testFleet().privateKeyPath}\n`,
  );
  varsFile = join(dir, "mail.yml");
  await writeFile(
    varsFile,
    [
      `hostname: ${HOSTNAME}`,
      "tls: { selfSigned: true }",
      "submissions: true",
      "dkim: { selector: bare }",
      "users:",
      "  - name: bob",
      "    password: { fromEnv: MAIL_BARE_PASSWORD }",
      "",
    ].join("\n"),
  );
  // This host is ours to strip: purge the mail packages and what they leave behind.
  await onHost(
    `DEBIAN_FRONTEND=noninteractive apt-get -y -q purge ${PACKAGES.join(" ")} >/dev/null && ` +
      "rm -rf /etc/postfix /var/spool/postfix /etc/opendkim /etc/opendkim.conf /etc/dkimkeys /etc/sasldb2 /etc/iptables " +
      `/etc/ssl/certs/${HOSTNAME}.pem /etc/ssl/private/${HOSTNAME}.key /var/lib/provision && iptables -F INPUT`,
  );
}, 300_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("playbooks/mail.ts on a bare host (no mail packages)", () => {
  it("the host really is bare", async () => {
    const installed = await hostExec(
      host,
      `dpkg-query -W -f '\${Package} \${Status}\\n' ${PACKAGES.join(" ")} 2>/dev/null | grep ' installed$' || true`,
    );
    expect(installed.stdout).toBe("");
  });

  it("--check says what it would do: install the packages (exit 2), nothing failed, what needs them unknown", async () => {
    const result = await run("--check", "--json");
    expect(result.code, result.stderr).toBe(2);
    const [report] = parseReport(result).hosts;
    const steps = report!.steps;
    expect(
      steps.filter((s) => s.status === "failed"),
      JSON.stringify(steps, null, 2),
    ).toEqual([]);
    expect(steps.filter((s) => s.status === "ok").map((s) => s.name)).toEqual([]);
    const packages = steps.find((s) => s.kind === "packages")!;
    expect(packages.status).toBe("would-change");
    expect(packages.summary).toMatch(/^install postfix sasl2-bin libsasl2-modules db-util iptables-persistent opendkim opendkim-tools/);
    for (const name of [/^postconf /, /^master\.cf submission\/inet/, /^sasldb user bob/, /^service postfix/]) {
      expect(steps.find((s) => name.test(s.name))?.status, String(name)).toBe("unknown");
    }
    // Both read what the packages would install (openssl, opendkim-genkey): unknown, saying what the host shows now.
    expect(steps.find((s) => /^tls certificate/.test(s.name))?.summary).toMatch(
      /^depends on a pending change of step "packages .*is missing\)$/,
    );
    expect(steps.find((s) => /^dkim key/.test(s.name))?.summary).toMatch(/^depends on a pending change of step .*generate a 2048-bit key/);
    // Nothing was installed by the check.
    expect((await hostExec(host, "command -v postconf")).exitCode).not.toBe(0);
  });

  it("the first apply converges (non-interactive install), the second changes nothing, --check is clean", async () => {
    const first = await run();
    expect(first.code, `${first.stdout}\n${first.stderr}`).toBe(0);
    expect(first.stdout).toMatch(/\[changed\] packages .* install postfix/);
    const second = await run("--json");
    expect(second.code, second.stderr).toBe(0);
    expect(parseReport(second).hosts[0]?.counts.changed).toBe(0);
    const check = await run("--check", "--json");
    expect(check.code, JSON.stringify(parseReport(check).hosts[0]?.steps.filter((s) => s.status !== "ok"))).toBe(0);
  });

  it("and it works: swaks --tls logs in with PLAIN on 587, opendkim listens for Postfix", async () => {
    const swaks = await new Promise<string>((resolve) =>
      execFile(
        "swaks",
        [
          "--server",
          host.address,
          "--port",
          "587",
          "--tls",
          "--auth",
          "PLAIN",
          "--auth-user",
          `bob@${HOSTNAME}`,
          "--auth-password",
          PASSWORD,
          "--quit-after",
          "AUTH",
          "--timeout",
          "15",
        ],
        { timeout: 30_000 },
        (_error, stdout, stderr) => resolve(stdout + stderr),
      ),
    );
    expect(swaks).toMatch(/<~ +235 2\.7\.0 Authentication successful/);
    expect(await onHost("postconf -h smtpd_milters")).toBe("inet:127.0.0.1:8891\n");
    expect(await onHost("systemctl is-active opendkim postfix")).toBe("active\nactive\n");
  });
});
