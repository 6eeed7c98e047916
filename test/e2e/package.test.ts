/**
 * provision as a user gets it from a registry: `npm pack` (whose `prepack` builds the engine) →
 * `npm install` of the tarball into a fresh project → a playbook there importing `provision` runs
 * on the built engine, its playbook compiled once into the cache. The tarball carries what a run
 * needs and none of the tests, benchmarks or fixtures.
 *
 * The install is from the local tarball; its dependencies come from npm's cache
 * (--prefer-offline: the registry is asked only for what the cache lacks, e.g. on a fresh machine).
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "../..");
let dir: string;
let project: string;
let tarball: string;

function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      { cwd, timeout: 240_000, maxBuffer: 16 << 20, env: { ...process.env, CI: "1", PROVISION_CACHE_DIR: join(dir, "cache"), ...env } },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-package-"));
  // Packed from a copy: prepack builds into the copy's dist/, not the working tree's.
  const pkg = join(dir, "pkg");
  for (const part of ["bin", "src", "scripts", "playbooks", "README.md", "SECURITY.md", "package.json"])
    await cp(join(REPO, part), join(pkg, part), { recursive: true });
  await symlink(join(REPO, "node_modules"), join(pkg, "node_modules"));
  const packed = await run("npm", ["pack", "--pack-destination", dir], pkg);
  expect(packed.code, packed.stderr).toBe(0);
  tarball = join(dir, String((await readdir(dir)).find((name) => name.endsWith(".tgz"))));
  project = join(dir, "project");
  await mkdir(project);
  await writeFile(join(project, "package.json"), `${JSON.stringify({ name: "site", private: true, type: "module" })}\n`);
  const installed = await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], project);
  expect(installed.code, installed.stderr).toBe(0);
  await writeFile(
    join(project, "site.ts"),
    `import { definePlaybook, sh, z } from "provision";
let from = "?";
try { (sh as unknown as (x: null) => void)(null); } catch (error) { from = /node_modules\\/provision\\/dist\\/build-/.test(String((error as Error).stack)) ? "dist" : "src"; }
export default definePlaybook({ name: "site", vars: z.object({}), steps: () => [
  { kind: "probe", name: "api from " + from, read: () => ({ local: async () => 1 }), diff: () => null },
] });
`,
  );
}, 300_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("ships the engine, built once, and no tests, benchmarks or fixtures", async () => {
    const listed = await run("tar", ["tzf", tarball], dir);
    const files = listed.stdout
      .trim()
      .split("\n")
      .map((line) => line.replace(/^package\//, ""));
    expect(files).toContain("dist/manifest.json");
    expect(files).toContain("bin/provision.js");
    expect(files).toContain("src/index.ts");
    expect(new Set(files.filter((f) => f.startsWith("dist/build-")).map((f) => f.split("/")[1])).size).toBe(1);
    expect(files.filter((f) => /^(test|bench|\.ci)\//.test(f) || f.includes("fixtures"))).toEqual([]);
  });

  it("runs a playbook importing `provision` on the built engine, its playbook compiled into the cache", async () => {
    const bin = join(project, "node_modules/.bin/provision");
    const version = await run(bin, ["--version"], project);
    expect(version.stdout).toMatch(/^engine: dist\/ \(built /m);
    for (let round = 0; round < 2; round += 1) {
      const result = await run(bin, ["run", "site.ts", "--host", "localhost", "--check", "--json"], project);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout).hosts[0].steps[0].name).toBe("api from dist");
    }
    const cached = await readdir(join(dir, "cache/compiled"));
    expect(cached.filter((name) => name.endsWith(".mjs"))).toHaveLength(1);
  });
});
