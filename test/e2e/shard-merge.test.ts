/**
 * Beyond one controller: a rollout split into shards that run as parallel jobs of a scheduler — here
 * as a Kubernetes Indexed Job runs them: N processes at once, each given JOB_COMPLETION_INDEX
 * (0-based) and running `provision run … --shard $((JOB_COMPLETION_INDEX + 1))/N --json` — and
 * `provision report merge` combining their reports into one report and one exit code. The playbook
 * runs on localhost (one host, so it lands in one shard; the others report no hosts, as a shard of
 * a small fleet may). A job that never reported makes the merge fail, naming the shard.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "../..");
const BIN = join(REPO, "bin/provision.js");
let dir: string;

function sh(script: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      "sh",
      ["-c", script],
      { cwd: dir, timeout: 60_000, env: { ...process.env, CI: "1", PROVISION_CACHE_DIR: join(dir, "cache"), BIN, ...env } },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** The Indexed Job: `count` pods at once, each with its JOB_COMPLETION_INDEX. */
async function indexedJob(playbook: string, count: number, out: string): Promise<number[]> {
  const pod = `exec node "$BIN" run ${playbook} --host localhost --check --json --allow-empty --shard "$((JOB_COMPLETION_INDEX + 1))/${count}" > "${out}/shard-$JOB_COMPLETION_INDEX.json"`;
  const pods = await Promise.all(Array.from({ length: count }, (_, index) => sh(pod, { JOB_COMPLETION_INDEX: String(index) })));
  return pods.map((p) => p.code);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-shards-"));
  await writeFile(join(dir, "package.json"), `{"type":"module"}\n`);
  const probe = (drift: boolean) => `import { definePlaybook, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({ name: "probe", vars: z.object({}), steps: () => [
  { kind: "probe", name: "probe", read: () => ({ local: async () => 1 }), diff: () => ${drift ? `({ summary: "would set x" })` : "null"} },
] });
`;
  await writeFile(join(dir, "converged.ts"), probe(false));
  await writeFile(join(dir, "drifted.ts"), probe(true));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("shards as parallel jobs, merged", () => {
  it("a converged rollout: one report of every shard's hosts, exit 0", async () => {
    await sh("mkdir ok");
    expect(await indexedJob("converged.ts", 3, "ok")).toEqual([0, 0, 0]);
    const merged = await sh(`node "$BIN" report merge ok/shard-*.json`);
    expect(merged.code, merged.stderr).toBe(0);
    const report = JSON.parse(merged.stdout);
    expect(report.hosts.map((h: { host: string }) => h.host)).toEqual(["localhost"]);
    expect(report.merged.shards).toEqual({ count: 3, reported: [1, 2, 3], missingShards: [] });
    expect(merged.stderr).toMatch(/merged 3 report\(s\), shards 1,2,3 of 3: 1 hosts, 0 failed, 0 drift → exit 0/);
  });

  it("drift in one shard is the merged exit code (2)", async () => {
    await sh("mkdir drift");
    const codes = await indexedJob("drifted.ts", 3, "drift");
    expect([...codes].sort()).toEqual([0, 0, 2]);
    const merged = await sh(`node "$BIN" report merge drift/shard-*.json`);
    expect(merged.code, merged.stderr).toBe(2);
    expect(JSON.parse(merged.stdout).result).toBe("drift");
  });

  it("a shard that never reported: exit 1, naming it", async () => {
    const files = (await readdir(join(dir, "ok"))).filter((f) => f !== "shard-1.json").map((f) => `ok/${f}`);
    const merged = await sh(`node "$BIN" report merge ${files.join(" ")}`);
    expect(merged.code).toBe(1);
    expect(JSON.parse(merged.stdout).merged.shards.missingShards).toEqual([2]);
    expect(merged.stderr).toMatch(/MISSING: 2/);
  });

  it("a file that is not a report (a job cut short) is refused, naming it", async () => {
    await writeFile(join(dir, "cut.json"), `{"playbook": "probe", "mode": "check", "hos`);
    const merged = await sh(`node "$BIN" report merge ok/shard-0.json cut.json`);
    expect(merged.code).toBe(1);
    expect(merged.stderr).toMatch(/cut\.json: not JSON .*cut short/);
    expect(merged.stdout).toBe("");
  });
});
