/**
 * `provision run` through runCommand (local transport, in a temp dir): the issue-11 cases that
 * are about a whole run — an empty shard, repeated -i, a secret or an unknown name in --var.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shardOf } from "../../../src/run/shard.ts";
import { runInProcess } from "../../support/run-in-process.ts";

const REPO = resolve(import.meta.dirname, "../../..");
let dir: string;
let playbook: string;

const provision = runInProcess;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-run-command-"));
  playbook = join(dir, "site.ts");
  await writeFile(
    playbook,
    `import { definePlaybook, directory, secretVar, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "site",
  vars: z.object({ root: z.string(), tier: z.string().default("web"), strict: z.boolean().default(true), token: secretVar().optional() }),
  steps: ({ vars }) => [directory({ path: vars.root + "/" + vars.tier + "-" + String(vars.strict), mode: "0750" })],
});
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("--shard that holds none of the selected hosts", () => {
  const empty = shardOf("localhost", 2) === 1 ? "2/2" : "1/2";

  it("says so and exits 1 (it used to print an empty summary and exit 0)", async () => {
    const result = await provision([playbook, "--host", "localhost", "--var", `root=${dir}`, "--shard", empty, "--check"]);
    expect(result.error).toBeUndefined();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`--shard ${empty} holds none of the 1 selected host: nothing was run; --allow-empty makes this exit 0`);
  });

  it("exits 0 with --allow-empty; --json still prints one report", async () => {
    const result = await provision([
      playbook,
      "--host",
      "localhost",
      "--var",
      `root=${dir}`,
      "--shard",
      empty,
      "--check",
      "--json",
      "--allow-empty",
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ exitCode: 0, result: "ok", hosts: [] });
  });
});

describe("repeated -i", () => {
  it("merges the inventories in order, as Ansible does: the later file's vars win, its groups exist", async () => {
    const first = join(dir, "first.ini");
    const second = join(dir, "second.yml");
    await writeFile(first, `[local]\nlocalhost root=${dir}\n\n[local:vars]\ntier=web\n`);
    await writeFile(second, "all:\n  children:\n    extra:\n      hosts:\n        localhost:\n    local:\n      vars:\n        tier: db\n");
    const result = await provision([playbook, "-i", first, "-i", second, "--group", "extra", "--check", "--json"]);
    expect(result.error).toBeUndefined();
    const report = JSON.parse(result.stdout);
    expect(report.hosts.map((h: { host: string }) => h.host)).toEqual(["localhost"]);
    expect(report.hosts[0].steps[0].name).toContain(join(dir, "db-true"));
  });
});

describe("--var", () => {
  it("sets a boolean (it used to fail: expected boolean, received string)", async () => {
    const result = await provision([playbook, "--host", "localhost", "--var", `root=${dir}`, "--var", "strict=false", "--check", "--json"]);
    expect(result.error).toBeUndefined();
    expect(JSON.parse(result.stdout).hosts[0].steps[0].name).toContain("web-false");
  });

  it("warns when it holds a secret, naming the var and the safe ways", async () => {
    const result = await provision([
      playbook,
      "--host",
      "localhost",
      "--var",
      `root=${dir}`,
      "--var",
      "token=Tok-3141-secret",
      "--check",
      "--json",
    ]);
    expect(result.error).toBeUndefined();
    expect(result.stderr).toContain("warning: --var token puts a secret on the command line, where ps shows it");
    expect(result.stderr).toContain("{ fromEnv: NAME }");
    expect(result.stderr + result.stdout).not.toContain("Tok-3141-secret");
  });

  it("refuses an unknown name before anything runs", async () => {
    const result = await provision([playbook, "--host", "localhost", "--var", `root=${dir}`, "--var", "teir=db", "--check"]);
    expect(result.error?.message).toContain("unknown vars in --var\n  teir: not a var of this playbook (did you mean tier?)");
    expect(result.stdout).toBe("");
  });
});

describe("-v", () => {
  it("prints every command sent, masked, with its duration and exit code", async () => {
    const quiet = await provision([playbook, "--host", "localhost", "--var", `root=${dir}`, "--check", "--json"]);
    expect(quiet.stderr).toBe("");
    process.env.PROVISION_RUN_COMMAND_TOKEN = "Tok-v-2718-secret";
    // A plan cache of its own: the round trips counted below do not depend on other tests' runs.
    const previousCache = process.env.PROVISION_CACHE_DIR;
    process.env.PROVISION_CACHE_DIR = await mkdtemp(join(dir, "cache-"));
    try {
      const args = [
        playbook,
        "--host",
        "localhost",
        "--var",
        `root=${dir}`,
        "--var",
        "token={fromEnv: PROVISION_RUN_COMMAND_TOKEN}",
        "--check",
        "--json",
        "-v",
      ];
      const result = await provision(args);
      expect(result.error).toBeUndefined();
      const lines = result.stderr.split("\n").filter((line) => line.startsWith("provision: localhost: "));
      expect(lines.length).toBe(2); // facts, then the one batched read (no plan cached for these vars yet)
      for (const line of lines) expect(line).toMatch(/^provision: localhost: exit 0 in \d+\.\d{3} s:/);
      expect(result.stderr).toContain('echo "hostname=$(uname -n)"');
      expect(result.stderr).not.toContain("Tok-v-2718-secret");
      expect(JSON.parse(result.stdout).hosts[0].roundTrips).toBe(2);

      // The same run again: the facts of the last one planned the reads, sent with the facts script.
      const again = await provision(args);
      const againLines = again.stderr.split("\n").filter((line) => line.startsWith("provision: localhost: "));
      expect(againLines.length).toBe(1);
      expect(again.stderr).toContain('echo "hostname=$(uname -n)"');
      expect(again.stderr).not.toContain("Tok-v-2718-secret");
      const [before, after] = [result, again].map((r) => JSON.parse(r.stdout).hosts[0]);
      expect(after.roundTrips).toBe(1);
      expect(after.counts).toEqual(before.counts); // the same answer: the directory would be created
      expect(after.steps.map((s: { status: string }) => s.status)).toEqual(["would-change"]);
    } finally {
      delete process.env.PROVISION_RUN_COMMAND_TOKEN;
      if (previousCache === undefined) delete process.env.PROVISION_CACHE_DIR;
      else process.env.PROVISION_CACHE_DIR = previousCache;
    }
  });
});

describe("a prototype key in an inventory's vars", () => {
  it("is refused naming the host, before anything runs", async () => {
    const inventory = join(dir, "proto.yml");
    await writeFile(inventory, `all:\n  hosts:\n    localhost:\n      root: ${dir}\n      constructor:\n        tier: evil\n`);
    const result = await provision([playbook, "-i", inventory, "--group", "all", "--check"]);
    expect(result.error?.message).toMatch(/proto\.yml:\d+: host localhost: the key "constructor" is not allowed in vars$/); // refused where it was written (file:line)
    expect(result.stdout).toBe("");
  });
});
