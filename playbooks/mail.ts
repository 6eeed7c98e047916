/**
 * A Postfix mail server with SMTP AUTH (CRAM-MD5 / DIGEST-MD5 through Cyrus SASL's sasldb),
 * the submission port 587, iptables for 25 and 587, and read-only checks that it all really works
 * (an actual CRAM-MD5 login; the DNS records a mail server needs). Debian/Ubuntu and RHEL/CentOS.
 *
 * With `tls` (a self-signed certificate made on the host, or your chain and key): STARTTLS on 25
 * (`may`) and 587 (`encrypt`, AUTH only inside TLS), `submissions: true` adds implicit TLS on 465;
 * PLAIN and LOGIN are offered only inside TLS; outbound mail uses TLS when the peer offers it.
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
  InvalidStepError,
  postconf,
  reloadService,
  restartService,
  sasldbUser,
  secret,
  secretVar,
  service,
  tlsCertificate,
  verifyDns,
  verifySmtp,
  z,
  type Facts,
  type PlaybookContext,
  type DkimKeyStep,
  type TlsCertificateStep,
} from "../src/index.ts";
import { readFileSync } from "node:fs";
import { dkimPackages, dkimPostfixSettings, dkimSteps } from "./mail-dkim.ts";

const hostname = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i, "must be a fully qualified host name");
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
    /** Refuse plaintext mechanisms (PLAIN, LOGIN) outside TLS (inside TLS they are allowed). */
    noplaintext: z.boolean().default(true),
    /** mech_list in the SASL smtpd.conf, and what the AUTH line must offer. Default CRAM-MD5 DIGEST-MD5, + PLAIN LOGIN with tls. */
    mechanisms: z.array(mechanism).min(1).optional(),
    /** TLS: `{ selfSigned: true }` (made on the host) or `{ certFile, keyFile }` (files on this machine: the chain, and the key). */
    tls: z
      .union([
        z
          .object({
            selfSigned: z.literal(true),
            days: z.number().int().min(2).default(365),
            renewBeforeDays: z.number().int().min(0).default(30),
          })
          .strict(),
        z
          .object({ certFile: z.string().min(1), keyFile: z.string().min(1), renewBeforeDays: z.number().int().min(0).default(30) })
          .strict(),
      ])
      .optional(),
    /** DKIM signing with OpenDKIM: a key made on the host; publish TXT <selector>._domainkey.<domain>. */
    dkim: z
      .object({
        selector: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i, "a DNS label"),
        bits: z.number().int().min(1024).max(4096).default(2048),
      })
      .strict()
      .optional(),
    /** Implicit TLS on 465 ("submissions", RFC 8314); needs tls. */
    submissions: z.boolean().default(false),
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
        /** With tls: the server must present the installed certificate ("installed"), or one valid for hostname from a trusted CA ("ca"). */
        tls: z.enum(["installed", "ca"]).default("installed"),
        /** With tls: "ca": a PEM file of extra CA certificates to trust (a private CA). */
        tlsCaFile: z.string().min(1).optional(),
        /** DNS: checked only when `dns` is given (DNS lives at the registrar). */
        dns: z
          .object({
            resolver: z.string().optional(),
            /** The public address the A record of `hostname` must have. */
            address: z.string().min(1),
            /** The AAAA of hostname: required when inetProtocols is ipv6 or all. */
            address6: z.string().min(2).optional(),
            mxPriority: z.number().int().min(0).default(10),
            spf: z.string().startsWith("v=spf1").optional(),
            /** _dmarc.<domain>; default "v=DMARC1; p=none; rua=mailto:postmaster@<domain>" (monitor first, then tighten). */
            dmarc: z
              .string()
              .regex(/^v=DMARC1\s*(;|$)/, 'must start with "v=DMARC1;"')
              .optional(),
            /** Forward-confirmed reverse DNS of address (and address6): the PTR must name hostname. */
            ptr: z.boolean().default(true),
          })
          .optional(),
      })
      .default({ smtpFrom: "controller", tls: "installed" }),
  })
  .strict()
  .refine((v) => !v.submissions || v.tls, { path: ["submissions"], message: "needs tls (465 is TLS from the first byte)" })
  .refine((v) => !v.verify.dns || v.inetProtocols === "ipv4" || v.verify.dns.address6, {
    path: ["verify", "dns", "address6"],
    message: "required when inetProtocols is ipv6 or all (the AAAA record of hostname)",
  });

type Vars = z.output<typeof vars>;

export default definePlaybook({
  name: "mail",
  description: "Postfix with SMTP AUTH (Cyrus SASL sasldb), submission on 587, iptables, verified end to end",
  vars,
  steps: (ctx) => {
    const { vars: v, facts } = ctx;
    const domain = v.domain ?? v.hostname.split(".").slice(1).join(".");
    const debian = facts.osFamily === "debian";
    const mail = settingsOf(v);
    const certificate = v.tls ? certificateStep(v, facts) : null;
    const dkim = v.dkim
      ? dkimSteps(facts, { domain, hostname: v.hostname, selector: v.dkim.selector, bits: v.dkim.bits, mynetworks: v.mynetworks })
      : null;
    return [
      packages(facts, { names: [...mailPackages(facts), ...(v.tls || v.dkim ? ["openssl"] : []), ...(v.dkim ? dkimPackages() : [])] }),
      ...(certificate ? [certificate] : []),
      ...(dkim ? dkim.steps : []),

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
          ...(certificate ? tlsSettings(certificate.certFile, certificate.keyFile) : {}),
          ...(dkim ? dkimPostfixSettings() : {}),
        },
        notify: ["restart postfix"],
      }),

      configKeys({
        path: `${facts.paths.saslConfigDir}/smtpd.conf`,
        separator: ": ",
        create: true,
        mode: "0644",
        settings: { pwcheck_method: "auxprop", auxprop_plugin: "sasldb", mech_list: mail.mechanisms.join(" ") },
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
        options: {
          syslog_name: "postfix/submission",
          smtpd_sasl_auth_enable: "yes",
          ...(v.tls ? { smtpd_tls_security_level: "encrypt", smtpd_tls_auth_only: "yes" } : {}),
        },
        notify: ["reload postfix"],
      }),
      ...(v.submissions
        ? [
            masterService({
              service: "submissions",
              type: "inet",
              private: "n",
              unpriv: "-",
              chroot: debian ? "y" : "n",
              command: "smtpd",
              options: { syslog_name: "postfix/submissions", smtpd_tls_wrappermode: "yes", smtpd_sasl_auth_enable: "yes" },
              notify: ["reload postfix"],
            }),
          ]
        : []),

      // Inserted at the top like the guide's `iptables -I`, each at its own position so two runs
      // never fight over position 1.
      ...mail.ports.map((port, index) =>
        iptablesRule({ chain: "INPUT", rule: ["-p", "tcp", "--dport", String(port), "-j", "ACCEPT"], position: index + 1 }),
      ),
      iptablesPersist(facts),

      service(facts, { name: "postfix", state: "running", enabled: true }),
      // The checks below must see the new configuration.
      flushHandlers(),
      ...verifications(ctx, domain, mail, certificate, dkim?.key ?? null),
    ];
  },
  handlers: () => ({
    // Declared order is run order: a restart makes a reload pointless, so it comes first.
    "restart opendkim": restartService("opendkim"),
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

interface MailSettings {
  mechanisms: string[];
  /** Ports opened in iptables: `ports`, plus 465 with submissions. */
  ports: number[];
}

function settingsOf(v: Vars): MailSettings {
  const mechanisms = v.mechanisms ?? (v.tls ? ["CRAM-MD5", "DIGEST-MD5", "PLAIN", "LOGIN"] : ["CRAM-MD5", "DIGEST-MD5"]);
  const ports = v.submissions && !v.ports.includes(465) ? [...v.ports, 465] : v.ports;
  return { mechanisms, ports };
}

/** Where the chain and key live: Debian's /etc/ssl, RHEL's /etc/pki/tls. */
function certificateStep(v: Vars, facts: Facts): TlsCertificateStep & { certFile: string; keyFile: string } {
  const tls = v.tls!;
  const base = facts.osFamily === "debian" ? "/etc/ssl" : "/etc/pki/tls";
  const certFile = `${base}/certs/${v.hostname}.pem`;
  const keyFile = `${base}/private/${v.hostname}.key`;
  // A restart, not a reload: after `postfix reload` an idle smtpd of the old generation may still
  // take the next connection and present the old certificate (seen on a test host), so the
  // verification right after would race it; systemctl restart returns once the old ones are gone.
  const common = { hostname: v.hostname, certFile, keyFile, renewBeforeDays: tls.renewBeforeDays, notify: ["restart postfix"] };
  const step =
    "selfSigned" in tls
      ? tlsCertificate({ ...common, selfSigned: { days: tls.days } })
      : tlsCertificate({
          ...common,
          files: {
            chain: readControllerFile(tls.certFile, "tls.certFile"),
            key: secret(readControllerFile(tls.keyFile, "tls.keyFile")),
            chainName: tls.certFile,
            keyName: tls.keyFile,
          },
        });
  return Object.assign(step, { certFile, keyFile });
}

function readControllerFile(path: string, field: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new InvalidStepError(`${field}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/**
 * Postfix TLS (main.cf): STARTTLS offered on 25 (`may`: a sender without TLS still delivers),
 * TLS 1.2 or later, opportunistic TLS outbound. PLAIN and LOGIN: refused in clear text
 * (smtpd_sasl_security_options keeps noplaintext) and allowed inside TLS
 * (smtpd_sasl_tls_security_options = noanonymous). cert_file/key_file rather than
 * smtpd_tls_chain_files: they work on every Postfix (chain_files needs ≥ 3.4) and replace the
 * snakeoil pair Debian sets; the cert file holds the chain, leaf first.
 */
function tlsSettings(certFile: string, keyFile: string): Record<string, string> {
  return {
    smtpd_tls_cert_file: certFile,
    smtpd_tls_key_file: keyFile,
    smtpd_tls_security_level: "may",
    smtpd_tls_protocols: ">=TLSv1.2",
    smtpd_tls_mandatory_protocols: ">=TLSv1.2",
    smtpd_sasl_tls_security_options: "noanonymous",
    smtp_tls_security_level: "may",
  };
}

function verifications(
  { vars: v, host }: PlaybookContext<Vars>,
  domain: string,
  mail: MailSettings,
  certificate: TlsCertificateStep | null,
  dkimKeyStep: DkimKeyStep | null,
) {
  const steps = [];
  if (v.verify.smtpFrom !== "off") {
    const [first] = v.users;
    const ports = mail.ports.filter((port) => port === 25 || port === 587 || (port === 465 && v.submissions));
    const fromController = v.verify.smtpFrom === "controller";
    // Inside TLS every mechanism is offered; in clear text, noplaintext hides PLAIN and LOGIN.
    const clear = v.noplaintext ? mail.mechanisms.filter((m) => m !== "PLAIN" && m !== "LOGIN") : mail.mechanisms;
    const tls = certificate && fromController;
    const logins = [];
    if (first && fromController && mail.mechanisms.includes("CRAM-MD5")) {
      logins.push({ user: first.name, realm: v.hostname, password: first.password, mechanism: "CRAM-MD5" as const, port: 587 });
    }
    if (first && tls && mail.mechanisms.includes("PLAIN")) {
      logins.push({ user: first.name, realm: v.hostname, password: first.password, mechanism: "PLAIN" as const, port: 587 });
      if (v.submissions)
        logins.push({ user: first.name, realm: v.hostname, password: first.password, mechanism: "PLAIN" as const, port: 465 });
    }
    steps.push(
      verifySmtp({
        host: v.verify.smtpAddress ?? (v.verify.smtpFrom === "host" ? "127.0.0.1" : host.address),
        ports,
        from: v.verify.smtpFrom,
        expectBannerWithoutVersion: true,
        expectMechanisms: tls ? mail.mechanisms : clear,
        ...(logins.length ? { login: logins } : {}),
        ...(tls
          ? {
              tls: {
                starttls: ports.filter((port) => port !== 465),
                implicit: ports.filter((port) => port === 465),
                authOnlyAfterTls: ports.filter((port) => port === 587),
                servername: v.hostname,
                ...(v.verify.tls === "ca"
                  ? {
                      verify: "ca" as const,
                      ...(v.verify.tlsCaFile ? { ca: readControllerFile(v.verify.tlsCaFile, "verify.tlsCaFile") } : {}),
                    }
                  : { verify: "fingerprint" as const, fingerprint: certificate.fingerprint }),
              },
            }
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
        dmarc: { domain, policy: dns.dmarc ?? `v=DMARC1; p=none; rua=mailto:postmaster@${domain}` },
        ...(dns.ptr ? { ptr: { address: dns.address, name: v.hostname } } : {}),
        ...(dns.address6 ? { aaaa: { name: v.hostname, address: dns.address6 } } : {}),
        ...(dkimKeyStep && v.dkim ? { dkim: { domain, selector: v.dkim.selector, record: dkimKeyStep.record } } : {}),
      }),
    );
  }
  return steps;
}
