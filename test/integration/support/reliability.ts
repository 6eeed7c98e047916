/**
 * Shared by the reliability tests (test/integration/reliability-*.test.ts): a fingerprint of what
 * a host's state is made of, leftovers provision could leave, the mail playbook's vars, and a
 * transport wrapper that cuts the connection at a chosen command.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { hostExec, type TestHost } from "../../hosts/harness.ts";
import { TransportError, type ExecOptions, type ExecResult, type Transport } from "../../../src/transport/transport.ts";

export async function onHost(host: TestHost, command: string): Promise<string> {
  const result = await hostExec(host, command);
  if (result.exitCode !== 0) throw new Error(`${host.name}: ${command}: exit ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

/**
 * Everything `--check` must not touch, as text (diff two of them to see what changed):
 * every file under /etc and /var/spool/postfix/etc (sha256, owner, group, mode, mtime), every
 * other entry's type/owner/mode, the live iptables rules (no counters, no comments), the sasldb
 * contents (both copies), postfix's active/enabled state, the files in /tmp, /var/tmp and /run
 * (top level) and anything named .provision-* on the root filesystem.
 */
export const FINGERPRINT_SCRIPT = `set -u
echo '## files'
find /etc /var/spool/postfix/etc -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum
echo '## meta'
find /etc /var/spool/postfix/etc -xdev -printf '%p %y %U %G %m %T@\\n' 2>/dev/null | sort
echo '## iptables'
iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]/[0:0]/'
echo '## sasldb'
for db in /etc/sasldb2 /var/spool/postfix/etc/sasldb2; do echo "$db"; [ -e "$db" ] && db_dump -p "$db"; done
echo '## postfix'
systemctl is-active postfix; systemctl is-enabled postfix
echo '## temp dirs'
ls -A /tmp /var/tmp
ls -A /run | grep -i provision
echo '## .provision-*'
find / -xdev -name '.provision-*' ! -path /.provision-testhosts-base 2>/dev/null
true`;

export async function fingerprint(host: TestHost): Promise<string> {
  return onHost(host, FINGERPRINT_SCRIPT);
}

/** What an interrupted run could leave: temp files of atomic writes, the lock, sasldb temp copies. */
export async function leftovers(host: TestHost): Promise<string[]> {
  const out = await onHost(
    host,
    "find / -xdev \\( -name '.provision-*' -o -name '*.provision-tmp' -o -name 'provision.lock*' -o -path '/var/lib/provision/pending-handlers/*' \\) 2>/dev/null; true",
  );
  // The harness's own marker at / is not ours.
  return out.split("\n").filter((f) => f && f !== "/.provision-testhosts-base");
}

export const MAIL_HOSTNAME = "mail.example.test";

/** A vars file for playbooks/mail.ts; the SASL password from the environment variable named. */
export async function mailVarsFile(passwordEnv: string): Promise<{ dir: string; varsFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), "provision-reliability-"));
  const varsFile = join(dir, "mail.yml");
  await writeFile(
    varsFile,
    [
      `hostname: ${MAIL_HOSTNAME}`,
      "users:",
      "  - name: bob",
      `    password: { fromEnv: ${passwordEnv} }`,
      "verify:",
      "  smtpFrom: controller",
      "",
    ].join("\n"),
  );
  return { dir, varsFile };
}

/** Undo what the mail playbook set up (packages stay): every step has work to do again. */
export const UNCONVERGE_MAIL = `set -e
postconf -e 'smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)' 'disable_vrfy_command = no'
postconf -X smtpd_sasl_auth_enable smtpd_sasl_local_domain smtpd_sasl_security_options smtpd_recipient_restrictions home_mailbox
rm -f /etc/postfix/sasl/smtpd.conf /etc/sasldb2 /var/spool/postfix/etc/sasldb2 /etc/iptables/rules.v4
gpasswd -d postfix sasl >/dev/null 2>&1 || true
postconf -MX submission/inet 2>/dev/null || true
while iptables -D INPUT -p tcp --dport 25 -j ACCEPT 2>/dev/null; do :; done
while iptables -D INPUT -p tcp --dport 587 -j ACCEPT 2>/dev/null; do :; done
systemctl stop postfix
# Tests run this every few seconds, and each round (re)starts Postfix a few times: past systemd's
# start limit (5 starts in 10 s) a restart fails with "start request repeated too quickly".
systemctl reset-failed postfix.service 'postfix@-.service' 2>/dev/null || true
true`;

/** Each of our rules exactly once in the live rules and in rules.v4. */
export async function expectRulesOnce(host: TestHost): Promise<void> {
  for (const source of ["iptables-save", "cat /etc/iptables/rules.v4"]) {
    const rules = (await onHost(host, source)).split("\n");
    for (const port of [25, 587]) {
      const line = `-A INPUT -p tcp -m tcp --dport ${port} -j ACCEPT`;
      expect(
        rules.filter((r) => r === line),
        `${source}: ${line}`,
      ).toHaveLength(1);
    }
  }
}

/**
 * A transport that behaves like the connection dropping at the Nth command that is not a read
 * (reads: the facts probe and batched read scripts). `when: "after"` runs that command first (the
 * change happens, its answer is lost), `"before"` never sends it. Every later command fails too.
 */
export function cutAt(inner: Transport, n: number, when: "before" | "after", log: string[] = []): Transport {
  let count = 0;
  let cut = false;
  const isRead = (command: string, options: ExecOptions) => {
    const script = command === "sh -s" ? String(options.stdin ?? "") : command;
    return script.startsWith("# provision-batch ") || script.startsWith("# provision-facts v1 ");
  };
  return {
    host: inner.host,
    async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
      if (cut) throw new TransportError(inner.host, "lost", "connection lost (test cut)");
      if (isRead(command, options)) return inner.exec(command, options);
      count += 1;
      const script = command === "sh -s" ? String(options.stdin ?? "") : command;
      // The runner's own scripts by their headers ("# provision-lock release", …), others by their first line.
      const headers = script.match(/^# provision-(?:lock|pending-handlers) \w+/gm);
      const shown = headers ? headers.join(" + ") : (script.split("\n").find((l) => !l.startsWith("#")) ?? "");
      log.push(shown.slice(0, 120));
      if (count === n) {
        cut = true;
        if (when === "after") await inner.exec(command, options);
        throw new TransportError(inner.host, "lost", `connection lost (test cut ${when} command ${n})`);
      }
      return inner.exec(command, options);
    },
    close: () => inner.close(),
  };
}
