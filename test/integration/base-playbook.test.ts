/**
 * playbooks/base.ts on fresh real Debian 12 test hosts, through the CLI over SSH (fleet position
 * 20; 21 for base + mail.ts on one host): converge, stay idempotent, check clean, then drift each
 * part by hand and watch --check name exactly that step and a run repair it. An sshd setting that
 * `sshd -t` refuses must never replace the drop-in (the admin still logs in with the key), and the
 * check after that refusal must be clean. Results are seen by clients that are not ours: OpenSSH
 * `ssh` as the admin, `sshd -T`, `nft`, `fail2ban-client`, `sysctl`, Python's smtplib.
 *
 * PROVISION_BASE_HOST=N runs this file alone on a small fleet: base at N, base + mail at N + 1.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { hostExec } from "../hosts/harness.ts";
import type {} from "../hosts/global-setup.ts";
import { pythonSmtpLogin } from "../support/python-smtp-login.ts";
import { driftedSteps, parseReport, REPO, runOnTestHost, type JsonHost } from "./support/cli.ts";
import { testFleet, testHost, type FleetHost } from "./support/fleet.ts";

const fleet = inject("fleet");
// Position 20 (and 21) in the full suite; PROVISION_BASE_HOST runs this file alone on a small fleet.
const POSITION = Number(process.env.PROVISION_BASE_HOST ?? 20);
const BASE = join(REPO, "playbooks/base.ts");
const MAIL = join(REPO, "playbooks/mail.ts");
const DROPIN = "/etc/ssh/sshd_config.d/10-provision-base.conf";
const MAIL_HOSTNAME = "mail.example.test";
const MAIL_PASSWORD = "Base-Mail-pw-4410";

let dir: string;
let keyPath: string;
let publicKey: string;

async function onHost(host: FleetHost, command: string): Promise<string> {
  const result = await hostExec(host as never, command);
  if (result.exitCode !== 0) throw new Error(`${command}: exit ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

async function varsFile(name: string, lines: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.join("\n")}\n`);
  return path;
}

async function run(playbook: string, host: FleetHost, vars: string, ...extra: string[]) {
  const result = await runOnTestHost(playbook, host.address, ["--vars-file", vars, "--json", ...extra], {
    env: { BASE_MAIL_PASSWORD: MAIL_PASSWORD },
  });
  const report = parseReport(result);
  const [hostReport] = report.hosts;
  if (!hostReport) throw new Error(`no host in report: ${result.stdout}`);
  return { code: result.code, host: hostReport, raw: result };
}

const show = (h: JsonHost) => JSON.stringify(h.steps.filter((s) => s.status !== "ok"));
const wouldChange = (h: JsonHost) => h.steps.filter((s) => s.status === "would-change").map((s) => s.name);

/** OpenSSH's own client, as the admin, with the admin's key only. */
function sshAsAdmin(host: FleetHost, command: string): string {
  const f = testFleet();
  return execFileSync(
    "ssh",
    [
      "-i",
      keyPath,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      `UserKnownHostsFile=${f.knownHostsPath}`,
      "-o",
      "ConnectTimeout=10",
      "-p",
      String(host.port),
      `admin@${host.address}`,
      command,
    ],
    { encoding: "utf8", timeout: 30_000 },
  );
}

/** A password login attempt: sshd must not even offer password authentication. */
function passwordOffered(host: FleetHost): boolean {
  const f = testFleet();
  try {
    execFileSync(
      "ssh",
      [
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "BatchMode=yes",
        "-o",
        `UserKnownHostsFile=${f.knownHostsPath}`,
        "-o",
        "ConnectTimeout=10",
        "-p",
        String(host.port),
        `admin@${host.address}`,
        "true",
      ],
      { encoding: "utf8", timeout: 30_000, stdio: ["ignore", "pipe", "pipe"] },
    );
    return true;
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? "");
    // "Permission denied (publickey)." lists what the server offers.
    return !/Permission denied \(publickey\)/.test(stderr);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-base-"));
  keyPath = join(dir, "admin");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "admin@controller", "-f", keyPath]);
  publicKey = (await readFile(`${keyPath}.pub`, "utf8")).trim();
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!fleet)("playbooks/base.ts on a real Debian 12 host", () => {
  const host = () => testHost(POSITION);
  let vars: string;

  beforeAll(async () => {
    vars = await varsFile("base.yml", [`adminKey: "${publicKey}"`, "timezone: Europe/Berlin"]);
  });

  it("converges a fresh host; apply again changes nothing; --check exits 0", { timeout: 600_000 }, async () => {
    const first = await run(BASE, host(), vars);
    expect(first.code, show(first.host) + first.raw.stderr).toBe(0);
    expect(first.host.counts.changed).toBeGreaterThan(5);
    expect(first.host.handlers).toEqual(
      expect.arrayContaining([
        { name: "reload sshd", status: "ran" },
        { name: "restart fail2ban", status: "ran" },
      ]),
    );
    const again = await run(BASE, host(), vars);
    expect(again.code).toBe(0);
    expect(again.host.counts.changed, show(again.host)).toBe(0);
    const check = await run(BASE, host(), vars, "--check");
    expect(check.code, show(check.host)).toBe(0);
    expect(check.host.status).toBe("ok");
  });

  it("is what clients that are not ours see", { timeout: 120_000 }, async () => {
    const h = host();
    expect(sshAsAdmin(h, "id -un").trim()).toBe("admin");
    expect(sshAsAdmin(h, "sudo -n id -u").trim()).toBe("0");
    expect(passwordOffered(h)).toBe(false);
    const effective = await onHost(h, "sshd -T -C user=root,host=x,addr=127.0.0.1");
    expect(effective).toMatch(/^passwordauthentication no$/m);
    expect(effective).toMatch(/^permitrootlogin without-password$/m);
    expect(effective).toMatch(/^kbdinteractiveauthentication no$/m);
    const table = await onHost(h, "nft list table inet provision");
    expect(table).toContain("policy drop;");
    expect(table).toMatch(/tcp dport 22 accept/);
    expect(table).not.toMatch(/dport .*25/);
    expect(await onHost(h, "cat /etc/nftables.conf")).not.toContain("flush ruleset");
    expect(await onHost(h, "systemctl is-enabled nftables")).toBe("enabled\n");
    const jails = await onHost(h, "fail2ban-client status");
    expect(jails).toMatch(/Jail list:\s+postfix-sasl, sshd/);
    expect(await onHost(h, "fail2ban-client get postfix-sasl journalmatch")).toContain("postfix@-.service");
    expect(await onHost(h, "sysctl -n net.ipv4.tcp_syncookies net.ipv4.conf.all.accept_redirects")).toBe("1\n0\n");
    expect(await onHost(h, "readlink /etc/localtime; cat /etc/timezone")).toBe("/usr/share/zoneinfo/Europe/Berlin\nEurope/Berlin\n");
    expect(await onHost(h, "cat /etc/apt/apt.conf.d/20auto-upgrades")).toContain('APT::Periodic::Unattended-Upgrade "1";');
    expect(await onHost(h, "systemctl is-active unattended-upgrades fail2ban")).toBe("active\nactive\n");
    expect(await onHost(h, "stat -c '%U %G %a' /etc/sudoers.d/provision-admin")).toBe("root root 440\n");
  });

  it.each([
    [
      "sshd's drop-in edited to PasswordAuthentication yes",
      `sed -i 's/^PasswordAuthentication no/PasswordAuthentication yes/' ${DROPIN}`,
      `file ${DROPIN}`,
      [],
    ],
    ["fail2ban stopped", "systemctl stop fail2ban", "service fail2ban", []],
    ["a sysctl changed", "sysctl -q -w net.ipv4.tcp_syncookies=0", "sysctl net.ipv4.tcp_syncookies = 1", []],
    [
      "a firewall rule removed",
      "nft -a list chain inet provision input | sed -n 's/.*l4proto.* # handle \\([0-9]*\\)$/\\1/p' | xargs -r -I{} nft delete rule inet provision input handle {}",
      "nft inet provision input meta l4proto { icmp, ipv6-icmp } accept",
      // Re-added at the end of the chain: the saved table differs in order, so it is saved again.
      ["nft list table inet provision → /etc/nftables.conf"],
    ],
    ["the time zone changed", "ln -sf /usr/share/zoneinfo/UTC /etc/localtime", "timezone Europe/Berlin", []],
  ] as [string, string, string, string[]][])(
    "%s: --check exits 2 naming exactly that step; apply repairs it",
    { timeout: 300_000 },
    async (_what, tamper, name, alsoChanged) => {
      const h = host();
      await onHost(h, tamper);
      const drift = await run(BASE, h, vars, "--check");
      expect(drift.code, show(drift.host)).toBe(2);
      expect(wouldChange(drift.host)).toEqual([name]);
      // Whatever else is not ok only waits for that change (unknown), never drift of its own.
      for (const s of drift.host.steps) if (s.status !== "ok" && s.name !== name) expect(s.status, s.name).toBe("unknown");
      const fixed = await run(BASE, h, vars);
      expect(fixed.code, show(fixed.host)).toBe(0);
      expect(fixed.host.steps.filter((s) => s.status === "changed").map((s) => s.name)).toEqual([name, ...alsoChanged]);
      const clean = await run(BASE, h, vars, "--check");
      expect(clean.code, show(clean.host)).toBe(0);
    },
  );

  it("PasswordAuthentication yes in the main sshd_config is no drift: the drop-in wins (sshd -T)", { timeout: 120_000 }, async () => {
    const h = host();
    await onHost(h, "cp /etc/ssh/sshd_config /root/sshd_config.orig && echo 'PasswordAuthentication yes' >> /etc/ssh/sshd_config");
    try {
      await onHost(h, "systemctl reload ssh");
      expect(await onHost(h, "sshd -T -C user=admin,host=x,addr=127.0.0.1")).toMatch(/^passwordauthentication no$/m);
      expect(passwordOffered(h)).toBe(false);
      expect((await run(BASE, h, vars, "--check")).code).toBe(0);
    } finally {
      await onHost(h, "mv /root/sshd_config.orig /etc/ssh/sshd_config && systemctl reload ssh");
    }
  });

  it("an sshd setting sshd -t refuses never replaces the drop-in; the admin still logs in; the next --check is clean", {
    timeout: 300_000,
  }, async () => {
    const h = host();
    const before = await onHost(h, `cat ${DROPIN}`);
    const typo = await varsFile("base-typo.yml", [
      `adminKey: "${publicKey}"`,
      "timezone: Europe/Berlin",
      "sshd: { PasswordAuthentication: maybe }",
    ]);
    const refused = await run(BASE, h, typo);
    expect(refused.code).toBe(1);
    const step = refused.host.steps.find((s) => s.name === `file ${DROPIN}`);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("validation failed");
    expect(step?.error).toMatch(/unsupported option "maybe"|PasswordAuthentication/i);
    expect(await onHost(h, `cat ${DROPIN}`)).toBe(before);
    expect(await onHost(h, "ls -a /etc/ssh/sshd_config.d")).not.toContain(".provision-");
    expect(await onHost(h, "sshd -t && echo valid")).toBe("valid\n");
    expect(sshAsAdmin(h, "id -un").trim()).toBe("admin");
    // Nothing changed, so nothing is owed: the reload notified for the refused drop-in is not pending.
    expect(await onHost(h, "cat /var/lib/provision/pending-handlers/base 2>/dev/null || true")).toBe("");
    const check = await run(BASE, h, vars, "--check");
    expect(check.code, show(check.host) + JSON.stringify(check.host.handlers)).toBe(0);
    expect(check.host.handlers).toEqual([]);
    // With the typo still asked for, the check says the drop-in differs (what apply would try).
    const typoCheck = await run(BASE, h, typo, "--check");
    expect(typoCheck.code).toBe(2);
    expect(wouldChange(typoCheck.host)).toEqual([`file ${DROPIN}`]);
  });
});

describe.skipIf(!fleet)("playbooks/base.ts and playbooks/mail.ts on one host", () => {
  const host = () => testHost(POSITION + 1);
  let base: string;
  let mail: string;

  beforeAll(async () => {
    base = await varsFile("base-mail.yml", [`adminKey: "${publicKey}"`, "mailPorts: true"]);
    mail = await varsFile("mail.yml", [
      `hostname: ${MAIL_HOSTNAME}`,
      "users:",
      "  - name: bob",
      "    password: { fromEnv: BASE_MAIL_PASSWORD }",
      "verify:",
      "  smtpFrom: controller",
    ]);
  });

  it("both converge, then both change nothing and check clean; seen by ssh, nft, fail2ban and smtplib", { timeout: 900_000 }, async () => {
    const h = host();
    const first = await run(BASE, h, base);
    expect(first.code, show(first.host) + first.raw.stderr).toBe(0);
    const mailFirst = await run(MAIL, h, mail);
    expect(mailFirst.code, show(mailFirst.host) + mailFirst.raw.stderr).toBe(0);
    for (const [playbook, v] of [
      [BASE, base],
      [MAIL, mail],
    ] as const) {
      const again = await run(playbook, h, v);
      expect(again.code, show(again.host)).toBe(0);
      expect(again.host.counts.changed, `${playbook}: ${show(again.host)}`).toBe(0);
    }
    for (const [playbook, v] of [
      [BASE, base],
      [MAIL, mail],
    ] as const) {
      const check = await run(playbook, h, v, "--check");
      expect(check.code, `${playbook}: ${show(check.host)}`).toBe(0);
      expect(driftedSteps(check.host)).toEqual([]);
    }

    expect(sshAsAdmin(h, "sudo -n id -u").trim()).toBe("0");
    const ruleset = await onHost(h, "nft list ruleset");
    // Two tables side by side: base's own, and iptables-nft's (mail.ts); neither touches the other.
    expect(ruleset).toMatch(/table inet provision \{[\s\S]*tcp dport \{ 22, 25, 465, 587 \} accept/);
    expect(ruleset).toMatch(/table ip filter \{[\s\S]*chain INPUT/);
    expect(await onHost(h, "iptables -S INPUT")).toMatch(/--dport 587 -j ACCEPT/);
    expect(await onHost(h, "cat /etc/nftables.conf")).not.toContain("table ip filter");
    expect(await onHost(h, "fail2ban-client status postfix-sasl")).toContain("Currently banned:");
    // Through both firewalls, from this machine: base's policy drop lets SMTP in.
    const login = await pythonSmtpLogin({ host: h.address, port: 587, user: `bob@${MAIL_HOSTNAME}`, password: MAIL_PASSWORD });
    expect(login.code, login.text).toBe(235);
  });
});
