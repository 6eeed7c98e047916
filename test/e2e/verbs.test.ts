/**
 * The verbs besides `run`, as a user runs them: a real process, the local transport, a temp dir.
 * `inventory` is checked against Ansible's own ansible-inventory on the same file.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
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

function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      { cwd: REPO, timeout: 60_000, env: { ...process.env, CI: "1", ANSIBLE_LOCALHOST_WARNING: "0", ...env } },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

const provision = (args: string[], env?: NodeJS.ProcessEnv) => run("node", [BIN, ...args], env);

let dir: string;
let inventory: string;
let playbook: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-verbs-"));
  inventory = join(dir, "hosts.ini");
  await writeFile(
    inventory,
    `bastion.example.com ansible_host=203.0.113.5

[mail]
mx[1:2].example.com ansible_user=deploy ansible_become=true

[web]
web[01:03].example.com
web11.example.com:2222 motd="hello world"

[web:vars]
http_port=8080

[prod:children]
mail
web
`,
  );
  playbook = join(dir, "site.ts");
  await writeFile(
    playbook,
    `import { definePlaybook, directory, file, flushHandlers, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "site",
  vars: z.object({ root: z.string() }),
  steps: ({ vars, facts }) => [
    directory({ path: vars.root, mode: "0750" }),
    file({ path: vars.root + "/os", content: facts.distro + "\\n", notify: ["announce"] }),
    flushHandlers(),
  ],
  handlers: () => ({ announce: { run: async () => undefined } }),
});
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("provision exec", () => {
  it("prints each host's stdout, stderr and exit code, labelled; exit 1 when the command failed", async () => {
    const ok = await provision(["exec", "--host", "localhost", "--", "echo", "hello"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^=== localhost: exit 0 \(\d+\.\d\d s\)\n--- stdout\nhello\n/);
    expect(ok.stdout).toContain("1 host: 1 ok, 0 non-zero exit, 0 unreachable");

    const failed = await provision(["exec", "--host", "localhost", "--", "echo out; echo err >&2; exit 3"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/=== localhost: exit 3 \(failed\).*\n--- stdout\nout\n--- stderr\nerr\n/);
  });

  it("--json: one document per run, a host per entry", async () => {
    const result = await provision(["exec", "--host", "localhost", "--json", "--", "printf 'a\\nb'; exit 2"]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      exitCode: 1,
      hosts: [{ host: "localhost", status: "failed", exitCode: 2, stdout: "a\nb", stderr: "" }],
    });
  });

  it("--secret-env: the command gets the value as $NAME, no process's argv holds it, every output masks it", async () => {
    const value = "Exec-Secret-4471-zq";
    // Walks every process's argv with shell builtins only (case), so the check itself holds no copy.
    const script = `echo "got:$PW"; for f in /proc/[0-9]*/cmdline; do c=$(tr '\\0' ' ' < "$f" 2>/dev/null); case "$c" in *"$PW"*) echo "LEAK in $f";; esac; done; echo done`;
    const result = await provision(["exec", "--host", "localhost", "--secret-env", "PW", "-v", "--", script], { PW: value });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("got:***\n");
    expect(result.stdout).toContain("done\n");
    expect(result.stdout).not.toContain("LEAK");
    expect(result.stdout + result.stderr).not.toContain(value);
    // -v shows the command that went out, masked.
    expect(result.stderr).toMatch(/provision: localhost: exit 0 in \d+\.\d{3} s:\n {4}PW=\*\*\*; export PW/);
  });

  it("--timeout stops a command that runs too long: that host failed, exit 1", async () => {
    const result = await provision(["exec", "--host", "localhost", "--timeout", "1", "--json", "--", "sleep 30"]);
    expect(result.code).toBe(1);
    const [host] = JSON.parse(result.stdout).hosts;
    expect(host).toMatchObject({ host: "localhost", status: "failed" });
    expect(host.error).toMatch(/timed out/);
    expect(host.durationMs).toBeLessThan(10_000);
  });

  it("refuses an unset --secret-env, and a missing command", async () => {
    const unset = await provision(["exec", "--host", "localhost", "--secret-env", "PROVISION_NOT_SET_ANYWHERE", "--", "true"]);
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain("--secret-env PROVISION_NOT_SET_ANYWHERE: the environment variable is not set or empty");
    const none = await provision(["exec", "--host", "localhost"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("missing the command to run");
  });
});

describe("provision facts", () => {
  it("prints a table of the built-in facts, or JSON", async () => {
    const table = await provision(["facts", "--host", "localhost"]);
    expect(table.code, table.stderr).toBe(0);
    const [header, row] = table.stdout.split("\n");
    expect(header).toMatch(/^host\s+hostname\s+os\s+distro\s+arch\s+packages\s+services\s+uid$/);
    expect(row).toMatch(/^localhost\s+\S+\s+(debian|rhel|unknown)\s+/);
    const json = await provision(["facts", "--host", "localhost", "--json"]);
    const document = JSON.parse(json.stdout);
    expect(document.errors).toEqual({});
    expect(document.hosts.localhost.builtin).toMatchObject({
      uid: process.getuid?.(),
      arch: process.arch === "x64" ? "x86_64" : expect.any(String),
    });
  });

  it("an unreachable host is reported and makes the exit code 1", async () => {
    // 127.0.0.1:1: nothing listens there, so the connection is refused at once (no traffic leaves).
    const down = join(dir, "down.ini");
    await writeFile(down, "localhost\ndown1 ansible_host=127.0.0.1 ansible_port=1\n");
    const args = ["facts", "-i", down, "--group", "all", "--ssh-config", "/dev/null", "--known-hosts", join(dir, "known_hosts")];
    const table = await provision(args);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^localhost\s+\S+\s+(debian|rhel|unknown)/m);
    expect(table.stdout).toMatch(/^down1\s+unreachable: down1: cannot connect to .*127\.0\.0\.1:1/m);
    const json = JSON.parse((await provision([...args, "--json"])).stdout);
    expect(Object.keys(json.hosts)).toEqual(["localhost"]);
    expect(json.errors.down1.status).toBe("unreachable");
  });
});

describe("provision inventory", () => {
  it("--list has ansible-inventory's groups, hosts and hostvars for the same file", async () => {
    const ours = await provision(["inventory", "-i", inventory, "--list"]);
    expect(ours.code, ours.stderr).toBe(0);
    const theirs = await run("ansible-inventory", ["-i", inventory, "--list"]);
    expect(theirs.code, theirs.stderr).toBe(0);
    const a = JSON.parse(ours.stdout);
    const b = JSON.parse(theirs.stdout);
    const groups = (doc: Record<string, { hosts?: string[]; children?: string[] }>) =>
      Object.fromEntries(
        Object.entries(doc)
          .filter(([k]) => k !== "_meta")
          .map(([k, v]) => [k, { hosts: v.hosts ?? [], children: [...(v.children ?? [])].sort() }]),
      );
    expect(groups(a)).toEqual(groups(b));
    expect(Object.keys(a._meta.hostvars)).toEqual(Object.keys(b._meta.hostvars));
    for (const [host, vars] of Object.entries(b._meta.hostvars as Record<string, Record<string, unknown>>)) {
      // Ansible keeps INI's `true` a string; we type it (as the README says).
      expect(Object.keys(a._meta.hostvars[host]).sort(), host).toEqual(Object.keys(vars).sort());
      for (const [key, value] of Object.entries(vars)) expect(String(a._meta.hostvars[host][key]), `${host} ${key}`).toBe(String(value));
    }
    expect(a.web.vars).toEqual({ http_port: 8080 });
  });

  it("--graph prints the tree as ansible-inventory does", async () => {
    const ours = await provision(["inventory", "-i", inventory, "--graph"]);
    const theirs = await run("ansible-inventory", ["-i", inventory, "--graph"]);
    expect(ours.code).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
  });

  it("--host NAME prints the merged vars; an unknown host gets a suggestion", async () => {
    const host = await provision(["inventory", "-i", inventory, "--host", "web11.example.com"]);
    expect(JSON.parse(host.stdout)).toEqual({ ansible_port: 2222, http_port: 8080, motd: "hello world" });
    const typo = await provision(["inventory", "-i", inventory, "--host", "web11.exmple.com"]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('no host "web11.exmple.com" in the inventory (did you mean web11.example.com?)');
  });
});

describe("run --list-hosts / --list-steps", () => {
  it("--list-hosts prints the selection in order and contacts nothing", async () => {
    const result = await provision(["run", playbook, "-i", inventory, "--group", "prod", "--list-hosts", "--ssh-config", "/dev/null"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      "playbook site: 6 hosts\n" + ["mx1", "mx2", "web01", "web02", "web03", "web11"].map((h) => `  ${h}.example.com\n`).join(""),
    );
  });

  it("--list-steps prints each host's steps and handlers, built from its facts, and changes nothing", async () => {
    const root = join(dir, "never-created");
    const result = await provision(["run", playbook, "--host", "localhost", "--var", `root=${root}`, "--list-steps"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^localhost: 3 steps\\n {3}1\\. directory ${root}\\n {3}2\\. file ${root}/os \\(notifies announce\\)\\n {3}3\\. flush handlers\\n  handlers: announce\\n$`,
      ),
    );
    const json = await provision(["run", playbook, "--host", "localhost", "--var", `root=${root}`, "--list-steps", "--json"]);
    expect(JSON.parse(json.stdout).hosts[0].steps.map((s: { kind: string }) => s.kind)).toEqual(["directory", "file", "flush-handlers"]);
    await expect(import("node:fs/promises").then((fs) => fs.stat(root))).rejects.toThrow();
  });
});

describe("--help on every verb", () => {
  it.each(["run", "exec", "facts", "inventory"])("provision %s --help exits 0 with examples", async (verb) => {
    const result = await provision([verb, "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`usage: provision ${verb}`);
    expect(result.stdout).toContain("examples:");
  });

  it("provision --help lists the verbs; a typo gets the closest", async () => {
    const help = await provision(["--help"]);
    for (const verb of ["run", "exec", "facts", "inventory"]) expect(help.stdout).toMatch(new RegExp(`^  ${verb}\\b`, "m"));
    const typo = await provision(["facst", "--host", "localhost"]);
    expect(typo.stderr).toContain('unknown command "facst" (did you mean "facts"?)');
  });
});

describe("provision facts --playbook (custom facts)", () => {
  it("gathers the playbook's custom facts beside the built-in ones, as a table and as JSON", async () => {
    const site = join(dir, "facts-site.ts");
    await writeFile(
      site,
      `import { definePlaybook, fact, sh, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "facts-site",
  vars: z.object({}),
  facts: { answer: fact({ command: sh\`echo 42\`, parse: (r) => Number(r.stdout.toString()) }) },
  steps: () => [],
});
`,
    );
    const json = await provision(["facts", "--host", "localhost", "--playbook", site, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const document = JSON.parse(json.stdout);
    expect(document.hosts.localhost.custom).toEqual({ answer: 42 });
    expect(document.hosts.localhost.builtin.osFamily).toMatch(/debian|rhel|unknown/);
    const table = await provision(["facts", "--host", "localhost", "--playbook", site]);
    expect(table.stdout).toMatch(/^host\s+hostname\s+.*\sanswer$/m);
    expect(table.stdout).toMatch(/^localhost\s+.*\s42$/m);
  });
});
