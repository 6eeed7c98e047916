/**
 * A Postfix mail server with SMTP AUTH (CRAM-MD5 / DIGEST-MD5 through Cyrus SASL's sasldb),
 * the submission port 587, iptables for 25 and 587, and read-only checks that it all really works
 * (an actual CRAM-MD5 login; the DNS records a mail server needs). Debian/Ubuntu and RHEL/CentOS.
 *
 *   provision run playbooks/mail.ts --host vps1 --vars-file mail.yml --check --diff
 *
 * See README.md ("The mail server") for the vars and how to pass the SASL passwords.
 */
import {
  configKeys,
  definePlaybook,
  flushHandlers,
  groupMember,
  iptablesPersist,
  iptablesRule,
  masterService,
  packages,
  postconf,
  reloadService,
  restartService,
  sasldbUser,
  secretVar,
  service,
  verifyDns,
  verifySmtp,
  z,
  type Facts,
  type PlaybookContext,
} from "../src/index.ts";

const hostname = z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i, "must be a fully qualified host name");
const mechanism = z.enum(["CRAM-MD5", "DIGEST-MD5", "PLAIN", "LOGIN"]);

const vars = z
  .object({
    /** myhostname: the name in the MX record (mail.example.org). */
    hostname,
    /** mydomain (example.org); defaults to hostname minus its first label. */
    domain: hostname.optional(),
    inetProtocols: z.enum(["ipv4", "ipv6", "all"]).default("ipv4"),
    mynetworks: z.array(z.string().min(1)).min(1).default(["127.0.0.0/8"]),
    /** A smarthost for providers that block outbound port 25 ("[smtp.provider.net]:587"). */
    relayhost: z.string().min(1).optional(),
    /** Refuse plaintext mechanisms (PLAIN, LOGIN) — there is no TLS in this playbook. */
    noplaintext: z.boolean().default(true),
    /** mech_list in the SASL smtpd.conf, and what the AUTH line must offer. */
    mechanisms: z.array(mechanism).min(1).default(["CRAM-MD5", "DIGEST-MD5"]),
    /** SASL users (realm = hostname). Passwords: { fromEnv: NAME } or { fromFile: path } in a vars file. */
    users: z.array(z.object({ name: z.string().regex(/^[a-z0-9._-]+$/i, "letters, digits, . _ -"), password: secretVar() })).default([]),
    /** TCP ports to open in iptables (and check). */
    ports: z.array(z.number().int().min(1).max(65535)).min(1).default([25, 587]),
    verify: z
      .object({
        /** Address the SMTP check connects to; default: the host's address as connected to. */
        smtpAddress: z.string().min(1).optional(),
        /** "controller" also proves the firewall; "host" probes from the host itself. */
        smtpFrom: z.enum(["controller", "host", "off"]).default("controller"),
        /** DNS: checked only when `dns` is given (DNS lives at the registrar). */
        dns: z
          .object({
            resolver: z.string().optional(),
            /** The public address the A record of `hostname` must have. */
            address: z.string().min(1),
            mxPriority: z.number().int().min(0).default(10),
            spf: z.string().startsWith("v=spf1").optional(),
          })
          .optional(),
      })
      .default({ smtpFrom: "controller" }),
  })
  .strict();

type Vars = z.output<typeof vars>;

export default definePlaybook({
  name: "mail",
  description: "Postfix with SMTP AUTH (Cyrus SASL sasldb), submission on 587, iptables, verified end to end",
  vars,
  steps: (ctx) => {
    const { vars: v, facts } = ctx;
    const domain = v.domain ?? v.hostname.split(".").slice(1).join(".");
    const debian = facts.osFamily === "debian";
    return [
      packages(facts, { names: mailPackages(facts) }),

      postconf({
        settings: {
          myhostname: v.hostname,
          mydomain: domain,
          myorigin: "$mydomain",
          inet_interfaces: "all",
          inet_protocols: v.inetProtocols,
          mydestination: "$myhostname, localhost.$mydomain, $mydomain",
          mynetworks: v.mynetworks.join(", "),
          home_mailbox: "Maildir/",
          smtpd_banner: "$myhostname ESMTP",
          disable_vrfy_command: "yes",
          smtpd_sasl_auth_enable: "yes",
          smtpd_sasl_local_domain: "$myhostname",
          smtpd_sasl_security_options: v.noplaintext ? "noanonymous, noplaintext" : "noanonymous",
          smtpd_recipient_restrictions: "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
          ...(v.relayhost ? { relayhost: v.relayhost } : {}),
        },
        notify: ["restart postfix"],
      }),

      configKeys({
        path: `${facts.paths.saslConfigDir}/smtpd.conf`,
        separator: ": ",
        create: true,
        mode: "0644",
        settings: { pwcheck_method: "auxprop", auxprop_plugin: "sasldb", mech_list: v.mechanisms.join(" ") },
        notify: ["reload postfix"],
      }),

      // smtpd is chrooted on Debian and reads the sasldb copy inside the chroot, which is
      // root:sasl 0660 — postfix must be in group sasl to read it.
      ...(debian ? [groupMember({ user: "postfix", group: "sasl", notify: ["restart postfix"] })] : []),

      ...v.users.map((user) =>
        sasldbUser({
          user: user.name,
          realm: v.hostname,
          password: user.password,
          owner: "postfix",
          ...(debian ? { group: "sasl" } : {}),
          mode: "0640",
          chrootCopy: debian && facts.paths.postfixChroot ? `${facts.paths.postfixChroot}/etc/sasldb2` : null,
        }),
      ),

      masterService({
        service: "submission",
        type: "inet",
        private: "n",
        unpriv: "-",
        chroot: debian ? "y" : "n",
        command: "smtpd",
        options: { syslog_name: "postfix/submission", smtpd_sasl_auth_enable: "yes" },
        notify: ["reload postfix"],
      }),

      // Inserted at the top like the guide's `iptables -I`, each at its own position so two runs
      // never fight over position 1.
      ...v.ports.map((port, index) =>
        iptablesRule({ chain: "INPUT", rule: ["-p", "tcp", "--dport", String(port), "-j", "ACCEPT"], position: index + 1 }),
      ),
      iptablesPersist(facts),

      service(facts, { name: "postfix", state: "running", enabled: true }),
      // The checks below must see the new configuration.
      flushHandlers(),
      ...verifications(ctx, domain),
    ];
  },
  handlers: () => ({
    // Declared order is run order: a restart makes a reload pointless, so it comes first.
    "restart postfix": restartService("postfix"),
    "reload postfix": reloadService("postfix"),
  }),
});

function mailPackages(facts: Facts): string[] {
  if (facts.osFamily === "debian") {
    // db-util: the sasldb step compares passwords on the host with db_dump.
    return ["postfix", "sasl2-bin", "libsasl2-modules", "db-util", "iptables", "iptables-persistent"];
  }
  // cyrus-sasl-md5 brings CRAM-MD5 and DIGEST-MD5; iptables-services brings `service iptables save`.
  return ["postfix", "cyrus-sasl", "cyrus-sasl-md5", "cyrus-sasl-plain", "iptables", "iptables-services"];
}

function verifications({ vars: v, host }: PlaybookContext<Vars>, domain: string) {
  const steps = [];
  if (v.verify.smtpFrom !== "off") {
    const [first] = v.users;
    steps.push(
      verifySmtp({
        host: v.verify.smtpAddress ?? (v.verify.smtpFrom === "host" ? "127.0.0.1" : host.address),
        ports: v.ports.filter((port) => port === 25 || port === 587),
        from: v.verify.smtpFrom,
        expectBannerWithoutVersion: true,
        expectMechanisms: v.noplaintext ? v.mechanisms.filter((m) => m !== "PLAIN" && m !== "LOGIN") : v.mechanisms,
        ...(first && v.verify.smtpFrom === "controller" && v.mechanisms.includes("CRAM-MD5")
          ? { login: { user: first.name, realm: v.hostname, password: first.password, mechanism: "CRAM-MD5" as const, port: 587 } }
          : {}),
      }),
    );
  }
  const dns = v.verify.dns;
  if (dns) {
    steps.push(
      verifyDns({
        ...(dns.resolver ? { resolver: dns.resolver } : {}),
        a: { name: v.hostname, address: dns.address },
        mx: { domain, host: v.hostname, priority: dns.mxPriority },
        spf: { domain, policy: dns.spf ?? `v=spf1 a:${v.hostname} -all` },
      }),
    );
  }
  return steps;
}
