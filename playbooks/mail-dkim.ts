/**
 * The DKIM part of playbooks/mail.ts: OpenDKIM signing the mail of `domain` (and of the mail
 * host's own name) with a key generated on the host, wired into Postfix as a milter.
 *
 * - The milter listens on inet 127.0.0.1:8891: a chrooted smtpd reaches a TCP socket without any
 *   socket file inside /var/spool/postfix (a unix socket would need one, with the right group).
 * - `Mode sv`: sign mail from authenticated senders and InternalHosts, verify the rest.
 * - `milter_default_action = accept`: if opendkim is down, mail still flows (unsigned) rather than
 *   bouncing; verifyDns and the service step say what is wrong.
 * - opendkim runs in the foreground under systemd (a drop-in: Type=simple, `opendkim -f`): Debian's
 *   unit is Type=forking with a PID file that opendkim writes after its parent exits, so systemd
 *   must watch for it with inotify — and where inotify instances run out (seen on a loaded test
 *   machine) the start fails with "protocol". No PID file, no race.
 */
import { directory, dkimKey, file, service, systemdDaemonReload, type DkimKeyStep, type Facts, type AnyStep } from "../src/index.ts";

export const DKIM_MILTER = "inet:127.0.0.1:8891";

export interface DkimOptions {
  domain: string;
  hostname: string;
  selector: string;
  bits: number;
  mynetworks: string[];
}

export function dkimPackages(): string[] {
  return ["opendkim", "opendkim-tools"];
}

export function dkimSteps(facts: Facts, o: DkimOptions): { key: DkimKeyStep; steps: AnyStep[] } {
  const keyDir = facts.osFamily === "debian" ? "/etc/dkimkeys" : "/etc/opendkim/keys";
  const key = dkimKey({ domain: o.domain, selector: o.selector, bits: o.bits, keyDir, notify: ["restart opendkim"] });
  const notify = ["restart opendkim"];
  const steps = [
    directory({ path: "/etc/opendkim", owner: "root", group: "root", mode: "0755" }),
    key,
    file({
      path: "/etc/opendkim/key.table",
      mode: "0644",
      notify,
      content: `${key.recordName} ${o.domain}:${o.selector}:${key.privateKeyFile}\n`,
    }),
    file({
      path: "/etc/opendkim/signing.table",
      mode: "0644",
      notify,
      // refile: patterns; the host's own name too (mail from root@mail.example.org), same key.
      content:
        [`*@${o.domain} ${key.recordName}`, ...(o.hostname !== o.domain ? [`*@${o.hostname} ${key.recordName}`] : [])].join("\n") + "\n",
    }),
    file({
      path: "/etc/opendkim/trusted.hosts",
      mode: "0644",
      notify,
      content: ["127.0.0.1", "::1", "localhost", ...o.mynetworks].join("\n") + "\n",
    }),
    file({
      path: "/etc/opendkim.conf",
      mode: "0644",
      notify,
      content: [
        "# Managed by provision (playbooks/mail.ts): edits are replaced on the next run.",
        "Syslog yes",
        "SyslogSuccess yes",
        "Canonicalization relaxed/simple",
        "OversignHeaders From",
        "Mode sv",
        "UserID opendkim",
        "UMask 007",
        `Socket inet:8891@127.0.0.1`,
        "PidFile /run/opendkim/opendkim.pid",
        "KeyTable file:/etc/opendkim/key.table",
        "SigningTable refile:/etc/opendkim/signing.table",
        "InternalHosts refile:/etc/opendkim/trusted.hosts",
        "ExternalIgnoreList refile:/etc/opendkim/trusted.hosts",
        ...(facts.osFamily === "debian" ? ["TrustAnchorFile /usr/share/dns/root.key"] : []),
        "",
      ].join("\n"),
    }),
    ...(facts.serviceManager === "systemd"
      ? [
          directory({ path: "/etc/systemd/system/opendkim.service.d", owner: "root", group: "root", mode: "0755" }),
          file({
            path: "/etc/systemd/system/opendkim.service.d/provision.conf",
            mode: "0644",
            notify,
            content:
              "# Managed by provision (playbooks/mail.ts): run in the foreground, no PID file to watch.\n[Service]\nType=simple\nPIDFile=\nExecStart=\nExecStart=/usr/sbin/opendkim -f\n",
          }),
          systemdDaemonReload({ unit: "opendkim", dropIn: "/etc/systemd/system/opendkim.service.d/provision.conf" }),
        ]
      : []),
    service(facts, { name: "opendkim", state: "running", enabled: true }),
  ];
  return { key, steps };
}

export function dkimPostfixSettings(): Record<string, string> {
  return { smtpd_milters: DKIM_MILTER, non_smtpd_milters: "$smtpd_milters", milter_default_action: "accept" };
}
