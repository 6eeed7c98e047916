/**
 * bin/provision.js turns on Node's compile cache (Node ≥ 22.1: V8's compiled code of the engine,
 * ssh2 and the playbook kept on disk) under provision's cache directory. Runs with the Node named
 * by PROVISION_TEST_NODE (.ci/run installs the current LTS for it), or this one if it is ≥ 22;
 * Node 20 has no compile cache, and the CLI runs there without one.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = join(import.meta.dirname, "../../..");
const major = (version: string) => Number(/^v(\d+)/.exec(version)?.[1] ?? 0);
const candidate = process.env.PROVISION_TEST_NODE ?? (major(process.version) >= 22 ? process.execPath : undefined);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-ncc-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function filesUnder(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch {
    return [];
  }
}

describe.skipIf(candidate === undefined)("the compile cache, on a Node that has one", () => {
  it("is filled by a start of the CLI, under PROVISION_CACHE_DIR, and used by the next start", async () => {
    const node = candidate as string;
    expect(major(execFileSync(node, ["--version"], { encoding: "utf8" }))).toBeGreaterThanOrEqual(22);
    const cache = join(dir, "cache");
    const env: NodeJS.ProcessEnv = { ...process.env, PROVISION_CACHE_DIR: cache, NODE_DEBUG_NATIVE: "COMPILE_CACHE" };
    delete env.NODE_DISABLE_COMPILE_CACHE;
    const run = () => spawnSync(node, [join(REPO, "bin/provision.js"), "--version"], { env, encoding: "utf8" });
    const first = run();
    expect(first.stdout).toMatch(/^provision /);
    expect((await filesUnder(join(cache, "node-compile-cache"))).length).toBeGreaterThan(0);
    // Node's own debug output (stderr) says which modules' compiled code it took from the cache.
    const second = run();
    expect(second.stdout).toMatch(/^provision /);
    expect(second.stderr).toMatch(/V8 code cache for \w+ file:\/\/\S+ was accepted/);
  });
});

describe("the CLI without a compile cache (this Node, whatever its version)", () => {
  it("starts with NODE_DISABLE_COMPILE_CACHE=1 and writes none", async () => {
    const cache = join(dir, "off");
    const env = { ...process.env, PROVISION_CACHE_DIR: cache, NODE_DISABLE_COMPILE_CACHE: "1" };
    expect(execFileSync(process.execPath, [join(REPO, "bin/provision.js"), "--version"], { env, encoding: "utf8" })).toMatch(/^provision /);
    expect(await filesUnder(join(cache, "node-compile-cache"))).toEqual([]);
  });
});
