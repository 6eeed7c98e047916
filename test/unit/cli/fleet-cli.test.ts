/**
 * `provision run` with an inventory, through runCommand: localhost runs for real (local transport,
 * in a temp dir); the other hosts point at 127.0.0.1:1, where nothing listens, so they are
 * unreachable — which is what the stopping rules need.
 */
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRunArgs, UsageError } from "../../../src/cli/args.ts";
import { runInProcess } from "../../support/run-in-process.ts";

const REPO = resolve(import.meta.dirname, "../../..");
let dir: string;
let playbook: string;
let inventory: string;

const provision = runInProcess;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-fleet-"));
  playbook = join(dir, "site.ts");
  await writeFile(
    playbook,
    `import { definePlaybook, directory, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "site",
  vars: z.object({ root: z.string(), tier: z.string() }),
  steps: ({ vars }) => [directory({ path: vars.root + "/" + vars.tier, mode: "0750" })],
});
`,
  );
  inventory = join(dir, "hosts.ini");
  await writeFile(
    inventory,
    `[local]
localhost root=${join(dir, "local")}

[down]
down[1:3] ansible_host=127.0.0.1 ansible_port=1 root=/nonexistent

[all:vars]
tier=web
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const common = () => [playbook, "-i", inventory, "--ssh-config", join(dir, "no-ssh-config"), "--known-hosts", join(dir, "known_hosts")];

describe("provision run with an inventory", () => {
  it("runs a group, with the inventory's vars (group < host) validated by the playbook", async () => {
    const result = await provision([...common(), "--group", "local", "--check", "--json"]);
    expect(result.error).toBeUndefined();
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout);
    expect(report.hosts.map((h: { host: string }) => h.host)).toEqual(["localhost"]);
    expect(report.hosts[0].steps[0].name).toContain(join(dir, "local", "web"));
    expect(report.rollout).toEqual({
      selected: 1,
      concurrency: 20,
      batches: [{ index: 1, hosts: ["localhost"], failed: 0, status: "completed" }],
    });
  });

  it("--var beats the inventory", async () => {
    const result = await provision([...common(), "--host", "localhost", "--check", "--json", "--var", "tier=db"]);
    expect(JSON.parse(result.stdout).hosts[0].steps[0].name).toContain(join(dir, "local", "db"));
  });

  it("--fail-fast stops the rollout: the rest are not started, the reason is in the report, exit 1", async () => {
    const result = await provision([...common(), "--group", "all", "--check", "--json", "--fail-fast", "--concurrency", "1"]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.hosts.map((h: { host: string; status: string }) => `${h.host}:${h.status}`)).toEqual([
      "localhost:drift",
      "down1:unreachable",
      "down2:not-started",
      "down3:not-started",
    ]);
    expect(report.rollout.stopped).toEqual({ reason: "--fail-fast: down1 unreachable", batch: 1 });
    expect(report.hosts[2].error).toBe("not started: --fail-fast: down1 unreachable");
    expect(report.result).toBe("failed");
  });

  it("a failed canary batch stops the rollout; the summary says why for each host", async () => {
    const result = await provision([...common(), "--limit", "down*", "--check", "--batch", "1,100%"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/down1\s+unreachable .*— /);
    expect(result.stdout).toMatch(/down2\s+not-started .*— not started: every host in batch 1 failed/);
    expect(result.stdout).toContain("total: 3 hosts — 1 unreachable, 2 not-started");
    expect(result.stdout).toContain("rollout stopped: every host in batch 1 failed");
  });

  it("validates every host's vars before connecting anywhere, naming the host and field", async () => {
    const bad = join(dir, "bad.ini");
    await writeFile(bad, `localhost root=${join(dir, "never")}\nnoroot ansible_host=127.0.0.1\n[all:vars]\ntier=web\n`);
    const result = await provision([playbook, "-i", bad, "--group", "all"]);
    expect(result.error?.message).toMatch(/^playbook "site" \(host noroot\): invalid vars\n\s+root: /);
    await expect(stat(join(dir, "never"))).rejects.toThrow();
  });

  it("errors name what selected nothing", async () => {
    expect((await provision([...common(), "--limit", "web*"])).error?.message).toBe("--limit web* selects no host (web* matched nothing)");
    expect((await provision([...common(), "--group", "web"])).error?.message).toMatch(
      /^--group web: no such group in .*hosts\.ini \(groups: all, ungrouped, local, down\)/,
    );
  });

  it("warns about a --limit term that matched nothing", async () => {
    const result = await provision([...common(), "--limit", "local,nope", "--check"]);
    expect(result.stderr).toContain('provision: warning: --limit: "nope" matches no host or group');
  });
});

describe("fleet flags", () => {
  it("parses them", () => {
    const args = parseRunArgs([
      "p.ts",
      "-i",
      "inv",
      "--group",
      "web",
      "--group",
      "db",
      "--limit",
      "!db3",
      "--batch",
      "1,10%,100%",
      "--max-fail",
      "10%",
      "--shard",
      "2/4",
      "--concurrency",
      "50",
    ]);
    expect(args).toMatchObject({
      inventories: ["inv"],
      groups: ["web", "db"],
      limit: "!db3",
      batches: [{ count: 1 }, { percent: 10 }, { percent: 100 }],
      maxFail: { percent: 10 },
      failFast: false,
      shard: { index: 2, count: 4 },
      concurrency: 50,
    });
  });

  it("rejects bad values as usage errors", () => {
    expect(() => parseRunArgs(["p.ts", "--host", "a", "--batch", "x"])).toThrow(UsageError);
    expect(() => parseRunArgs(["p.ts", "--host", "a", "--max-fail", "lots"])).toThrow(/--max-fail lots/);
    expect(() => parseRunArgs(["p.ts", "--host", "a", "--shard", "3/2"])).toThrow(/--shard 3\/2/);
    expect(() => parseRunArgs(["p.ts", "--group", "web"])).toThrow("--group needs an inventory: give --inventory FILE");
    expect(() => parseRunArgs(["p.ts", "-i", "inv"])).toThrow(/no host selected: .*--group all for the whole inventory/);
  });
});
