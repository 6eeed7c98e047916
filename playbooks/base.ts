/**
 * The baseline a VPS needs before it serves anything (a mail server: playbooks/mail.ts): an admin
 * user who logs in with an SSH key and has sudo, sshd without passwords, unattended security
 * upgrades, a firewall that lets in SSH (and the mail ports when asked), fail2ban for sshd and
 * Postfix SASL, a few network sysctls and the time zone. Debian/Ubuntu and RHEL-likes.
 *
 *   provision run playbooks/base.ts --host vps1 --vars-file base.yml --check --diff
 *
 * sshd's drop-in is checked with `sshd -t -f` on the temp file before it replaces the real one,
 * so a typo never reaches sshd (and never locks the admin out); sshd is reloaded only after that.
 *
 * See README.md ("The server baseline") for the vars and how to run it with mail.ts.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import {
  authorizedKey,
  command,
  definePlaybook,
  file,
  firewalldPort,
  InvalidStepError,
  nftablesPersist,
  nftablesRule,
  packages,
  reloadService,
  restartService,
  service,
  sh,
  sudoers,
  sysctl,
  timezone,
  ufwRule,
  user,
  z,
  type Facts,
} from "../src/index.ts";

const oneLine = z.string().regex(/^[^\n\r\0]*$/, "must be one line");

const vars = z
  .object({
    /** The admin's login name. */
    adminUser: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "a login name (lower-case letters, digits, _ -)")
      .default("admin"),
    /** The admin's public key(s), authorized_keys lines; default: the content of adminKeyFile. */
    adminKey: z.string().min(1).optional(),
    /** A public key file on this machine (used when adminKey is not given); `~/` is your home. */
    adminKeyFile: z.string().min(1).default("~/.ssh/id_ed25519.pub"),
    /** sudo without a password (the admin has none: sshd takes keys only). */
    sudoNopassword: z.boolean().default(true),
    /** Extra sshd settings for the drop-in (`{ MaxAuthTries: "3" }`); checked by `sshd -t` before they are used. */
    sshd: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, "an sshd keyword"), oneLine.pipe(z.string().min(1))).default({}),
    timezone: z.string().min(1).default("UTC"),
    /** Open 25, 465 and 587 as well (a mail server: playbooks/mail.ts). */
    mailPorts: z.boolean().default(false),
    /** More TCP ports to let in. */
    ports: z.array(z.number().int().min(1).max(65535)).default([]),
    /**
     * The firewall: "auto" = ufw on Ubuntu, firewalld on RHEL-likes, nftables elsewhere (Debian);
     * "none" leaves it alone.
     */
    firewall: z.enum(["auto", "nftables", "ufw", "firewalld", "none"]).default("auto"),
    /** fail2ban jail for Postfix SMTP AUTH failures (postfix-sasl, filter postfix[mode=auth]). */
    postfixSaslJail: z.boolean().default(true),
    fail2ban: z
      .object({
        maxretry: z.number().int().min(1).default(5),
        findtime: z
          .string()
          .regex(/^\d+[smhdw]?$/, "seconds or 10m, 1h, 1d")
          .default("10m"),
        bantime: z
          .string()
          .regex(/^\d+[smhdw]?$/, "seconds or 10m, 1h, 1d")
          .default("1h"),
        /** Never banned (your office, a monitoring host). */
        ignoreip: z.array(z.string().regex(/^[0-9A-Fa-f:.]+(\/\d+)?$/, "an address or a network")).default([]),
      })
      .default({ maxretry: 5, findtime: "10m", bantime: "1h", ignoreip: [] }),
    /** Kernel settings (network ones: each network namespace has its own). */
    sysctl: z.record(z.string(), z.union([z.string(), z.number()])).default({
      "net.ipv4.tcp_syncookies": 1,
      "net.ipv4.conf.all.accept_redirects": 0,
      "net.ipv4.conf.default.accept_redirects": 0,
      "net.ipv4.conf.all.send_redirects": 0,
      "net.ipv6.conf.all.accept_redirects": 0,
      "net.ipv4.icmp_echo_ignore_broadcasts": 1,
    }),
  })
  .strict();

type Vars = z.output<typeof vars>;
export type Firewall = "nftables" | "ufw" | "firewalld" | "none";

/** The drop-in that wins: sshd keeps the first value it reads, and 10- sorts before the usual 50-cloud-init.conf. */
export const SSHD_DROPIN = "/etc/ssh/sshd_config.d/10-provision-base.conf";
export const FAIL2BAN_JAIL = "/etc/fail2ban/jail.d/provision-base.local";
export const AUTO_UPGRADES = "/etc/apt/apt.conf.d/20auto-upgrades";
/** base's own nftables table: never iptables-nft's `ip filter` (mail.ts) nor fail2ban's. */
export const NFT_TABLE = "provision";

export default definePlaybook({
  name: "base",
  description:
    "VPS baseline: admin user with key and sudo, sshd without passwords, unattended upgrades, firewall, fail2ban, sysctl, time zone",
  vars,
  steps: ({ vars: v, facts }) => {
    const debian = facts.osFamily === "debian";
    const firewall = firewallOf(v, facts);
    const ports = tcpPorts(v);
    return [
      packages(facts, {
        names: [
          "sudo",
          "openssh-server",
          "fail2ban",
          ...(debian ? ["unattended-upgrades", "python3-systemd", "tzdata"] : ["dnf-automatic"]),
          ...(firewall === "nftables" ? ["nftables"] : firewall === "ufw" ? ["ufw"] : firewall === "firewalld" ? ["firewalld"] : []),
        ],
      }),

      // The admin: a login shell, the key, sudo (visudo -cf checks the drop-in before it is used).
      user({ name: v.adminUser, shell: "/bin/bash" }),
      authorizedKey({ user: v.adminUser, key: adminKey(v) }),
      sudoers({ name: "provision-admin", user: v.adminUser, nopassword: v.sudoNopassword }),

      // Keys only. The temp file is checked by `sshd -t -f` before it replaces the drop-in.
      file({
        path: SSHD_DROPIN,
        content: sshdDropIn(v),
        owner: "root",
        group: "root",
        mode: "0644",
        validate: "/usr/sbin/sshd -t -f %s",
        notify: ["reload sshd"],
      }),

      ...(debian
        ? [
            file({ path: AUTO_UPGRADES, content: autoUpgrades(), owner: "root", group: "root", mode: "0644" }),
            service(facts, { name: "unattended-upgrades", state: "running", enabled: true }),
          ]
        : [service(facts, { name: "dnf-automatic-install.timer", state: "running", enabled: true })]),

      ...firewallSteps(firewall, ports, facts),

      file({
        path: FAIL2BAN_JAIL,
        content: fail2banJails(v, firewall),
        owner: "root",
        group: "root",
        mode: "0644",
        notify: ["restart fail2ban"],
      }),
      service(facts, { name: "fail2ban", state: "running", enabled: true }),

      ...Object.entries(v.sysctl).map(([key, value]) => sysctl({ key, value, file: "/etc/sysctl.d/90-provision-base.conf" })),
      timezone({ name: v.timezone }),
    ];
  },
  handlers: ({ facts }) => ({
    "reload sshd": reloadService(facts.osFamily === "debian" ? "ssh" : "sshd"),
    "restart fail2ban": restartService("fail2ban"),
  }),
});

export function firewallOf(v: Pick<Vars, "firewall">, facts: Pick<Facts, "osFamily" | "distro">): Firewall {
  if (v.firewall !== "auto") return v.firewall;
  if (facts.distro === "ubuntu") return "ufw";
  if (facts.osFamily === "rhel") return "firewalld";
  return "nftables";
}

export function tcpPorts(v: Pick<Vars, "mailPorts" | "ports">): number[] {
  return [...new Set([22, ...(v.mailPorts ? [25, 465, 587] : []), ...v.ports])];
}

function adminKey(v: Vars): string {
  if (v.adminKey) return v.adminKey;
  const path = v.adminKeyFile.startsWith("~/") ? `${homedir()}/${v.adminKeyFile.slice(2)}` : v.adminKeyFile;
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new InvalidStepError(
      `adminKey: not given, and adminKeyFile ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
}

export function sshdDropIn(v: Pick<Vars, "sshd">): string {
  const settings: Record<string, string> = {
    PasswordAuthentication: "no",
    KbdInteractiveAuthentication: "no",
    PermitRootLogin: "prohibit-password",
    PubkeyAuthentication: "yes",
    ...v.sshd,
  };
  return `# provision: playbooks/base.ts\n${Object.entries(settings)
    .map(([key, value]) => `${key} ${value}\n`)
    .join("")}`;
}

function autoUpgrades(): string {
  return 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n';
}

/**
 * The nftables firewall: its own table `inet provision`, chain input (policy drop) letting in
 * loopback, replies, ICMP and the TCP ports. The policy is set last, once the accepts are there
 * (order-free: each accept is a rule of its own), so applying it never cuts the SSH session.
 * Saved to /etc/nftables.conf as that one table only: iptables-nft's `ip filter` (mail.ts,
 * restored by netfilter-persistent) is neither saved nor flushed by it.
 */
function firewallSteps(firewall: Firewall, ports: number[], facts: Facts) {
  const at = { family: "inet" as const, table: NFT_TABLE, chain: "input" };
  const resource = `nftables:inet:${NFT_TABLE}:input`;
  switch (firewall) {
    case "nftables":
      return [
        nftablesRule({ ...at, rule: "ct state established,related accept" }),
        nftablesRule({ ...at, rule: 'iif "lo" accept' }),
        nftablesRule({ ...at, rule: "meta l4proto { icmp, ipv6-icmp } accept" }),
        nftablesRule({ ...at, rule: `tcp dport { ${ports.join(", ")} } accept` }),
        command({
          name: `nft inet ${NFT_TABLE} input policy drop`,
          command: sh`nft chain inet ${NFT_TABLE} input '{ policy drop ; }'`,
          unless: sh`nft list chain inet ${NFT_TABLE} input 2>/dev/null | grep -q -- 'policy drop;'`,
          provides: [resource],
          requires: [resource],
        }),
        nftablesPersist({ table: { family: "inet", name: NFT_TABLE } }),
        service(facts, { name: "nftables", enabled: true }),
      ];
    case "ufw":
      return [
        ...ports.map((port) => ufwRule({ port, proto: "tcp" })),
        command({
          name: "ufw enable",
          command: "ufw --force enable",
          unless: "ufw status | grep -q '^Status: active'",
          provides: ["ufw"],
          requires: ["ufw"],
        }),
      ];
    case "firewalld":
      return [
        service(facts, { name: "firewalld", state: "running", enabled: true }),
        ...ports.map((port) => firewalldPort({ port, proto: "tcp" })),
      ];
    case "none":
      return [];
  }
}

/** Jails read the journal (Debian 12 has no auth.log without rsyslog); bans go to the firewall in use. */
export function fail2banJails(v: Pick<Vars, "fail2ban" | "postfixSaslJail">, firewall: Firewall): string {
  const banaction =
    firewall === "firewalld"
      ? "firewallcmd-rich-rules"
      : firewall === "ufw"
        ? "ufw"
        : firewall === "nftables"
          ? "nftables-multiport"
          : "iptables-multiport";
  const lines = [
    "# provision: playbooks/base.ts",
    "[DEFAULT]",
    "backend = systemd",
    `banaction = ${banaction}`,
    `maxretry = ${v.fail2ban.maxretry}`,
    `findtime = ${v.fail2ban.findtime}`,
    `bantime = ${v.fail2ban.bantime}`,
    `ignoreip = ${["127.0.0.1/8", "::1", ...v.fail2ban.ignoreip].join(" ")}`,
    "",
    "[sshd]",
    "enabled = true",
    "",
  ];
  if (v.postfixSaslJail)
    lines.push(
      "[postfix-sasl]",
      "enabled = true",
      "filter = postfix[mode=auth]",
      "port = smtp,465,submission",
      // Debian runs Postfix as the instance postfix@-.service, which the filter's own match misses.
      "journalmatch = _SYSTEMD_UNIT=postfix@-.service + _SYSTEMD_UNIT=postfix.service",
      "",
    );
  return `${lines.join("\n")}`;
}
