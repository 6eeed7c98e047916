/**
 * The test hosts themselves: what every other integration test relies on (SSH with the test key
 * and the hosts' real keys, sudo, per-host Postfix names, systemd, isolated iptables, no way out
 * but the apt proxy), and that killing a host leaves nothing of it behind. Full-fleet teardown is
 * verified by the global setup's teardown (test/hosts/global-setup.ts).
 */
import fs from "node:fs";
import { execFile } from "node:child_process";
import { describe, expect, inject, it } from "vitest";
import { hostExec, stopHost, type TestHost } from "../hosts/harness.ts";
import { execInHost } from "../hosts/host.ts";
import type {} from "../hosts/global-setup.ts"; // declares inject("fleet") and inject("spareHost")

// null when the global setup started no hosts (not root, or PROVISION_TEST_HOSTS=0).
const fleet = inject("fleet");
const spare = inject("spareHost");

interface Result {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The system OpenSSH client, strict about host keys: only the fleet's known_hosts is trusted. */
function ssh(host: TestHost, user: string, command: string): Promise<Result> {
  const f = fleet!;
  const args = [
    "-i",
    f.privateKeyPath,
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${f.knownHostsPath}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "IdentitiesOnly=yes",
    "-p",
    String(host.port),
    `${user}@${host.address}`,
    command,
  ];
  return new Promise((resolve) => {
    execFile("ssh", args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 255) : 0;
      resolve({ exitCode: code, stdout, stderr });
    });
  });
}

function run(cmd: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ exitCode: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(!fleet)("test hosts", () => {
  const hosts = fleet?.hosts ?? [];

  it("known_hosts holds every host's real key", () => {
    const lines = fs.readFileSync(fleet!.knownHostsPath, "utf8").trim().split("\n");
    for (const h of hosts) {
      expect(h.hostKeyLine).toMatch(new RegExp(`^${h.address.replace(/\./g, "\\.")} ssh-ed25519 \\S+$`));
      expect(lines).toContain(h.hostKeyLine);
    }
  });

  it("every host answers SSH as root with the test key and the strict host key", async () => {
    const results = await Promise.all(hosts.map((h) => ssh(h, "root", "hostname")));
    results.forEach((r, i) => {
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
      expect(r.stdout.trim()).toBe(hosts[i]!.name);
    });
  });

  it("deploy has passwordless sudo; deploy2's sudo needs its password", async () => {
    const h = hosts[0]!;
    const deploy = await Promise.all(hosts.map((x) => ssh(x, "deploy", "sudo -n true && id -un")));
    for (const r of deploy) expect([r.exitCode, r.stdout.trim()]).toEqual([0, "deploy"]);
    expect((await ssh(h, "deploy2", "sudo -n true")).exitCode).not.toBe(0);
    const withPassword = await ssh(h, "deploy2", "echo test-sudo-pass | sudo -S -p '' id -u");
    expect([withPassword.exitCode, withPassword.stdout.trim()]).toEqual([0, "0"]);
  });

  // Checked on the spare host: other test files reconfigure Postfix on the fleet's hosts.
  it.skipIf(!spare)("Postfix's myhostname is the host's own name, and postfix is active", async () => {
    const r = await hostExec(spare!, "postconf -h myhostname; systemctl is-active postfix@-.service");
    expect(r.stdout.trim().split("\n")).toEqual([spare!.name, "active"]);
  });

  it("systemd is PID 1 and the system is running", async () => {
    for (const h of hosts) {
      const r = await hostExec(h, "cat /proc/1/comm; systemctl is-system-running");
      const [comm, state] = r.stdout.trim().split("\n");
      expect(comm).toBe("systemd");
      expect(["running", "degraded"]).toContain(state);
    }
  });

  // Tests that change a host use the spare one: the fleet's hosts belong to other test files.
  it.skipIf(!spare)("iptables inside a host never touches the root namespace's rules", async () => {
    const h = spare!;
    const rootBefore = await run("iptables", ["-w", "-S"]);
    const rule = "INPUT -p tcp --dport 2525 -m comment --comment provision-hosts-test -j ACCEPT";
    const added = await hostExec(h, `iptables -w -A ${rule} && iptables -w -S INPUT`);
    expect(added.exitCode).toBe(0);
    expect(added.stdout).toContain("provision-hosts-test");
    const rootAfter = await run("iptables", ["-w", "-S"]);
    expect(rootAfter.stdout).toBe(rootBefore.stdout);
    expect(rootAfter.stdout).not.toContain("provision-hosts-test");
    expect((await hostExec(h, `iptables -w -D ${rule}`)).exitCode).toBe(0);
  });

  it("hosts route only to the test subnet (no default route)", async () => {
    for (const h of hosts) {
      const r = await hostExec(h, "ip -4 route show; echo --; ip -4 route show default");
      const [routes, def] = r.stdout.split("--\n");
      expect(def?.trim()).toBe("");
      expect(routes?.trim()).toMatch(/^10\.213\.0\.0\/24 dev eth0 proto kernel scope link src 10\.213\.0\.\d+$/);
    }
  });

  it("hosts reach each other over the bridge", async () => {
    if (hosts.length < 2) return;
    const [a, b] = hosts as [TestHost, TestHost];
    const r = await hostExec(a, `timeout 5 bash -c 'read -r line < /dev/tcp/${b.address}/22; echo "$line"'`);
    expect(r.stdout).toMatch(/^SSH-2\.0-OpenSSH/);
  });

  it.skipIf(!spare)("apt-get install works inside a host through the gateway proxy", { timeout: 240_000 }, async () => {
    const h = spare!;
    // hostExec's default 60 s bound is too short for update + install on a slow mirror.
    const r = await execInHost(
      h.name,
      "export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null && apt-get install -y -q hello >/dev/null && hello",
      { timeoutMs: 230_000 },
    );
    expect([r.exitCode, r.stdout.trim()], r.stderr).toEqual([0, "Hello, world!"]);
  });
});

describe.skipIf(!spare)("stopHost", () => {
  it("kills one host and leaves nothing of it behind", async () => {
    const h = spare!;
    expect((await hostExec(h, "true")).exitCode).toBe(0);
    await stopHost(h);
    const netns = await run("ip", ["netns", "list"]);
    expect(netns.stdout).not.toContain(`provh-${h.name}`);
    expect(fs.readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(`/hosts/${h.name}/`);
    expect(fs.existsSync(`/var/cache/provision-testhosts/hosts/${h.name}`)).toBe(false);
    await expect(hostExec(h, "true")).rejects.toThrow(/not running/);
    // The rest of the fleet is untouched.
    expect((await hostExec(fleet!.hosts[0]!, "true")).exitCode).toBe(0);
  });
});
