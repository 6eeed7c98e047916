/**
 * playbooks/base.ts on the mock host (Debian 12 facts): each read is answered in the format the
 * real steps print (the formats of the steps' own unit tests, captured on test hosts), from a
 * small host model that is either fresh or converged. Files (sshd drop-in, sudoers, fail2ban
 * jail, 20auto-upgrades) live in the mock's file store, so their steps read and write for real.
 */
import { describe, expect, it } from "vitest";
import base, { fail2banJails, firewallOf, SSHD_DROPIN, sshdDropIn, tcpPorts } from "../../../playbooks/base.ts";
import { overallResult } from "../../../src/cli/exit-code.ts";
import { validateVars } from "../../../src/playbook/vars.ts";
import { runHost, type RunMode } from "../../../src/run/host-runner.ts";
import type { MockTransport } from "../../../src/transport/mock.ts";
import { mockHost } from "../steps/system-hosts.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC1wofPpSJMrQKPx0IBO4V6sydr8Sm8y1p9EU9BkTnRL admin@laptop";
const PACKAGES = ["sudo", "openssh-server", "fail2ban", "unattended-upgrades", "python3-systemd", "tzdata", "nftables"];
const RULES = [
  "ct state established,related accept",
  'iif "lo" accept',
  "meta l4proto { icmp, ipv6-icmp } accept",
  "tcp dport { 22 } accept",
];
const SYSCTL_FILE =
  "net.ipv4.tcp_syncookies = 1\nnet.ipv4.conf.all.accept_redirects = 0\nnet.ipv4.conf.default.accept_redirects = 0\n" +
  "net.ipv4.conf.all.send_redirects = 0\nnet.ipv6.conf.all.accept_redirects = 0\nnet.ipv4.icmp_echo_ignore_broadcasts = 1\n";
const SYSCTL_LIVE: Record<string, string> = Object.fromEntries(
  SYSCTL_FILE.trim()
    .split("\n")
    .map((l) => l.split(" = ") as [string, string]),
);
const TABLE = (policy: string, rules: string[]) =>
  `table inet provision {\n\tchain input {\n\t\ttype filter hook input priority filter; policy ${policy};\n${rules.map((r) => `\t\t${r}\n`).join("")}\t}\n}\n`;
const TABLE_HEADER = "#!/usr/sbin/nft -f\ntable inet provision\ndelete table inet provision\n\n";
const vars = validateVars(base, { adminKey: KEY });

/** A Debian 12 host, fresh (nothing of base there) or converged (all of it). */
function debianHost(state: "fresh" | "converged", accept = false): MockTransport {
  const done = state === "converged";
  const mock = mockHost("debian12");
  const file = (content: string) => `root root 0644 regular file\n${content}`;
  // Later fixtures take precedence: the catch-all for changes first, the reads after it.
  if (accept)
    mock.on((c) => !c.startsWith("# provision-file ") && !c.startsWith("# provision-facts v1 "), {
      exitCode: 0,
    });
  mock
    .on(/^u=admin/, { stdout: done ? "passwd=admin:x:1001:1001::/home/admin:/bin/bash\ngroup=admin\ngroups=admin\n" : "absent\n" })
    .on("dpkg-query", {
      stdout: done
        ? `${PACKAGES.map((p) => `${p}\tinstall ok installed\t1.0`).join("\n")}\n@provision:rc 0\n@provision:lists\n`
        : "@provision:rc 1\n@provision:lists\n",
    })
    .on(
      (c) => c.startsWith("u=admin") && c.includes("authorized_keys"),
      done
        ? { stdout: `home=/home/admin\ngroup=admin\nadmin admin 0700 directory\nadmin admin 0600 regular file\n${KEY}\n` }
        : { stdout: "home=/home/admin\ngroup=admin\n@provision:absent\n@provision:absent\n" }, // as after useradd
    )
    .on("systemctl show", {
      stdout: done
        ? "LoadState=loaded\nActiveState=active\nenabled=enabled\n"
        : "LoadState=loaded\nActiveState=inactive\nenabled=disabled\n",
    })
    .on("nft -a list chain", (command) => {
      const rule = RULES.find((r) => command.includes(r)) ?? "?";
      const canonical = rule.replace("{ 22 }", "22");
      const chain = done
        ? `@provision:chain 0\n${TABLE(
            "drop",
            RULES.map((r, i) => `${r.replace("{ 22 }", "22")} # handle ${i + 2}`),
          )}`
        : "@provision:chain 1\nError: No such file or directory\n";
      return { stdout: `${chain}@provision:canonical\n${TABLE("accept", [canonical])}` };
    })
    .on("grep -q -- 'policy drop;'", { stdout: `@provision:unless ${done ? 0 : 1}\n\n@provision:unless-end\n` })
    .on("nft -s list table inet provision", {
      stdout: done
        ? `${TABLE(
            "drop",
            RULES.map((r) => r.replace("{ 22 }", "22")),
          )}@provision:file\nroot root 0755 regular file\n${TABLE_HEADER}${TABLE(
            "drop",
            RULES.map((r) => r.replace("{ 22 }", "22")),
          )}`
        : "@provision:file\n@provision:absent\n",
    })
    .on(/^if \[ -f \/proc\/sys/, (command) => {
      const key = /\/proc\/sys\/(\S+)/.exec(command)?.[1]?.replaceAll("/", ".") ?? "";
      return { stdout: done ? `live=${SYSCTL_LIVE[key]}\n${file(SYSCTL_FILE)}` : "live=0\n@provision:absent\n" };
    })
    .on(/^printf 'link=/, {
      stdout: done
        ? "link=/usr/share/zoneinfo/UTC\nzone=yes\nfile=yes\nUTC\n"
        : "link=/usr/share/zoneinfo/Etc/GMT\nzone=yes\nfile=yes\nEtc/GMT\n",
    });
  if (done) {
    const meta = { owner: "root", group: "root", mode: "0644" };
    mock.file(SSHD_DROPIN, sshdDropIn(vars as never), meta);
    mock.file("/etc/sudoers.d/provision-admin", "admin ALL=(ALL) NOPASSWD: ALL\n", { ...meta, mode: "0440" });
    mock.file(
      "/etc/apt/apt.conf.d/20auto-upgrades",
      'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n',
      meta,
    );
    mock.file("/etc/fail2ban/jail.d/provision-base.local", fail2banJails(vars as never, "nftables"), meta);
  }
  return mock;
}

async function runBase(mock: MockTransport, mode: RunMode, v: unknown = vars) {
  return runHost({ playbook: base, vars: v as never, host: { name: "vps1", address: "vps1" }, connect: async () => mock.reopen(), mode });
}

/** In apply mode the change commands (useradd, nft add, systemctl…) succeed; files go to the file store. */
const acceptChanges = (state: "fresh" | "converged") => debianHost(state, true);

describe("playbooks/base.ts on the mock host", () => {
  it("vars: defaults that work; the firewall the facts call for; the ports", () => {
    expect(vars).toMatchObject({ adminUser: "admin", timezone: "UTC", mailPorts: false, firewall: "auto", sudoNopassword: true });
    expect(firewallOf({ firewall: "auto" }, { osFamily: "debian", distro: "debian" })).toBe("nftables");
    expect(firewallOf({ firewall: "auto" }, { osFamily: "debian", distro: "ubuntu" })).toBe("ufw");
    expect(firewallOf({ firewall: "auto" }, { osFamily: "rhel", distro: "rocky" })).toBe("firewalld");
    expect(tcpPorts({ mailPorts: true, ports: [8080, 22] })).toEqual([22, 25, 465, 587, 8080]);
    expect(() => validateVars(base, { adminKey: KEY, sshd: { "Bad Key": "x" } })).toThrow(/sshd/);
    expect(() => validateVars(base, { adminKey: KEY, sshd: { Banner: "a\nPermitRootLogin yes" } })).toThrow(/one line/);
  });

  it("converged: --check reports 0 changes, exit 0, reads only", async () => {
    const mock = debianHost("converged");
    const report = await runBase(mock, "check");
    expect(mock.unmatched).toEqual([]);
    expect(
      report.steps.filter((s) => s.status !== "ok"),
      JSON.stringify(report.steps.filter((s) => s.status !== "ok")),
    ).toEqual([]);
    expect(report.status).toBe("ok");
    expect(overallResult([report]).exitCode).toBe(0);
    expect(mock.commands.every((c) => c.batched || c.command.startsWith("# provision-facts v1 "))).toBe(true);
    // Converged apply: nothing but reads either.
    const apply = await runBase(mock, "apply");
    expect(apply.counts.changed).toBe(0);
    expect(mock.lockEvents).toEqual([]);
  });

  it("fresh: --check says the packages would change and everything after them is unknown (it depends on them); exit 2", async () => {
    const mock = debianHost("fresh");
    const report = await runBase(mock, "check");
    expect(mock.unmatched).toEqual([]);
    const [packages, ...rest] = report.steps;
    expect(packages).toMatchObject({ status: "would-change" });
    expect(packages?.summary).toContain("install");
    expect(new Set(rest.map((s) => s.status))).toEqual(new Set(["unknown"]));
    expect(overallResult([report]).exitCode).toBe(2);
  });

  it("fresh apply: every step changes; sshd's drop-in is checked with sshd -t on the temp file before it replaces the real one, then sshd is reloaded", async () => {
    const mock = acceptChanges("fresh");
    const report = await runBase(mock, "apply");
    expect(report.status, JSON.stringify(report.steps.filter((s) => s.status !== "changed"))).toBe("changed");
    expect(report.steps.every((s) => s.status === "changed")).toBe(true);
    expect(report.handlers).toEqual([
      { name: "reload sshd", status: "ran" },
      { name: "restart fail2ban", status: "ran" },
    ]);
    const sent = mock.commands.filter((c) => !c.batched).map((c) => c.command);
    const sshd = sent.findIndex((c) => c.includes("path=/etc/ssh/sshd_config.d/10-provision-base.conf"));
    expect(sshd).toBeGreaterThan(-1);
    const write = sent[sshd] ?? "";
    const validate = write.indexOf('/usr/sbin/sshd -t -f "$tmp"');
    expect(validate).toBeGreaterThan(-1);
    expect(validate).toBeLessThan(write.indexOf('mv -f -- "$tmp" "$path"'));
    expect(mock.files.get(SSHD_DROPIN)?.content.toString()).toBe(
      "# provision: playbooks/base.ts\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\n",
    );
    expect(mock.files.get(SSHD_DROPIN)).toMatchObject({ owner: "root", group: "root", mode: "0644" });
    // The reload comes after the write (a handler), through reload-or-try-restart of Debian's ssh unit.
    const reload = sent.indexOf("systemctl reload-or-try-restart -- ssh");
    expect(reload).toBeGreaterThan(sshd);
    // sudo: the drop-in is checked by visudo before it is used.
    expect(sent.find((c) => c.includes("path=/etc/sudoers.d/provision-admin"))).toContain('visudo -cf "$tmp"');
    expect(mock.files.get("/etc/sudoers.d/provision-admin")?.content.toString()).toBe("admin ALL=(ALL) NOPASSWD: ALL\n");
    // The firewall's policy drop comes only after the accepts (SSH is never cut).
    const policy = sent.findIndex((c) => c.includes("policy drop ; }"));
    const ssh = sent.findIndex((c) => c.includes("nft add rule inet provision input 'tcp dport { 22 } accept'"));
    expect(ssh).toBeGreaterThan(-1);
    expect(policy).toBeGreaterThan(ssh);
    const jail = mock.files.get("/etc/fail2ban/jail.d/provision-base.local")?.content.toString() ?? "";
    expect(jail).toContain("[sshd]\nenabled = true");
    expect(jail).toContain("[postfix-sasl]\nenabled = true\nfilter = postfix[mode=auth]");
    expect(jail).toContain("banaction = nftables-multiport");
    // The key travels as file content on stdin, never in argv.
    expect(sent.some((c) => c.includes("AAAAC3NzaC1lZDI1NTE5AAAAIC1wofPpSJMrQKPx0IBO4V6sydr8Sm8y1p9EU9BkTnRL"))).toBe(false);
  });

  it("mailPorts opens 25, 465 and 587 in base's own table (never iptables-nft's, which mail.ts uses)", async () => {
    const mock = acceptChanges("fresh");
    await runBase(mock, "apply", validateVars(base, { adminKey: KEY, mailPorts: true }));
    const sent = mock.commands.filter((c) => !c.batched).map((c) => c.command);
    expect(sent.some((c) => c.includes("nft add rule inet provision input 'tcp dport { 22, 25, 465, 587 } accept'"))).toBe(true);
    expect(sent.some((c) => /iptables|ip filter/.test(c))).toBe(false);
  });
});
