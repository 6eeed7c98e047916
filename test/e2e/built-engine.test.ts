/**
 * The built engine (scripts/build-engine.ts → dist/) in a throwaway copy of the package: the CLI
 * runs from the build while every source file it came from is unchanged, a playbook importing the
 * API by its source path gets the built module, and any change to a source file (or a missing
 * build) sends the CLI back to src/ through tsx, naming why — a stale build never runs.
 */
import { execFile } from "node:child_process";
import { cp, mkdtemp, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "../..");
let dir: string;
let pkg: string;
let probeDir: string;

function node(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile("node", args, { cwd: pkg, timeout: 60_000, env: { ...process.env, CI: "1", ...env } }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
const provision = (args: string[], env?: Record<string, string>) => node([join(pkg, "bin/provision.js"), ...args], env);
const engineLine = async (env?: Record<string, string>) => (await provision(["--version"], env)).stdout.split("\n")[1] ?? "";

/** A playbook whose one step is named after the file its `sh` came from (dist/ or src/). */
async function runProbe(env?: Record<string, string>): Promise<string> {
  const result = await provision(["run", join(probeDir, "probe.ts"), "--host", "localhost", "--check", "--json"], env);
  expect(result.code, result.stderr).toBe(0);
  const step = JSON.parse(result.stdout).hosts[0].steps[0];
  return String(step.name);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-built-"));
  pkg = join(dir, "pkg");
  for (const part of ["bin", "src", "scripts", "package.json"]) await cp(join(REPO, part), join(pkg, part), { recursive: true });
  await symlink(join(REPO, "node_modules"), join(pkg, "node_modules"));
  probeDir = join(dir, "playbooks");
  await cp(join(REPO, "package.json"), join(probeDir, "package.json")); // "type": "module", as the repo's playbooks/
  await writeFile(
    join(probeDir, "probe.ts"),
    `import { definePlaybook, sh, z } from ${JSON.stringify(join(pkg, "src/index.ts"))};
let from = "?";
try { (sh as unknown as (x: null) => void)(null); } catch (error) { from = /\\/pkg\\/dist\\//.test(String((error as Error).stack)) ? "dist" : "src"; }
export default definePlaybook({ name: "probe", vars: z.object({}), steps: () => [
  { kind: "probe", name: "api from " + from, read: () => ({ local: async () => 1 }), diff: () => null },
] });
`,
  );
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the built engine", () => {
  it("without a build, runs src/ through tsx and says why", async () => {
    expect(await engineLine()).toBe("engine: src/ through tsx: no build in dist/ (npm run build)");
    expect(await runProbe()).toBe("api from src");
  });

  it("after the build, runs dist/ and hands playbooks the built API", async () => {
    const build = await node([join(pkg, "node_modules/.bin/tsx"), join(pkg, "scripts/build-engine.ts")]);
    expect(build.code, build.stderr).toBe(0);
    expect(build.stdout).toMatch(/engine built in dist\/ from \d+ source files/);
    expect(await engineLine()).toMatch(/^engine: dist\/ \(built \d{4}-/);
    expect(await runProbe()).toBe("api from dist");
    // Forced back to the sources: both the CLI and the playbook's API.
    expect(await engineLine({ PROVISION_ENGINE: "source" })).toBe("engine: src/ through tsx: PROVISION_ENGINE=source");
    expect(await runProbe({ PROVISION_ENGINE: "source" })).toBe("api from src");
  });

  it("a source file changed after the build: src/ again, naming the file, until rebuilt", async () => {
    const args = join(pkg, "src/cli/args.ts");
    const later = new Date(Date.now() + 5_000);
    await utimes(args, later, later);
    expect(await engineLine()).toBe("engine: src/ through tsx: src/cli/args.ts changed since the build (npm run build)");
    expect(await runProbe()).toBe("api from src");
    const build = await node([join(pkg, "node_modules/.bin/tsx"), join(pkg, "scripts/build-engine.ts")]);
    expect(build.code, build.stderr).toBe(0);
    expect(await engineLine()).toMatch(/^engine: dist\//);
    expect(await runProbe()).toBe("api from dist");
  });
});
