/**
 * The main job, end to end, on this machine: start a fresh Debian 12 test host (a network
 * namespace with systemd, sshd, Postfix; see test/hosts/), provision the mail server on it with
 * playbooks/mail.ts over SSH, prove SMTP AUTH with CRAM-MD5 using Python's smtplib (not our code),
 * show that a second run changes nothing and --check finds no drift, then tear the host down.
 *
 *   sudo npm run demo          (root: namespaces; the first run builds the host image, ~2 min)
 */
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// The demo's fleet never collides with a test run's (instance 0) or a benchmark's.
process.env.PROVISION_TESTHOSTS_INSTANCE ??= "8";
const { startHosts } = await import("../test/hosts/harness.ts");
const { pythonSmtpLogin } = await import("../test/support/python-smtp-login.ts");

if (process.getuid?.() !== 0) {
  console.error("demo: run as root (sudo npm run demo): test hosts are network namespaces");
  process.exit(1);
}

const repo = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "provision-demo-"));
const password = randomBytes(12).toString("base64url");
const hostname = "mail.demo.test";
writeFileSync(
  join(dir, "mail.yml"),
  `hostname: ${hostname}\nusers:\n  - name: alice\n    password: { fromEnv: DEMO_SASL_PASSWORD }\n`,
);

console.log("demo: starting a fresh test host …");
const fleet = await startHosts({ count: 1, log: (m) => console.log(`  ${m}`) });
let exitCode = 0;
try {
  const host = fleet.hosts[0];
  if (!host) throw new Error("no host started");
  const provision = (...extra: string[]) => {
    const args = ["bin/provision.js", "run", "playbooks/mail.ts", "--host", host.address, "--user", "root"];
    args.push("--identity", fleet.privateKeyPath, "--known-hosts", fleet.knownHostsPath, "--ssh-config", "/dev/null");
    args.push("--vars-file", join(dir, "mail.yml"), ...extra);
    console.log(`\n$ provision run playbooks/mail.ts --host ${host.address} ${extra.join(" ")}`);
    return spawnSync("node", args, { cwd: repo, stdio: "inherit", env: { ...process.env, DEMO_SASL_PASSWORD: password } }).status;
  };
  if (provision() !== 0) throw new Error("the first run failed");
  const login = await pythonSmtpLogin({ host: host.address, port: 587, user: `alice@${hostname}`, password });
  console.log(`\nPython smtplib, AUTH CRAM-MD5 on ${host.address}:587 as alice@${hostname} → ${login.code} ${login.text}`);
  if (login.code !== 235) throw new Error("SMTP AUTH did not succeed");
  if (provision() !== 0) throw new Error("the second run failed");
  const check = provision("--check");
  if (check !== 0) throw new Error(`--check exited ${check}`);
  console.log("\ndemo: converged, verified, idempotent.");
} catch (error) {
  console.error(`demo: ${(error as Error).message}`);
  exitCode = 1;
} finally {
  await fleet.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
