/**
 * Hosts that are not what they should be, through the CLI — each a bounded-time, named failure:
 * a changed host key is refused before any command (sshd logs no accepted login); an address
 * where no host runs (on the fleet's own subnet, .200); a host whose sshd is frozen (SIGSTOP:
 * TCP connects, no SSH banner); a command beyond --timeout; and a host that "reboots" mid-rollout
 * (its sessions killed and port 22 dropped) while another host runs: the run ends in bounded time
 * with that host failed and the other ok, and a later run converges it.
 * Hosts: fleet indices 10 and 11. (The spare host is not used: hosts.test.ts kills it, in an order
 * not known here; a real netns kill is covered there.)
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testFleet, testHost } from "./support/fleet.ts";
import { parseReport, provisionCli, REPO, runOnTestHost, fleetCliArgs } from "./support/cli.ts";
import { fingerprint, onHost } from "./support/reliability.ts";
import { writeSlowPlaybook } from "./support/slow-playbook.ts";

const host = testHost(11);
const other = testHost(10);
let dir: string;
let slow: string;
let sleepy: string;

const accepted = async () => Number((await onHost(host, "journalctl -u ssh --no-pager -o cat | grep -c '^Accepted ' || :")).trim() || "0");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-hosts-it-"));
  slow = await writeSlowPlaybook(dir);
  sleepy = join(dir, "sleepy.ts");
  await writeFile(
    sleepy,
    `import { definePlaybook, sh, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({ name: "sleepy", vars: z.object({}), steps: () => [{
  kind: "sleepy", name: "sleepy read",
  read: () => ({ command: sh\`sleep 30; echo late\`, parse: (r) => r.stdout.toString() }),
  diff: () => null,
}] });
`,
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sshEd25519Blob(): string {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
  const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  const type = Buffer.from("ssh-ed25519");
  return Buffer.concat([u32(type.length), type, u32(raw.length), raw]).toString("base64");
}

describe("hosts that fail, fail named and bounded", () => {
  it("a changed host key is refused before any command runs", async () => {
    const knownHosts = join(dir, "known_hosts_changed");
    await writeFile(knownHosts, `${host.address} ssh-ed25519 ${sshEd25519Blob()}\n`);
    const before = await fingerprint(host);
    const logins = await accepted();
    const started = Date.now();
    const result = await provisionCli([
      "run",
      slow,
      ...fleetCliArgs(host.address, { knownHosts }),
      "--var",
      "marker=/var/tmp/never",
      "--accept-new-host-keys",
    ]);
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(result.stdout + result.stderr).toContain(host.address);
    expect(result.stdout + result.stderr).toMatch(/CHANGED/);
    expect(await accepted()).toBe(logins);
    expect(await fingerprint(host)).toBe(before);
    expect((await onHost(host, "ls /var/tmp/never* 2>/dev/null || :")).trim()).toBe("");
  }, 40_000);

  it("an address where no host runs (this fleet's subnet, .200): unreachable, named, bounded", async () => {
    const address = testFleet().gateway.replace(/\.1$/, ".200");
    expect(address).toMatch(/^10\.213\.\d\.200$/);
    const started = Date.now();
    const result = await runOnTestHost(slow, address, ["--var", "marker=/var/tmp/never", "--json"]);
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(40_000);
    const report = parseReport(result).hosts[0];
    expect(report?.status).toBe("unreachable");
    expect(report?.error).toContain(address);
  }, 60_000);

  it("a frozen sshd (SIGSTOP): the handshake times out, named, bounded", async () => {
    const pid = (await onHost(host, "cat /run/sshd.pid")).trim();
    expect(pid).toMatch(/^\d+$/);
    await onHost(host, `kill -STOP ${pid}`);
    try {
      const started = Date.now();
      const result = await runOnTestHost(slow, host.address, ["--var", "marker=/var/tmp/never", "--json"]);
      expect(result.code).toBe(1);
      expect(Date.now() - started).toBeLessThan(40_000);
      const report = parseReport(result).hosts[0];
      expect(report?.status).toBe("unreachable");
      expect(report?.error).toContain(host.address);
      expect(report?.error).toMatch(/handshake|timed out/);
    } finally {
      await onHost(host, `kill -CONT ${pid}`);
    }
  }, 60_000);

  // Stopped with its children: the read's `sleep 30` must not outlive the run. sshd here ignores
  // SSH signal requests, so it is the host's timeout(1) backstop (src/transport/ssh/host-timeout.ts)
  // that KILLs the command's process group, a second after our timeout.
  it("a command beyond --timeout fails the host, named, bounded, and the command is stopped with its children", async () => {
    const started = Date.now();
    const result = await runOnTestHost(sleepy, host.address, ["--timeout", "2", "--json"]);
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(25_000);
    const report = parseReport(result).hosts[0];
    expect(report?.status).toBe("failed");
    expect(report?.error).toContain(host.address);
    expect(report?.error).toMatch(/timed out after 2000 ms/);
    const deadline = Date.now() + 5_000;
    let left = "";
    for (let i = 0; i < 50 && Date.now() < deadline; i += 1) {
      left = (await onHost(host, "ps -eo args | grep -c '^sleep 30' || :")).trim();
      if (left === "0") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(left).toBe("0");
  }, 40_000);

  it("a host that goes down mid-rollout fails alone, in bounded time; the fleet finishes", async () => {
    const marker = "/var/tmp/provision-reliability-reboot";
    await onHost(host, `rm -f ${marker}*`);
    await onHost(other, `rm -f ${marker}*`);
    const started = Date.now();
    const running = provisionCli([
      "run",
      slow,
      ...fleetCliArgs([other.address, host.address]),
      "--var",
      `marker=${marker}`,
      "--var",
      "seconds=6",
      "--timeout",
      "20",
      "--json",
    ]);
    const drop = "INPUT -p tcp --dport 22 -j DROP";
    try {
      const deadline = Date.now() + 20_000;
      for (let i = 0; i < 200 && Date.now() < deadline; i += 1) {
        if ((await onHost(host, `test -f ${marker}.log && echo yes || :`)).includes("yes")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // "Reboot": new connections dropped, and the sshd sessions (children of the listener) killed by pid.
      await onHost(host, `iptables -I ${drop}; for p in $(ps -o pid= --ppid "$(cat /run/sshd.pid)"); do kill -KILL "$p"; done`);
      const result = await running;
      expect(Date.now() - started).toBeLessThan(90_000);
      expect(result.code).toBe(1);
      const reports = parseReport(result).hosts;
      const down = reports.find((r) => r.host === host.address);
      const up = reports.find((r) => r.host === other.address);
      expect(up?.status).toBe("changed");
      expect(["failed", "unreachable"]).toContain(down?.status);
      expect(JSON.stringify(down)).toContain(host.address);
      expect(JSON.stringify(down)).toMatch(/lost|closed/);
    } finally {
      await onHost(host, `iptables -D ${drop} 2>/dev/null || :`);
    }
    // Back up: the next run converges it (the dead run's lock is stale and broken).
    const again = await runOnTestHost(slow, host.address, ["--var", `marker=${marker}`, "--var", "seconds=0", "--json"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(await onHost(host, `cat ${marker}`)).toBe("done\n");
  }, 150_000);
});
