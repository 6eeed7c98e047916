/**
 * The main job, end to end, on this machine: start a fresh Debian 12 test host (a network
 * namespace with systemd, sshd, Postfix; see test/hosts/), provision the mail server on it with
 * playbooks/mail.ts over SSH — TLS (a self-signed certificate made on the host), 465, DKIM with
 * OpenDKIM, DNS checked against the demo's own DNS server on 127.0.0.1 — publish the DKIM record
 * the run names, prove SMTP AUTH inside STARTTLS using Python's smtplib (not our code), send a
 * message and verify its DKIM signature with python3-dkim, show that a second run changes nothing
 * and --check finds no drift, then tear the host down.
 *
 *   sudo npm run demo          (root: namespaces; the first run builds the host image, ~2 min)
 */
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// The demo's fleet never collides with a test run's (instance 0) or a benchmark's.
process.env.PROVISION_TESTHOSTS_INSTANCE ??= "8";
const { startHosts } = await import("../test/hosts/harness.ts");
const { pythonSmtpLogin } = await import("../test/support/python-smtp-login.ts");
const { startDnsServer } = await import("../test/support/dns-server.ts");
const { pythonDkimVerify } = await import("../test/support/python-dkim-verify.ts");
const { hostExec } = await import("../test/hosts/harness.ts");

if (process.getuid?.() !== 0) {
  console.error("demo: run as root (sudo npm run demo): test hosts are network namespaces");
  process.exit(1);
}

const repo = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "provision-demo-"));
const password = randomBytes(12).toString("base64url");
const hostname = "mail.demo.test";
const dkimName = "demo._domainkey.demo.test";

console.log("demo: starting a fresh test host …");
const fleet = await startHosts({ count: 1, log: (m) => console.log(`  ${m}`) });
let exitCode = 0;
const dns = await startDnsServer({});
try {
  const host = fleet.hosts[0];
  if (!host) throw new Error("no host started");
  // The demo's DNS (a real UDP server on 127.0.0.1): what a registrar would serve for demo.test.
  dns.set("demo.test", { MX: [{ exchange: hostname, preference: 10 }], TXT: [`v=spf1 a:${hostname} -all`] });
  dns.set(hostname, { A: [host.address] });
  dns.set("_dmarc.demo.test", { TXT: ["v=DMARC1; p=none; rua=mailto:postmaster@demo.test"] });
  dns.set(`${host.address.split(".").reverse().join(".")}.in-addr.arpa`, { PTR: [hostname] });
  writeFileSync(
    join(dir, "mail.yml"),
    [
      `hostname: ${hostname}`,
      "tls: { selfSigned: true }",
      "submissions: true",
      "dkim: { selector: demo }",
      "users:",
      "  - name: alice",
      "    password: { fromEnv: DEMO_SASL_PASSWORD }",
      "verify:",
      "  dns:",
      `    resolver: ${dns.address}`,
      `    address: ${host.address}`,
      "",
    ].join("\n"),
  );
  const provision = (...extra: string[]) => {
    const args = ["bin/provision.js", "run", "playbooks/mail.ts", "--host", host.address, "--user", "root"];
    args.push("--identity", fleet.privateKeyPath, "--known-hosts", fleet.knownHostsPath, "--ssh-config", "/dev/null");
    args.push("--vars-file", join(dir, "mail.yml"), ...extra);
    console.log(`\n$ provision run playbooks/mail.ts --host ${host.address} ${extra.join(" ")}`);
    // Asynchronous: the demo's DNS server lives in this process and must keep answering meanwhile.
    return run("node", args, { stdio: "inherit", env: { ...process.env, DEMO_SASL_PASSWORD: password } }).then((r) => r.status);
  };
  // The first run sets everything up, then verify dns fails on the one record only you can add:
  // the DKIM key was made on the host just now. The run names it, exactly.
  const first = await provisionCaptured();
  process.stdout.write(first.output);
  const txt = new RegExp(`add: ${dkimName.replace(/\./g, "\\.")}\\. IN TXT ((?:"[^"]*" ?)+)`).exec(first.output)?.[1];
  if (first.status !== 1 || !txt) throw new Error("the first run should have named the DKIM record to publish");
  const record = [...txt.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join("");
  console.log(`\ndemo: publishing ${dkimName} TXT "${record.slice(0, 40)}…" in the demo's DNS server`);
  dns.set(dkimName, { TXT: [record.match(/.{1,255}/g) ?? [record]] });
  if ((await provision()) !== 0) throw new Error("the second run failed");

  const login = await pythonSmtpLogin({ host: host.address, port: 587, user: `alice@${hostname}`, password, starttls: true });
  console.log(`\nPython smtplib, STARTTLS + AUTH CRAM-MD5 on ${host.address}:587 as alice@${hostname} → ${login.code} ${login.text}`);
  if (login.code !== 235) throw new Error("SMTP AUTH did not succeed");

  const sent = await run("swaks", [
    "--server",
    host.address,
    "--port",
    "587",
    "--tls",
    "--auth",
    "PLAIN",
    "--auth-user",
    `alice@${hostname}`,
    "--auth-password",
    password,
    "--from",
    "alice@demo.test",
    "--to",
    `root@${hostname}`,
    "--header",
    "Subject: provision demo",
    "--timeout",
    "15",
  ]);
  if (!/250 2\.0\.0 Ok: queued/.test(sent.output)) throw new Error(`swaks could not submit a message: ${sent.output}`);
  let message = "";
  for (let i = 0; i < 50 && !message; i++) {
    const found = await hostExec(host, 'f=$(ls /root/Maildir/new/ 2>/dev/null | head -n 1); [ -n "$f" ] && cat "/root/Maildir/new/$f"');
    if (found.exitCode === 0) message = found.stdout;
    else await new Promise((r) => setTimeout(r, 200));
  }
  const verified = message
    ? await pythonDkimVerify(Buffer.from(message, "latin1"), dns.port)
    : { ok: false, output: "no message delivered" };
  const signature = /^DKIM-Signature: .*$/m.exec(message)?.[0] ?? "(none)";
  console.log(`\nswaks --tls on 587 → root@${hostname}: delivered to /root/Maildir, ${signature.slice(0, 72)}…`);
  console.log(`python3-dkim, with the demo's DNS: ${verified.ok ? "signature verifies" : `FAILED: ${verified.output}`}`);
  if (!verified.ok) throw new Error("the DKIM signature did not verify");
  if ((await provision()) !== 0) throw new Error("the third run failed");
  function provisionCaptured(): Promise<{ status: number | null; output: string }> {
    const args = ["bin/provision.js", "run", "playbooks/mail.ts", "--host", host!.address, "--user", "root"];
    args.push("--identity", fleet.privateKeyPath, "--known-hosts", fleet.knownHostsPath, "--ssh-config", "/dev/null");
    args.push("--vars-file", join(dir, "mail.yml"));
    console.log(`\n$ provision run playbooks/mail.ts --host ${host!.address}`);
    return run("node", args, { env: { ...process.env, CI: "1", DEMO_SASL_PASSWORD: password } });
  }
  const check = await provision("--check");
  if (check !== 0) throw new Error(`--check exited ${check}`);
  console.log("\ndemo: converged, verified, idempotent.");
} catch (error) {
  console.error(`demo: ${(error as Error).message}`);
  exitCode = 1;
} finally {
  await dns.close();
  await fleet.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);

function run(
  command: string,
  args: string[],
  options: { stdio?: "inherit"; env?: NodeJS.ProcessEnv } = {},
): Promise<{ status: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, {
      cwd: repo,
      stdio: options.stdio === "inherit" ? "inherit" : ["ignore", "pipe", "pipe"],
      env: options.env ?? process.env,
    });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("error", (error) => done({ status: null, output: String(error) }));
    child.once("close", (status) => done({ status, output }));
  });
}
