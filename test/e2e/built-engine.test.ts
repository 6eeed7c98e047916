/**
 * The built engine (scripts/build-engine.ts → dist/) in a throwaway copy of the package: the CLI
 * runs from the build while every source file it came from is unchanged, a playbook importing the
 * API by its source path gets the built module, and any change to a source file (or a missing
 * build) sends the CLI back to src/ through tsx, naming why — a stale build never runs.
 */
import { execFile } from "node:child_process";
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "../..");
let dir: string;
let pkg: string;
let probeDir: string;

function node(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      "node",
      args,
      { cwd: pkg, timeout: 60_000, env: { ...process.env, CI: "1", PROVISION_CACHE_DIR: join(dir, "cache"), ...env } },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
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
  // The repo's packages, linked one by one, except yaml: a copy of its own, so a test can "upgrade"
  // it without touching the repo's node_modules.
  await mkdir(join(pkg, "node_modules"));
  for (const entry of await readdir(join(REPO, "node_modules"))) {
    if (entry !== "yaml") await symlink(join(REPO, "node_modules", entry), join(pkg, "node_modules", entry));
  }
  await cp(join(REPO, "node_modules/yaml"), join(pkg, "node_modules/yaml"), { recursive: true });
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
    expect(build.stdout).toMatch(/engine built in dist\/build-[\w-]+ from \d+ source files/);
    expect(await engineLine()).toMatch(/^engine: dist\/ \(built \d{4}-/);
    expect(await runProbe()).toBe("api from dist");
    // Compiled once into the cache (no tsx), used again on the next run.
    const cached = async () => (await readdir(join(dir, "cache/compiled"))).filter((name) => name.endsWith(".mjs"));
    expect(await cached()).toHaveLength(1);
    expect(await runProbe()).toBe("api from dist");
    expect(await cached()).toHaveLength(1);
    // A playbook the cache cannot reproduce (it names its own location) still runs, through tsx.
    const located = join(probeDir, "located.ts");
    await writeFile(
      located,
      (await readFile(join(probeDir, "probe.ts"), "utf8")).replace(
        '"api from " + from',
        '"api from " + from + (import.meta.url.endsWith("/located.ts") ? " at its file" : " elsewhere")',
      ),
    );
    const run = await provision(["run", located, "--host", "localhost", "--check", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).hosts[0].steps[0].name).toBe("api from dist at its file");
    expect(await cached()).toHaveLength(1);
    // Forced back to the sources: both the CLI and the playbook's API.
    expect(await engineLine({ PROVISION_ENGINE: "source" })).toBe("engine: src/ through tsx: PROVISION_ENGINE=source");
    expect(await runProbe({ PROVISION_ENGINE: "source" })).toBe("api from src");
  });

  it("a source file changed after the build: src/ again, naming the file, until rebuilt", async () => {
    const args = join(pkg, "src/cli/args.ts");
    // Only touched (as `npm install` extracts a package with other mtimes): the content is the same.
    const later = new Date(Date.now() + 5_000);
    await utimes(args, later, later);
    expect(await engineLine()).toMatch(/^engine: dist\//);
    await appendFile(args, "// edited\n");
    expect(await engineLine()).toBe("engine: src/ through tsx: src/cli/args.ts changed since the build (npm run build)");
    expect(await runProbe()).toBe("api from src");
    const build = await node([join(pkg, "node_modules/.bin/tsx"), join(pkg, "scripts/build-engine.ts")]);
    expect(build.code, build.stderr).toBe(0);
    expect(await engineLine()).toMatch(/^engine: dist\//);
    expect(await runProbe()).toBe("api from dist");
  });

  // Issue 16: the pure-JS packages every start loads are bundled (as ~40 separate module files they
  // cost ~0.2 s of CPU per run); the manifest tracks each by its package.json, so an upgrade of one
  // sends the CLI back to src/ (which loads the installed package) until rebuilt.
  it("bundles zod, yaml, diff and ssh-config, and a changed bundled package makes the build stale", async () => {
    const manifest = JSON.parse(await readFile(join(pkg, "dist/manifest.json"), "utf8")) as { build: string; inputs: object };
    const chunks = (await readdir(join(pkg, "dist", manifest.build))).filter((name) => name.endsWith(".mjs"));
    const code = (await Promise.all(chunks.map((name) => readFile(join(pkg, "dist", manifest.build, name), "utf8")))).join("\n");
    expect(code).not.toMatch(/(?:from|import\()\s*["'](?:zod|yaml|diff|ssh-config)(?:\/[^"']*)?["']/);
    expect(code).toMatch(/(?:from|import\()\s*["']ssh2["']/); // what stays external stays external
    const inputs = Object.keys(manifest.inputs);
    expect(inputs).toContain("node_modules/yaml/package.json");
    expect(inputs.filter((file) => file.includes("node_modules/yaml/"))).toEqual(["node_modules/yaml/package.json"]);

    const yamlPackage = join(pkg, "node_modules/yaml/package.json");
    const meta = JSON.parse(await readFile(yamlPackage, "utf8")) as { version: string };
    await writeFile(yamlPackage, JSON.stringify({ ...meta, version: `${meta.version}-upgraded` }, null, 2));
    expect(await engineLine()).toBe("engine: src/ through tsx: node_modules/yaml/package.json changed since the build (npm run build)");
    const build = await node([join(pkg, "node_modules/.bin/tsx"), join(pkg, "scripts/build-engine.ts")]);
    expect(build.code, build.stderr).toBe(0);
    expect(await engineLine()).toMatch(/^engine: dist\//);
    expect(await runProbe()).toBe("api from dist");
  });

  // Issue 16: zod's ~50 locales were ~400 KB of the engine's main chunk, parsed on every start;
  // the build keeps English only, and asking provision's `z` for another locale says what to do.
  it("the built API's z speaks English and names what it left out", async () => {
    const manifest = JSON.parse(await readFile(join(pkg, "dist/manifest.json"), "utf8")) as { entries: { index: string } };
    const script = `const { z } = await import(${JSON.stringify(join(pkg, "dist", manifest.entries.index))});
console.log(z.string().safeParse(3).error.issues[0].message);
try { z.locales.fr(); console.log("fr loaded"); } catch (error) { console.log(error.message); }`;
    const result = await node(["--input-type=module", "-e", script]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      "Invalid input: expected string, received number",
      "zod's locale \"fr\" is not in provision's engine (English only, to start faster): for z.locales.fr(), take z from the zod package itself in your playbook",
      "",
    ]);
  });

  // Issue 11, defect 11: a build used to empty dist/ and write it anew, so a run that had read the
  // manifest just before died importing a chunk the build had deleted ("cannot load playbook:
  // ENOENT …/dist/index.mjs", 4 of 12 runs). Each build now goes to a directory of its own and the
  // manifest is switched by rename; a run whose build is incomplete falls back to src/.
  it("rebuilding in a loop never breaks a run that is starting", async () => {
    let building = true;
    let builds = 0;
    const deadline = Date.now() + 90_000;
    const builder = (async () => {
      while (building && builds < 40 && Date.now() < deadline) {
        const build = await node([join(pkg, "node_modules/.bin/tsx"), join(pkg, "scripts/build-engine.ts")]);
        expect(build.code, build.stderr).toBe(0);
        builds += 1;
      }
    })();
    const failures: string[] = [];
    const engines = new Set<string>();
    try {
      for (let round = 0; round < 6; round += 1) {
        const runs = await Promise.all(
          [0, 1].map(() => provision(["run", join(probeDir, "probe.ts"), "--host", "localhost", "--check", "--json"])),
        );
        for (const run of runs) {
          if (run.code !== 0) failures.push(run.stderr.trim());
          else engines.add(String(JSON.parse(run.stdout).hosts[0].steps[0].name));
        }
      }
    } finally {
      building = false;
      await builder;
    }
    expect(builds).toBeGreaterThan(1);
    expect(failures).toEqual([]);
    expect([...engines].every((engine) => engine === "api from dist" || engine === "api from src")).toBe(true);
    // The loop's last build is complete: the next run uses it.
    expect(await runProbe()).toBe("api from dist");
  }, 120_000);

  it("a build missing a chunk (deleted under the run): src/ for that run, naming why", async () => {
    const manifest = JSON.parse(await readFile(join(pkg, "dist/manifest.json"), "utf8")) as { build: string };
    const chunk = (await readdir(join(pkg, "dist", manifest.build))).find((name) => /^chunk-.*\.mjs$/.test(name));
    expect(chunk).toBeDefined();
    await rm(join(pkg, "dist", manifest.build, String(chunk)));
    expect(await engineLine()).toMatch(/^engine: src\/ through tsx: the build in dist\/ is incomplete \(Cannot find module/);
    expect(await runProbe()).toBe("api from src");
    await rm(join(pkg, "dist", manifest.build), { recursive: true });
    expect(await engineLine()).toBe("engine: src/ through tsx: the build dist/manifest.json names is incomplete (npm run build)");
  });
});
