/**
 * The CLI as a user runs it: a real process, the local transport, a temporary directory.
 */
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "../..");
const BIN = join(REPO, "bin/provision.js");

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function provision(args: string[]): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      "node",
      [BIN, ...args],
      { cwd: REPO, timeout: 60_000, env: { ...process.env, CI: "1", PROVISION_CACHE_DIR: join(dir, "cache") } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

let dir: string;
let playbook: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-e2e-"));
  playbook = join(dir, "site.ts");
  await writeFile(
    playbook,
    `import { definePlaybook, directory, file, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "site",
  vars: z.object({ root: z.string(), motd: z.string().default("hello") }),
  steps: ({ vars }) => [
    directory({ path: vars.root + "/etc", mode: "0750" }),
    file({ path: vars.root + "/etc/motd", content: vars.motd + "\\n", mode: "0640" }),
    file({ path: vars.root + "/etc/app.conf", content: "port = 8080\\nlog = info\\n" }),
  ],
});
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("provision run (local transport)", () => {
  it("applies, stays idempotent, and reports drift exactly", async () => {
    const root = join(dir, "root");
    const run = (...extra: string[]) => provision(["run", playbook, "--host", "localhost", "--var", `root=${root}`, ...extra]);

    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/changed=3/);

    const second = await run("--json");
    expect(second.code).toBe(0);
    const report = JSON.parse(second.stdout);
    expect(report.result).toBe("ok");
    expect(report.hosts[0].counts).toMatchObject({ ok: 3, changed: 0 });
    // facts + every step's read in one script: the first run left its facts in the plan cache
    expect(report.hosts[0].roundTrips).toBe(1);

    const clean = await run("--check");
    expect(clean.code).toBe(0);

    await writeFile(join(root, "etc/app.conf"), "port = 9090\nlog = info\n");
    await chmod(join(root, "etc/motd"), 0o666);
    const drift = await run("--check", "--diff");
    expect(drift.code).toBe(2);
    expect(drift.stdout).toMatch(/\[would change\] file .*app\.conf — content/);
    expect(drift.stdout).toContain("-port = 9090");
    expect(drift.stdout).toContain("+port = 8080");
    expect(drift.stdout).toMatch(/\[would change\] file .*motd — mode 0666 → 0640/);
    expect(drift.stdout).toMatch(/\[ok\] directory/);
    // --check changed nothing
    expect(await readFile(join(root, "etc/app.conf"), "utf8")).toBe("port = 9090\nlog = info\n");

    const repair = await run();
    expect(repair.code).toBe(0);
    expect(repair.stdout).toMatch(/changed=2/);
    const after = await run("--check");
    expect(after.code).toBe(0);
  }, 90_000); // eight CLI processes in a row: ~30 s through tsx on a loaded 2-core machine, ~5 s idle with the built engine

  it("prints one JSON document and nothing else on stdout with --json", async () => {
    const result = await provision(["run", playbook, "--host", "localhost", "--var", `root=${join(dir, "json")}`, "--check", "--json"]);
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ playbook: "site", mode: "check", exitCode: 2, result: "drift" });
    expect(report.hosts[0].steps.map((s: { status: string }) => s.status)).toEqual(["would-change", "would-change", "would-change"]);
  });

  it("rejects bad vars before connecting, naming the playbook and field", async () => {
    const result = await provision(["run", playbook, "--host", "localhost"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/playbook "site" \(host localhost\): invalid vars\n\s+root: /);
  });

  it("names the file of a playbook that does not compile or export a playbook", async () => {
    const broken = join(dir, "broken.ts");
    await writeFile(broken, "export default definePlaybook({ name: 'x', \n");
    const result = await provision(["run", broken, "--host", "localhost"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${broken}: cannot load playbook`);

    const empty = join(dir, "empty.ts");
    await writeFile(empty, "export const x = 1;\n");
    const none = await provision(["run", empty, "--host", "localhost"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`${empty}: does not export a playbook`);
  });

  it("explains usage errors", async () => {
    const result = await provision(["run", playbook]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("no host selected");
  });
});

describe("help and typos", () => {
  it("provision run --help prints the run usage with examples and exits 0", async () => {
    const result = await provision(["run", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("usage: provision run <playbook.ts>");
    expect(result.stdout).toContain("examples:");
  });

  it("a mistyped verb or flag suggests the closest one", async () => {
    const verb = await provision(["rnu", playbook, "--host", "localhost"]);
    expect(verb.code).toBe(1);
    expect(verb.stderr).toContain('unknown command "rnu" (did you mean "run"?)');
    const flag = await provision(["run", playbook, "--host", "localhost", "--dif"]);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain("unknown option --dif (did you mean --diff?)");
  });

  it("refuses --timeout beyond what a timer holds, and an empty --host=", async () => {
    const timeout = await provision(["run", playbook, "--host", "localhost", "--timeout", "2147484"]);
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toContain("--timeout 2147484 is too large: at most 2147483");
    const empty = await provision(["run", playbook, "--host="]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("--host needs a value, got an empty one");
  });
});
