/**
 * `provision run` on an Ansible inventory as a team has it: `ansible_connection=local`, a
 * host_vars file encrypted by the real `ansible-vault`, an unhonoured var. The vault value reaches
 * the host (a file here) and is masked in every line printed; the unhonoured var is a warning
 * naming file:line; without the vault password, the run stops naming the file, touching nothing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../support/run-in-process.ts";

const REPO = resolve(import.meta.dirname, "../..");
const SECRET = "vaulted-db-pass-91c";
let dir: string;

const provision = runInProcess;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "provision-vault-cli-"));
  writeFileSync(
    join(dir, "site.ts"),
    `import { definePlaybook, file, secretVar, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "db",
  vars: z.object({ out: z.string(), db_password: secretVar() }),
  steps: ({ vars }) => [file({ path: vars.out, content: "password=" + vars.db_password.reveal() + "\\n", mode: "0600" })],
});
`,
  );
  writeFileSync(
    join(dir, "hosts.ini"),
    `[db]\ndb1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3 out=${join(dir, "db.conf")}\n`,
  );
  mkdirSync(join(dir, "host_vars"));
  writeFileSync(join(dir, "host_vars", "db1.yml"), `db_password: ${SECRET}\n`);
  writeFileSync(join(dir, "vault-pass"), "team-vault-pass\n");
  execFileSync("/usr/bin/ansible-vault", ["encrypt", "--vault-password-file", join(dir, "vault-pass"), join(dir, "host_vars", "db1.yml")], {
    stdio: "pipe",
  });
}, 30_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("provision run with an Ansible inventory and Ansible Vault", () => {
  it("without the vault password: an error naming the vaulted file, nothing touched", async () => {
    const run = await provision(
      ["site.ts", "-i", join(dir, "hosts.ini"), "--group", "all"].map((a) => (a === "site.ts" ? join(dir, a) : a)),
    );
    expect(run.code).toBe(1);
    expect(run.error?.message).toMatch(/host_vars\/db1\.yml:1: ansible-vault encrypted content, but no vault password was given/);
    expect(existsSync(join(dir, "db.conf"))).toBe(false);
  });

  it("with --vault-password-file: runs locally, writes the decrypted value, masks it, warns for the unhonoured var", async () => {
    const run = await provision([
      join(dir, "site.ts"),
      "-i",
      join(dir, "hosts.ini"),
      "--group",
      "all",
      "--diff",
      "--vault-password-file",
      join(dir, "vault-pass"),
    ]);
    expect(run.error).toBeUndefined();
    expect(run.code).toBe(0);
    expect(readFileSync(join(dir, "db.conf"), "utf8")).toBe(`password=${SECRET}\n`);
    expect(run.stdout + run.stderr).not.toContain(SECRET);
    expect(run.stdout).toContain("password=***");
    expect(run.stderr).toContain(
      `provision: warning: ${join(dir, "hosts.ini")}:2: ansible_python_interpreter is not honoured by provision (provision runs no Python on hosts): ignored (host db1)`,
    );
  });

  it("a --vars-file encrypted by ansible-vault is decrypted with --vault-password-file; its values are secrets", async () => {
    const vars = join(dir, "extra.yml");
    writeFileSync(vars, `db_password: ${SECRET}-extra\n`);
    execFileSync("/usr/bin/ansible-vault", ["encrypt", "--vault-password-file", join(dir, "vault-pass"), vars], { stdio: "pipe" });
    expect(readFileSync(vars, "utf8")).toMatch(/^\$ANSIBLE_VAULT;1\.1;AES256\n/);
    const args = [join(dir, "site.ts"), "-i", join(dir, "hosts.ini"), "--group", "all", "--diff", "--vars-file", vars];
    const locked = await provision(args);
    expect(locked.code).toBe(1);
    expect(`${locked.error?.message}`).toMatch(/no vault password was given/);
    const run = await provision([...args, "--vault-password-file", join(dir, "vault-pass")]);
    expect(run.error).toBeUndefined();
    expect(run.code).toBe(0);
    // --vars-file wins over host_vars, as in Ansible (-e @file).
    expect(readFileSync(join(dir, "db.conf"), "utf8")).toBe(`password=${SECRET}-extra\n`);
    expect(run.stdout + run.stderr).not.toContain(SECRET);
  });
});
