/**
 * `provision check-playbook`: the type check `run` does not do (tsx only strips types), the
 * playbook's loading and its vars — all without a host. Spawned as a user runs it.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "../..");
const BIN = join(REPO, "bin/provision.js");
const API = JSON.stringify(join(REPO, "src/index.ts"));

function provision(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile("node", [BIN, ...args], { cwd: REPO, timeout: 120_000, env: { ...process.env, CI: "1" } }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-check-playbook-"));
  const playbook = (step: string) => `import { definePlaybook, file, z } from ${API};
export default definePlaybook({
  name: "site",
  vars: z.object({ root: z.string(), port: z.number().default(25) }),
  steps: ({ vars }) => [
    ${step},
  ],
});
`;
  await writeFile(join(dir, "good.ts"), playbook(`file({ path: vars.root + "/x", content: String(vars.port), mode: "0600" })`));
  // A typo tsc catches and tsx does not: the mode would silently not be applied without strict params.
  await writeFile(join(dir, "typo.ts"), playbook(`file({ path: vars.root + "/x", content: "x", mdoe: "0600" })`));
  await writeFile(join(dir, "ok.yml"), "root: /srv\nport: 587\n");
  await writeFile(join(dir, "bad.yml"), "root: /srv\nport: many\n");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("provision check-playbook", () => {
  it("a type error is named with file, line and column, exit 1; nothing else is needed to find it", async () => {
    const result = await provision(["check-playbook", join(dir, "typo.ts")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/typo\.ts\(6,\d+\): error TS2353: .*'mdoe' does not exist/);
    expect(result.stderr).toMatch(/1 type error/);
  }, 150_000);

  it("a sound playbook with valid vars passes; invalid vars name the field", async () => {
    const good = await provision(["check-playbook", join(dir, "good.ts"), "--vars-file", join(dir, "ok.yml")]);
    expect(good.stderr).toBe("");
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/playbook "site": types ok, vars valid/);
    const bad = await provision(["check-playbook", join(dir, "good.ts"), "--vars-file", join(dir, "bad.yml")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/port/);
  }, 150_000);

  it("run refuses the typo when building the steps, and says how to get the full check", async () => {
    const result = await provision(["run", join(dir, "typo.ts"), "--host", "localhost", "--var", `root=${dir}`, "--check"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/unknown parameter "mdoe" — did you mean "mode"\?/);
    expect(result.stderr).toContain(`provision check-playbook ${join(dir, "typo.ts")}`);
  }, 60_000);
});
