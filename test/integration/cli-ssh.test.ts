/**
 * The CLI over real SSH: a playbook of file steps run as root and as the non-root sudo user
 * (`--become`), with the whole idempotency cycle; host keys verified from the command line
 * (unknown → refused with its fingerprint and the flag, accepted with --accept-new-host-keys;
 * changed → refused before any command); the design card's own command, `provision run
 * playbooks/mail.ts --host vps1`, with vps1 an ~/.ssh/config alias that no resolver knows.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostExec } from "../hosts/harness.ts";
import { pythonSmtpLogin } from "../support/python-smtp-login.ts";
import { testFleet, testHost } from "./support/fleet.ts";
import { parseReport, provisionCli, REPO, fleetCliArgs, fleetSshArgs } from "./support/cli.ts";

const host = testHost(7);
let dir: string;
let playbook: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-cli-ssh-"));
  playbook = join(dir, "site.ts");
  await writeFile(
    playbook,
    `import { definePlaybook, directory, file, ownerMode, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "site",
  vars: z.object({ root: z.string(), motd: z.string() }),
  steps: ({ vars, facts }) => [
    directory({ path: vars.root, owner: "root", group: "root", mode: "0750" }),
    file({ path: vars.root + "/motd", content: vars.motd + "\\n" + facts.distro + " " + facts.version + "\\n", mode: "0640", group: "adm" }),
    file({ path: vars.root + "/uid", content: "uid " + facts.uid + "\\n" }),
    ownerMode({ path: "/etc/hostname", owner: "root", mode: "0644" }),
  ],
});
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function cli(user: "root" | "deploy", root: string, extra: string[], knownHosts = testFleet().knownHostsPath) {
  return provisionCli([
    "run",
    playbook,
    ...fleetCliArgs(host.address, { user, knownHosts }),
    "--var",
    `root=${root}`,
    "--var",
    "motd=hello",
    ...(user === "root" ? [] : ["--become"]),
    ...extra,
  ]);
}

async function on(command: string): Promise<string> {
  const result = await hostExec(host, command);
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout;
}

describe.each(["root", "deploy"] as const)("a playbook over SSH as %s", (user) => {
  const root = `/srv/provision-cli-${user}`;

  it("applies, re-applies with 0 changes, checks clean, detects tampering and repairs it", async () => {
    const first = await cli(user, root, ["--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(parseReport(first).hosts[0]?.counts).toMatchObject({ changed: 3, failed: 0 });
    // Commands ran as root either way: sudo for deploy.
    expect(await on(`cat ${root}/uid`)).toBe("uid 0\n");
    expect(await on(`stat -c '%U %G %a' ${root}/motd`)).toBe("root adm 640\n");

    const second = await cli(user, root, ["--json"]);
    expect(second.code).toBe(0);
    const report = parseReport(second).hosts[0];
    expect(report?.counts).toMatchObject({ ok: 4, changed: 0 });
    expect(report?.roundTrips).toBe(1); // facts + reads in one script: the first run left its facts in the plan cache

    expect((await cli(user, root, ["--check"])).code).toBe(0);

    await on(`printf 'tampered\\n' > ${root}/motd; chmod 0700 ${root}`);
    const drift = await cli(user, root, ["--check", "--diff"]);
    expect(drift.code).toBe(2);
    expect(drift.stdout).toMatch(/\[would change\] directory \/srv\/provision-cli-\w+ — mode 0700 → 0750/);
    expect(drift.stdout).toMatch(/\[would change\] file \/srv\/provision-cli-\w+\/motd — content/);
    expect(drift.stdout).toContain("-tampered");
    expect(await on(`cat ${root}/motd`)).toBe("tampered\n");

    expect((await cli(user, root, [])).code).toBe(0);
    expect((await cli(user, root, ["--check"])).code).toBe(0);
  });
});

describe("host keys from the command line", () => {
  it("refuses an unknown host with its fingerprint and the flag, and trusts it with --accept-new-host-keys", async () => {
    const knownHosts = join(dir, "known_hosts.empty");
    await writeFile(knownHosts, "");
    const refused = await cli("root", "/srv/provision-cli-keys", ["--check"], knownHosts);
    expect(refused.code).toBe(1);
    const keyBlob = Buffer.from(host.hostKeyLine.split(" ")[2] ?? "", "base64");
    const fingerprint = `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
    expect(refused.stdout + refused.stderr).toContain(fingerprint);
    expect(refused.stdout + refused.stderr).toContain("--accept-new-host-keys");
    expect(refused.stdout + refused.stderr).toContain(host.address);

    const accepted = await cli("root", "/srv/provision-cli-keys", ["--check", "--accept-new-host-keys"], knownHosts);
    expect(accepted.code, accepted.stderr).toBe(2); // connected; the directory does not exist yet
    expect(await readFile(knownHosts, "utf8")).toContain(host.hostKeyLine.split(" ").slice(1).join(" "));
    const again = await cli("root", "/srv/provision-cli-keys", ["--check"], knownHosts);
    expect(again.code).toBe(2);
  });

  it("refuses a changed host key before any command, even with --accept-new-host-keys", async () => {
    const other = testFleet().hosts.find((h) => h.address !== host.address);
    if (!other) throw new Error("need a second host");
    const knownHosts = join(dir, "known_hosts.changed");
    // The address we connect to, listed with another host's key: what a swapped server looks like.
    await writeFile(knownHosts, `${host.address} ${other.hostKeyLine.split(" ").slice(1).join(" ")}\n`);
    const marker = `/tmp/provision-changed-key-${Date.now()}`;
    const refused = await cli("root", marker, ["--accept-new-host-keys"], knownHosts);
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toMatch(/REFUSED|changed/i);
    expect((await hostExec(host, `test -e ${marker}`)).exitCode).not.toBe(0);
    expect(await readFile(knownHosts, "utf8")).toBe(`${host.address} ${other.hostKeyLine.split(" ").slice(1).join(" ")}\n`);
  });
});

describe("an ~/.ssh/config alias (the design card: provision run playbooks/mail.ts --host vps1)", () => {
  it("converges the mail server and its SMTP check reaches the HostName, not the alias", async () => {
    const fleet = testFleet();
    // A home of its own: ~/.ssh/config names the alias, ~/.ssh/known_hosts has the real key. Nothing
    // on this machine resolves "vps1" (no DNS entry, no /etc/hosts line): only the config knows it.
    const home = join(dir, "home");
    await mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
    await writeFile(
      join(home, ".ssh/config"),
      `Host vps1\n  HostName ${host.address}\n  User root\n  IdentityFile ${fleet.privateKeyPath}\n`,
    );
    await copyFile(fleet.knownHostsPath, join(home, ".ssh/known_hosts"));
    const varsFile = join(dir, "mail.yml");
    await writeFile(varsFile, "hostname: mail.example.test\nusers:\n  - name: bob\n    password: { fromEnv: MAIL_ALIAS_PASSWORD }\n");
    const password = "Alias-Mail-pw-5521";
    const env = { HOME: home, MAIL_ALIAS_PASSWORD: password };

    const run = await provisionCli(["run", join(REPO, "playbooks/mail.ts"), "--host", "vps1", "--vars-file", varsFile, "--json"], { env });
    const report = parseReport(run).hosts[0];
    const verify = report?.steps.find((step) => step.kind === "verify-smtp" || step.name.startsWith("verify smtp"));
    const trouble = JSON.stringify(report?.steps.filter((s) => s.status !== "ok" && s.status !== "changed")) + run.stderr;
    expect(verify, trouble).toBeDefined();
    // The check targets the HostName (before the fix: "verify smtp vps1:25,587", then "cannot resolve vps1").
    expect(verify?.name).toBe(`verify smtp ${host.address}:25,587`);
    expect(verify?.status, trouble).toBe("ok");
    expect(run.code, run.stderr).toBe(0);

    // An independent client confirms what the check saw.
    const login = await pythonSmtpLogin({ host: host.address, port: 587, user: "bob@mail.example.test", password });
    expect(login.code, login.text).toBe(235);

    const again = await provisionCli(["run", join(REPO, "playbooks/mail.ts"), "--host", "vps1", "--vars-file", varsFile, "--check"], {
      env,
    });
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });
});

describe("provision exec and facts over SSH (a fleet: positions 0–3 read-only, and 7)", () => {
  const positions = [0, 1, 2, 3, 7];
  let inventory: string;

  beforeAll(async () => {
    const hosts = positions.map((p) => testHost(p));
    inventory = join(dir, "fleet.ini");
    await writeFile(
      inventory,
      `[fleet]\n${hosts.map((h, i) => `node${positions[i]} ansible_host=${h.address} ansible_user=root`).join("\n")}\n`,
    );
  });

  const cliFleet = (verb: string, extra: string[], env?: NodeJS.ProcessEnv) => {
    return provisionCli([verb, "-i", inventory, ...fleetSshArgs(), ...extra], env ? { env } : {});
  };

  it("exec runs the command on every host; each host's output is its own (checked on the host itself)", async () => {
    const result = await cliFleet("exec", ["--group", "fleet", "--json", "--", "cat /etc/machine-id; id -u"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { hosts: { host: string; status: string; exitCode: number; stdout: string }[] };
    expect(report.hosts.map((h) => h.host)).toEqual(positions.map((p) => `node${p}`));
    for (const [i, position] of positions.entries()) {
      const machineId = await hostExec(testHost(position), "cat /etc/machine-id");
      expect(report.hosts[i]).toMatchObject({ status: "ok", exitCode: 0, stdout: `${machineId.stdout}0\n` });
    }
  });

  it("exec exits 1 when the command fails on some hosts, and labels each host's exit code", async () => {
    const first = await hostExec(testHost(0), "cat /etc/machine-id");
    const result = await cliFleet("exec", ["--group", "fleet", "--", `test "$(cat /etc/machine-id)" = ${first.stdout.trim()}`]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^=== node0: exit 0 /m);
    for (const position of positions.slice(1)) expect(result.stdout).toMatch(new RegExp(`^=== node${position}: exit 1 \\(failed\\)`, "m"));
    expect(result.stdout).toContain(`5 hosts: 1 ok, 4 non-zero exit, 0 unreachable`);
  });

  it("exec --become as a non-root user runs as root; --secret-env stays off the host's argv and out of all output, -v and -vv included", async () => {
    const value = "Ssh-Exec-Secret-8812-kq";
    const script = `id -u; echo "got:$PW"; for f in /proc/[0-9]*/cmdline; do c=$(tr '\\0' ' ' < "$f" 2>/dev/null); case "$c" in *"$PW"*) echo "LEAK in $f";; esac; done; echo done`;
    const result = await cliFleet("exec", ["--limit", "node7", "--user", "deploy", "--become", "--secret-env", "PW", "-vv", "--", script], {
      PW: value,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/--- stdout\n0\ngot:\*\*\*\n(?:.*\n)*done\n/);
    expect(result.stdout).not.toContain("LEAK");
    expect(result.stdout + result.stderr).not.toContain(value);
    expect(result.stderr).toMatch(/provision: node7: exit 0 in \d+\.\d{3} s:\n {4}PW=\*\*\*; export PW/);
    expect(result.stderr).toMatch(/provision: ssh node7: .*(Handshake|KEX|Outbound|Inbound)/); // ssh2's own debug (-vv)
  });

  it("facts reports each host's built-in facts, as the host itself says", async () => {
    const result = await cliFleet("facts", ["--group", "fleet", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as { hosts: Record<string, { builtin: Record<string, unknown> }>; errors: object };
    expect(document.errors).toEqual({});
    for (const position of positions) {
      const uname = (await hostExec(testHost(position), "uname -n; uname -m")).stdout.split("\n");
      expect(document.hosts[`node${position}`]?.builtin).toMatchObject({
        hostname: uname[0],
        arch: uname[1],
        osFamily: "debian",
        distro: "debian",
        version: "12",
        packageManager: "apt",
        serviceManager: "systemd",
        uid: 0,
      });
    }
    const table = await cliFleet("facts", ["--limit", "node1"]);
    expect(table.stdout).toMatch(/^node1\s+\S+\s+debian\s+debian 12\s+x86_64\s+apt\s+systemd\s+0$/m);
  });
});

describe("tags over SSH (--tags, --skip-tags, --start-at)", () => {
  it("runs only the selected steps on the host; the others are skipped, named, and touch nothing", async () => {
    const tagsPlaybook = join(dir, "tags.ts");
    await writeFile(
      tagsPlaybook,
      `import { definePlaybook, file, tagged, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "tags",
  vars: z.object({ root: z.string() }),
  steps: ({ vars }) => [
    ...tagged("motd", file({ path: vars.root + "/motd", content: "motd\\n" })),
    ...tagged(["web", "tls"], file({ path: vars.root + "/cert", content: "cert\\n" }), file({ path: vars.root + "/key", content: "key\\n" })),
  ],
});
`,
    );
    const root = "/srv/provision-cli-tags";
    await on(`rm -rf ${root} && mkdir -p ${root}`);
    const cliTags = (extra: string[]) =>
      provisionCli(["run", tagsPlaybook, ...fleetCliArgs(host.address), "--var", `root=${root}`, "--json", ...extra]);
    const tls = await cliTags(["--tags", "tls"]);
    expect(tls.code, tls.stderr).toBe(0);
    const report = parseReport(tls).hosts[0];
    expect(report?.steps.map((s) => [s.name, s.status])).toEqual([
      [`file ${root}/motd`, "skipped"],
      [`file ${root}/cert`, "changed"],
      [`file ${root}/key`, "changed"],
    ]);
    expect(report?.steps[0]?.summary).toBe("not selected by --tags tls (its tags: motd)");
    expect((await on(`ls ${root}`)).split("\n").filter(Boolean)).toEqual(["cert", "key"]);
    // --skip-tags and --start-at on the same host: still only what was selected changes.
    await on(`rm -f ${root}/key`);
    const skip = await cliTags(["--skip-tags", "motd", "--start-at", `file ${root}/key`]);
    expect(skip.code, skip.stderr).toBe(0);
    expect(parseReport(skip).hosts[0]?.steps.map((s) => s.status)).toEqual(["skipped", "skipped", "changed"]);
    expect((await on(`ls ${root}`)).split("\n").filter(Boolean)).toEqual(["cert", "key"]);
    await on(`rm -rf ${root}`);
  });
});
