/**
 * Fleets on 10 real test hosts: an Ansible INI inventory with per-group vars, a failed canary that
 * stops the rollout before any real host is touched (checked on the hosts), rolling batches, a
 * converged fleet, exactly the drifted hosts named, an unreachable host and a failing host that
 * do not stop the others, and shards that split the hosts between two runs. The playbook only
 * writes under /srv/provision-fleet, which no other test file reads.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRunArgs } from "../../src/cli/args.ts";
import { runCommand } from "../../src/cli/run-command.ts";
import { hostExec } from "../hosts/harness.ts";
import { testFleet, type FleetHost } from "./support/fleet.ts";
import { REPO, fleetSshArgs } from "./support/cli.ts";
import { CaptureStream } from "../support/capture-stream.ts";

const FIRST = 0;
const COUNT = 10;
let dir: string;
let playbook: string;
let inventory: string;
let hosts: FleetHost[];

interface Report {
  exitCode: number;
  result: string;
  hosts: { host: string; status: string; error?: string; steps: { name: string; status: string; error?: string }[] }[];
  rollout: { batches: { hosts: string[]; status: string }[]; stopped?: { reason: string } };
}

async function provision(...extra: string[]): Promise<Report> {
  const stdout = new CaptureStream();
  const stderr = new CaptureStream();
  const argv = [playbook, "-i", inventory, "--json", ...fleetSshArgs({ sshConfig: join(dir, "ssh_config") }), ...extra];
  const code = await runCommand(parseRunArgs(argv), { stdout: stdout as never, stderr: stderr as never });
  const report = JSON.parse(stdout.text) as Report;
  expect(report.exitCode, stderr.text).toBe(code);
  return report;
}

beforeAll(async () => {
  hosts = testFleet().hosts.slice(FIRST, FIRST + COUNT);
  if (hosts.length < COUNT) throw new Error(`fleet tests need ${FIRST + COUNT} test hosts (PROVISION_TEST_HOSTS)`);
  dir = await mkdtemp(join(tmpdir(), "provision-fleet-it-"));
  await writeFile(join(dir, "ssh_config"), "");
  playbook = join(dir, "site.ts");
  await writeFile(
    playbook,
    `import { definePlaybook, directory, file, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "fleet",
  vars: z.object({ role: z.string(), site: z.string(), dir: z.string().default("/srv/provision-fleet") }),
  steps: ({ vars, host }) => [
    directory({ path: vars.dir, mode: "0755" }),
    file({ path: vars.dir + "/role", content: vars.role + " " + vars.site + " " + host.name + "\\n", mode: "0644" }),
  ],
});
`,
  );
  const lines = hosts.map((h, i) => `fleet${FIRST + i} ansible_host=${h.address} ansible_port=${h.port}${i === 0 ? " role=primary" : ""}`);
  inventory = join(dir, "hosts.ini");
  await writeFile(
    inventory,
    [
      "[canary]",
      "broken ansible_host=127.0.0.1 ansible_port=1",
      "[fleet]",
      ...lines,
      "[failing]",
      // /proc refuses new directories: this host's playbook fails at its first step.
      `failing1 ansible_host=${hosts[1]?.address} dir=/proc/provision-fleet`,
      "[fleet:vars]",
      "role=member",
      "[all:vars]",
      "ansible_user=root",
      "role=none",
      "site=test",
      "",
    ].join("\n"),
  );
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("fleet rollout on real hosts", () => {
  const name = (i: number) => `fleet${FIRST + i}`;
  const onHost = async (i: number, command: string) => (await hostExec(hosts[i] as FleetHost, command)).exitCode;

  it("a failed canary stops the rollout before any real host is started", async () => {
    const report = await provision("--group", "canary", "--group", "fleet", "--batch", "1,50%");
    expect(report.exitCode).toBe(1);
    expect(report.hosts[0]).toMatchObject({ host: "broken", status: "unreachable" });
    expect(report.hosts[0]?.error).toMatch(/127\.0\.0\.1|broken/);
    expect(report.hosts.slice(1).map((h) => h.status)).toEqual(hosts.map(() => "not-started"));
    expect(report.rollout.stopped?.reason).toBe("every host in batch 1 failed");
    // Verified on the hosts themselves: nothing was created anywhere.
    for (let i = 0; i < hosts.length; i += 1) expect(await onHost(i, "test -e /srv/provision-fleet")).not.toBe(0);
  });

  it("rolls out in batches with each host's inventory vars, then the converged fleet checks clean", async () => {
    const report = await provision("--group", "fleet", "--batch", "1,50%", "--concurrency", "4");
    expect(report.exitCode).toBe(0);
    expect(report.hosts.map((h) => h.status)).toEqual(hosts.map(() => "changed"));
    expect(report.rollout.batches[0]?.hosts).toEqual([name(0)]);
    expect(report.rollout.batches.every((b) => b.status === "completed")).toBe(true);
    expect((await hostExec(hosts[0] as FleetHost, "cat /srv/provision-fleet/role")).stdout).toBe(`primary test ${name(0)}\n`);
    expect((await hostExec(hosts[3] as FleetHost, "cat /srv/provision-fleet/role")).stdout).toBe(`member test ${name(3)}\n`);
    const check = await provision("--group", "fleet", "--check");
    expect(check.exitCode).toBe(0);
    expect(check.hosts.map((h) => h.status)).toEqual(hosts.map(() => "ok"));
  });

  it("names exactly the two drifted hosts", async () => {
    await onHost(2, "echo tampered > /srv/provision-fleet/role");
    await onHost(7, "chmod 0600 /srv/provision-fleet/role");
    const check = await provision("--group", "fleet", "--check");
    expect(check.exitCode).toBe(2);
    expect(check.hosts.filter((h) => h.status === "drift").map((h) => h.host)).toEqual([name(2), name(7)]);
    expect(check.hosts.filter((h) => h.status !== "drift").every((h) => h.status === "ok")).toBe(true);
  });

  it("an unreachable host and a failing host do not stop the others; both reasons are reported", async () => {
    const report = await provision("--group", "canary", "--group", "fleet", "--group", "failing");
    expect(report.exitCode).toBe(1);
    const byName = new Map(report.hosts.map((h) => [h.host, h]));
    expect(byName.get("broken")?.status).toBe("unreachable");
    expect(byName.get("broken")?.error).toBeTruthy();
    const failing = byName.get("failing1");
    expect(failing?.status).toBe("failed");
    expect(failing?.steps.find((s) => s.status === "failed")?.error).toMatch(/provision-fleet/);
    // The rest converged (2 and 7 were repaired).
    const rest = report.hosts.filter((h) => h.host.startsWith("fleet"));
    expect(rest).toHaveLength(COUNT);
    expect(rest.filter((h) => h.status === "changed").map((h) => h.host)).toEqual([name(2), name(7)]);
    expect(rest.every((h) => h.status === "changed" || h.status === "ok")).toBe(true);
    expect((await provision("--group", "fleet", "--check")).exitCode).toBe(0);
  });

  it("shards split the hosts between runs, each exactly once", async () => {
    const one = await provision("--group", "fleet", "--check", "--shard", "1/2");
    const two = await provision("--group", "fleet", "--check", "--shard", "2/2");
    const names = [...one.hosts, ...two.hosts].map((h) => h.host).sort();
    expect(names).toEqual(hosts.map((_, i) => name(i)).sort());
    expect(one.hosts.length).toBeGreaterThan(0);
    expect(two.hosts.length).toBeGreaterThan(0);
  });
});
