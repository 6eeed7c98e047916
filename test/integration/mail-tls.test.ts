/**
 * playbooks/mail.ts with TLS and DKIM on a real Debian 12 host (testHost(13)): a self-signed
 * certificate made on the host, STARTTLS on 25 and 587 (AUTH only inside TLS there), implicit TLS
 * on 465, OpenDKIM signing with a key made on the host, DNS (A, MX, SPF, DMARC, PTR, DKIM) checked
 * against the test's own DNS server on 127.0.0.1 — proven with clients that are not ours (swaks
 * --tls / --tlsc, openssl s_client, python3-dkim), then certificates from files on the controller,
 * bad input refused before anything changes, and drift.
 *
 * The CLI reaches the host by an ~/.ssh/config alias no DNS knows (`--host vps1`).
 * The SMTP checks from the controller reach the HostName ssh reached: no DNS knows `vps1`.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostExec } from "../hosts/harness.ts";
import { testFleet, testHost } from "./support/fleet.ts";
import { driftedSteps, parseReport, provisionCli, REPO } from "./support/cli.ts";
import { startDnsServer, type DnsServer } from "../support/dns-server.ts";
import { pythonDkimVerify } from "../support/python-dkim-verify.ts";

const host = testHost(13);
const HOSTNAME = "mail.example.test";
const PASSWORD = "Tls-Mail-pw-5521";
const PLAYBOOK = join(REPO, "playbooks/mail.ts");
const CERT_PATH = `/etc/ssl/certs/${HOSTNAME}.pem`;
const KEY_PATH = `/etc/ssl/private/${HOSTNAME}.key`;
const FIXTURES = join(REPO, "test/unit/steps/fixtures/tls");

const DKIM_NAME = "sel1._domainkey.example.test";

let dir: string;
let sshConfig: string;
let dns: DnsServer;

async function varsFile(name: string, tls: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    [
      `hostname: ${HOSTNAME}`,
      ...tls,
      "submissions: true",
      "dkim: { selector: sel1 }",
      "users:",
      "  - name: bob",
      "    password: { fromEnv: MAIL_TLS_PASSWORD }",
      "verify:",
      "  smtpFrom: controller",
      "  dns:",
      `    resolver: ${dns.address}`,
      `    address: ${host.address}`,
      "",
    ].join("\n"),
  );
  return path;
}

let selfSignedVars: string;

const run = (vars: string, ...extra: string[]) =>
  provisionCli(
    [
      "run",
      PLAYBOOK,
      "--host",
      "vps1",
      "--ssh-config",
      sshConfig,
      "--known-hosts",
      testFleet().knownHostsPath,
      "--vars-file",
      vars,
      ...extra,
    ],
    {
      env: { MAIL_TLS_PASSWORD: PASSWORD },
    },
  );

async function check(vars = selfSignedVars) {
  const result = await run(vars, "--check", "--json");
  const [hostReport] = parseReport(result).hosts;
  if (!hostReport) throw new Error(`no host in report: ${result.stdout}`);
  return { code: result.code, host: hostReport, raw: result };
}

async function onHost(command: string): Promise<string> {
  const result = await hostExec(host, command);
  if (result.exitCode !== 0) throw new Error(`${command}: exit ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

function exec(file: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
    // A client may exit before reading its stdin (swaks, openssl): that is not an error here.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(input ?? "");
  });
}

function swaks(args: string[]) {
  return exec("swaks", [
    "--server",
    host.address,
    "--auth-user",
    `bob@${HOSTNAME}`,
    "--auth-password",
    PASSWORD,
    "--quit-after",
    "AUTH",
    "--timeout",
    "15",
    ...args,
  ]);
}

/** The fingerprint the server presents, seen by openssl s_client (not our client). */
async function presentedFingerprint(port: number): Promise<string> {
  const starttls = port === 465 ? [] : ["-starttls", "smtp"];
  const hello = await exec(
    "openssl",
    ["s_client", "-connect", `${host.address}:${port}`, "-servername", HOSTNAME, ...starttls],
    "QUIT\r\n",
  );
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(hello.stdout)?.[0];
  if (!pem) throw new Error(`no certificate from s_client on ${port}: ${hello.stderr}`);
  const fingerprint = await exec("openssl", ["x509", "-noout", "-fingerprint", "-sha256"], pem);
  return fingerprint.stdout.trim().replace(/^.*=/, "");
}

async function installedFingerprint(): Promise<string> {
  return (await onHost(`openssl x509 -in ${CERT_PATH} -noout -fingerprint -sha256`)).trim().replace(/^.*=/, "");
}

/** TXT RDATA as the drift message prints it ("…" "…") → the record's text. */
function txtText(rdata: string): string {
  return [...rdata.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? "").replace(/\\(.)/g, "$1")).join("");
}

beforeAll(async () => {
  dns = await startDnsServer({
    "example.test": { MX: [{ exchange: HOSTNAME, preference: 10 }], TXT: [`v=spf1 a:${HOSTNAME} -all`] },
    [HOSTNAME]: { A: [host.address] },
    "_dmarc.example.test": { TXT: ["v=DMARC1; p=none; rua=mailto:postmaster@example.test"] },
    [`${host.address.split(".").reverse().join(".")}.in-addr.arpa`]: { PTR: [HOSTNAME] },
  });
  dir = await mkdtemp(join(tmpdir(), "provision-mail-tls-"));
  sshConfig = join(dir, "ssh_config");
  await writeFile(
    sshConfig,
    `Host vps1\n  HostName ${host.address}\n  Port ${host.port}\n  User root\n  IdentityFile ${testFleet().privateKeyPath}\n`,
  );
  selfSignedVars = await varsFile("self-signed.yml", ["tls: { selfSigned: true }"]);
  // Another file may have left a certificate or DKIM key here: start from none. alice gets mail.
  await onHost(
    `rm -rf ${CERT_PATH} ${KEY_PATH} /etc/dkimkeys/example.test; id alice >/dev/null 2>&1 || useradd -m alice; rm -rf /home/alice/Maildir`,
  );
});

afterAll(async () => {
  await dns?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("playbooks/mail.ts with TLS, through an ssh alias", () => {
  it("converges: a self-signed certificate and a DKIM key made on the host; the run names the DKIM record to publish", async () => {
    const first = await run(selfSignedVars);
    expect(first.stdout).toMatch(/\[changed\] tls certificate mail\.example\.test .* is missing/);
    expect(first.stdout).toMatch(/\[changed\] dkim key sel1\._domainkey\.example\.test .* generate a 2048-bit key with opendkim-genkey/);
    // The DKIM record is not published yet: the run fails at verify dns, naming the record to add.
    expect(first.code, `${first.stdout}\n${first.stderr}`).toBe(1);
    const failed = first.stdout.split("\n").filter((line) => /\[FAILED\]/.test(line));
    expect(failed, first.stdout).toHaveLength(1);
    const add = new RegExp(
      `DKIM of ${DKIM_NAME.replace(/\./g, "\\.")}: missing \\(NXDOMAIN: the name does not exist\\); add: ${DKIM_NAME.replace(/\./g, "\\.")}\\. IN TXT ((?:"[^"]*" ?)+)`,
    ).exec(failed[0]!);
    expect(add, failed[0]).not.toBeNull();
    const record = txtText(add![1]!);
    // The p= is the public half of the key that is on the host (derived there by openssl, not by us).
    const hostPublic = (
      await onHost("openssl pkey -in /etc/dkimkeys/example.test/sel1.private -pubout | grep -v -- ----- | tr -d '\\n'")
    ).trim();
    expect(record).toBe(`v=DKIM1; k=rsa; p=${hostPublic}`);
    expect(await onHost("stat -c '%U %G %a' /etc/dkimkeys/example.test/sel1.private")).toBe("opendkim opendkim 600\n");
    dns.set(DKIM_NAME, { TXT: [record.match(/.{1,255}/g)!] });

    const second = await run(selfSignedVars);
    expect(second.code, `${second.stdout}\n${second.stderr}`).toBe(0);

    expect(await onHost(`stat -c '%U %G %a' ${KEY_PATH} ${CERT_PATH}`)).toBe("root root 600\nroot root 644\n");
    const san = await onHost(`openssl x509 -in ${CERT_PATH} -noout -ext subjectAltName`);
    expect(san).toContain(`DNS:${HOSTNAME}`);
    const settings = await onHost("postconf -n");
    for (const expected of [
      `smtpd_tls_cert_file = ${CERT_PATH}`,
      `smtpd_tls_key_file = ${KEY_PATH}`,
      "smtpd_tls_security_level = may",
      "smtpd_tls_protocols = >=TLSv1.2",
      "smtp_tls_security_level = may",
      "smtpd_sasl_security_options = noanonymous, noplaintext",
      "smtpd_sasl_tls_security_options = noanonymous",
    ]) {
      expect(settings).toContain(`${expected}\n`);
    }
    const master = await onHost("postconf -P");
    expect(master).toContain("submission/inet/smtpd_tls_security_level = encrypt");
    expect(master).toContain("submission/inet/smtpd_tls_auth_only = yes");
    expect(master).toContain("submissions/inet/smtpd_tls_wrappermode = yes");
  });

  it("independent clients: swaks --tls logs in on 587 with PLAIN, swaks --tlsc on 465; no AUTH before STARTTLS on 587", async () => {
    const submission = await swaks(["--port", "587", "--tls", "--auth", "PLAIN"]);
    expect(submission.stdout, submission.stderr).toMatch(/<~ +235 2\.7\.0 Authentication successful/);
    expect(submission.stdout).toMatch(/=== TLS started with cipher TLSv1\.[23]/);
    const submissions = await swaks(["--port", "465", "--tlsc", "--auth", "LOGIN"]);
    expect(submissions.stdout, submissions.stderr).toMatch(/<~ +235 2\.7\.0 Authentication successful/);
    const cram = await swaks(["--port", "587", "--tls", "--auth", "CRAM-MD5"]);
    expect(cram.stdout, cram.stderr).toMatch(/<~ +235 2\.7\.0 Authentication successful/);

    const clear = await exec("swaks", ["--server", host.address, "--port", "587", "--quit-after", "EHLO", "--timeout", "15"]);
    expect(clear.stdout).toMatch(/<- +250-STARTTLS/);
    expect(clear.stdout).not.toMatch(/<- +250[- ]AUTH/);
    // PLAIN in clear on 587 is refused (AUTH only after STARTTLS).
    const plainInClear = await swaks(["--port", "587", "--auth", "PLAIN"]);
    expect(plainInClear.stdout + plainInClear.stderr).toMatch(/Host did not advertise authentication|AUTH not supported/i);

    const installed = await installedFingerprint();
    expect(await presentedFingerprint(587)).toBe(installed);
    expect(await presentedFingerprint(465)).toBe(installed);
  });

  it("end to end: a message submitted on 587 (STARTTLS + AUTH PLAIN) lands in alice's Maildir, DKIM-signed; python3-dkim verifies it", async () => {
    const sent = await exec("swaks", [
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
      "--from",
      "bob@example.test",
      "--to",
      `alice@${HOSTNAME}`,
      "--header",
      "Subject: provision e2e",
      "--timeout",
      "15",
    ]);
    expect(sent.stdout, sent.stderr).toMatch(/<~ +250 2\.0\.0 Ok: queued as/);
    let message = "";
    for (let i = 0; i < 50 && !message; i++) {
      const found = await hostExec(
        host,
        'f=$(ls /home/alice/Maildir/new/ 2>/dev/null | head -n 1); [ -n "$f" ] && cat "/home/alice/Maildir/new/$f"',
      );
      if (found.exitCode === 0) message = found.stdout;
      else await new Promise((r) => setTimeout(r, 200));
    }
    expect(message).toContain("Subject: provision e2e");
    expect(message).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/simple; d=example\.test; s=sel1;/m);
    const verified = await pythonDkimVerify(Buffer.from(message, "latin1"), dns.port);
    expect(verified.output).toBe("ok\n");
    expect(dns.queries).toContain(`TXT ${DKIM_NAME}`);
    // And the same verifier refuses a tampered body (the check can fail).
    const tampered = await pythonDkimVerify(
      Buffer.from(message.replace("This is a test mailing", "This is a changed mailing"), "latin1"),
      dns.port,
    );
    expect(tampered.ok).toBe(false);
  });

  it("reports 0 changes on a second run, and --check exits 0", async () => {
    const second = await run(selfSignedVars, "--json");
    expect(second.code, second.stderr).toBe(0);
    const [report] = parseReport(second).hosts;
    expect(report?.counts.changed).toBe(0);
    const clean = await check();
    expect(clean.code, JSON.stringify(clean.host.steps.filter((s) => s.status !== "ok"))).toBe(0);
  });

  it("bad input: a key that does not match the certificate, or a certificate without the host name, is refused naming the files; nothing changes", async () => {
    const before = await installedFingerprint();
    const mismatch = await varsFile("mismatch.yml", [
      `tls: { certFile: ${join(FIXTURES, "mail.example.test.crt")}, keyFile: ${join(FIXTURES, "other.example.test.key")} }`,
    ]);
    const refused = await run(mismatch);
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toContain(
      `tlsCertificate: ${join(FIXTURES, "other.example.test.key")} does not match the certificate in ${join(FIXTURES, "mail.example.test.crt")}`,
    );
    const wrongHost = await varsFile("wrong-host.yml", [
      `tls: { certFile: ${join(FIXTURES, "other.example.test.crt")}, keyFile: ${join(FIXTURES, "other.example.test.key")} }`,
    ]);
    const refused2 = await run(wrongHost, "--check");
    expect(refused2.code).toBe(1);
    expect(refused2.stdout + refused2.stderr).toContain(
      `the certificate in ${join(FIXTURES, "other.example.test.crt")} does not cover ${HOSTNAME} (SAN: DNS:other.example.test)`,
    );
    expect(await installedFingerprint()).toBe(before);
    expect((await check()).code).toBe(0);
  });

  it("a certificate and key from files on the controller: installed (key 0600, never printed), presented, idempotent", async () => {
    const files = await varsFile("files.yml", [
      `tls: { certFile: ${join(FIXTURES, "mail.example.test.crt")}, keyFile: ${join(FIXTURES, "mail.example.test.key")} }`,
    ]);
    const drift = await check(files);
    expect(drift.code).toBe(2);
    // The checks from the controller depend on the certificate still to be installed: unknown.
    expect(driftedSteps(drift.host).filter((name) => !/^verify (smtp|dns)/.test(name))).toEqual([
      `tls certificate ${HOSTNAME} (${CERT_PATH})`,
    ]);
    const applied = await run(files, "--diff");
    expect(applied.code, `${applied.stdout}\n${applied.stderr}`).toBe(0);
    const keyBody = readFileSync(join(FIXTURES, "mail.example.test.key"), "utf8").split("\n")[1]!;
    expect(applied.stdout + applied.stderr).not.toContain(keyBody);
    const localSha = (await exec("sha256sum", [join(FIXTURES, "mail.example.test.crt")])).stdout.split(" ")[0];
    expect((await onHost(`sha256sum ${CERT_PATH}`)).split(" ")[0]).toBe(localSha);
    expect(await onHost(`stat -c '%U %G %a' ${KEY_PATH}`)).toBe("root root 600\n");
    const expected = (
      await exec("openssl", ["x509", "-in", join(FIXTURES, "mail.example.test.crt"), "-noout", "-fingerprint", "-sha256"])
    ).stdout
      .trim()
      .replace(/^.*=/, "");
    expect(await installedFingerprint()).toBe(expected);
    expect(await presentedFingerprint(587)).toBe(expected);
    expect((await check(files)).code).toBe(0);

    // Back to self-signed: the files' certificate is valid for the name, so it is kept.
    expect((await check()).code).toBe(0);
  });

  const scenarios: { name: string; tamper: string; drifted: RegExp[]; summary?: RegExp }[] = [
    {
      name: "the certificate and key replaced by another pair for another name (and Postfix reloaded)",
      tamper:
        `openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=other.example.test -addext subjectAltName=DNS:other.example.test ` +
        `-keyout ${KEY_PATH} -out ${CERT_PATH} 2>/dev/null && postfix reload`,
      drifted: [/^tls certificate/],
      summary: /does not cover mail\.example\.test/,
    },
    {
      name: "the certificate near expiry (5 days left, within renewBeforeDays 30)",
      tamper: `openssl req -x509 -key ${KEY_PATH} -days 5 -subj /CN=${HOSTNAME} -addext subjectAltName=DNS:${HOSTNAME} -out ${CERT_PATH} && postfix reload`,
      drifted: [/^tls certificate/],
      summary: /it expires .* \(within renewBeforeDays, 30\)/,
    },
    {
      name: "the key replaced by another (certificate and key no longer match)",
      // Reloaded, so every new smtpd sees it: Postfix then turns TLS off (no STARTTLS, 465 fails).
      tamper: `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ${KEY_PATH} 2>/dev/null && postfix reload`,
      drifted: [/^tls certificate/],
      summary: /does not match the certificate/,
    },
    {
      name: "opendkim stopped",
      tamper: "systemctl stop opendkim",
      drifted: [/^service opendkim/],
    },
    {
      name: "TLS on 587 lowered to may (auth-only off)",
      tamper: "postconf -P submission/inet/smtpd_tls_security_level=may submission/inet/smtpd_tls_auth_only=no && postfix reload",
      drifted: [/^master\.cf submission\/inet/],
    },
  ];

  it("detects: the DKIM key replaced on the host (DNS no longer matches: verify dns drifts, naming the new record)", async () => {
    const file = "/etc/dkimkeys/example.test/sel1.private";
    await onHost(
      `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ${file} 2>/dev/null && chown opendkim:opendkim ${file} && chmod 0600 ${file}`,
    );
    const drift = await check();
    expect(drift.code, drift.raw.stderr).toBe(2);
    expect(
      driftedSteps(drift.host),
      JSON.stringify(
        drift.host.steps.filter((s) => s.status !== "ok"),
        null,
        2,
      ),
    ).toEqual([expect.stringMatching(/^verify dns /)]);
    const summary = drift.host.steps.find((s) => /^verify dns/.test(s.name))!.summary!;
    expect(summary).toMatch(new RegExp(`DKIM of ${DKIM_NAME.replace(/\./g, "\\.")}: the published key is not the host's`));
    const hostPublic = (await onHost(`openssl pkey -in ${file} -pubout | grep -v -- ----- | tr -d '\\n'`)).trim();
    const record = txtText(/replace with: \S+ IN TXT ((?:"[^"]*" ?)+)/.exec(summary)![1]!);
    expect(record).toBe(`v=DKIM1; k=rsa; p=${hostPublic}`);
    // The repair is at the registrar: publish the record the drift named.
    dns.set(DKIM_NAME, { TXT: [record.match(/.{1,255}/g)!] });
    const after = await check();
    expect(after.code, JSON.stringify(after.host.steps.filter((s) => s.status !== "ok"))).toBe(0);
  });

  for (const scenario of scenarios) {
    it(`detects and repairs: ${scenario.name}`, async () => {
      await onHost(scenario.tamper);
      const drift = await check();
      expect(drift.code, drift.raw.stderr).toBe(2);
      // Exactly the drifted steps would change; what depends on them (the checks from the
      // controller, a handler's service) is unknown, naming the pending change.
      const shown = JSON.stringify(
        drift.host.steps.filter((s) => s.status !== "ok"),
        null,
        2,
      );
      const names = drift.host.steps.filter((s) => s.status === "would-change").map((s) => s.name);
      expect(names, shown).toHaveLength(scenario.drifted.length);
      scenario.drifted.forEach(
        (pattern) =>
          void expect(
            names.some((name) => pattern.test(name)),
            `${pattern} in ${names}`,
          ).toBe(true),
      );
      for (const step of drift.host.steps.filter((s) => s.status !== "ok" && s.status !== "would-change")) {
        expect(step.status, shown).toBe("unknown");
        expect(step.summary, shown).toMatch(/^depends on a pending change of (step|handler) "/);
      }
      if (scenario.summary) expect(drift.host.steps.find((s) => /^tls certificate/.test(s.name))?.summary).toMatch(scenario.summary);
      expect(drift.raw.stdout).not.toContain(PASSWORD);

      const repair = await run(selfSignedVars);
      expect(repair.code, `${repair.stdout}\n${repair.stderr}`).toBe(0);
      const after = await check();
      expect(after.code, JSON.stringify(after.host.steps.filter((s) => s.status !== "ok"))).toBe(0);
      expect(await presentedFingerprint(587)).toBe(await installedFingerprint());
    });
  }
});
