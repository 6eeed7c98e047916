/**
 * The command step on a real Debian 12 host (fleet position 18): for each guard the cycle
 * apply → apply again (0 changes) → check (no drift) → tamper by hand → check names exactly the
 * step → apply → check clean; an unguarded command is "would run" in --check and is not run;
 * hostile guard paths are tested literally, never run; becomeUser runs as that user; a secret
 * piped into the command reaches the file and no report.
 *
 * nftablesRule on position 19: the same cycle on the live ruleset (the nftables service stays
 * disabled, as the base image has it); the table is deleted at the end and SSH checked open.
 * Then ufwRule (ufw enabled with 22/tcp allowed, disabled and reset at the end) and firewalldPort
 * (firewalld started, then stopped and disabled again) on the same host, SSH checked after each.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { hostExec, type TestHost } from "../hosts/harness.ts";
import type {} from "../hosts/global-setup.ts";
import { testHost } from "./support/fleet.ts";
import { connectTestHost } from "./support/connect.ts";
import { runHost, type RunMode } from "../../src/run/host-runner.ts";
import { definePlaybook } from "../../src/playbook/playbook.ts";
import type { PlaybookItem } from "../../src/playbook/step.ts";
import { secret } from "../../src/shell/secret.ts";
import { secretStdin, sh as shell } from "../../src/shell/sh.ts";
import { command, firewalldPort, nftablesPersist, nftablesRule, ufwRule } from "../../src/steps/index.ts";

const fleet = inject("fleet");
const DIR = "/var/lib/provision-cmd-test";

async function play(host: TestHost, mode: RunMode, steps: () => PlaybookItem[]) {
  const playbook = definePlaybook({ name: "steps-command", vars: z.object({}), steps: () => steps() });
  return runHost({
    playbook,
    vars: {},
    host: { name: host.name, address: host.address },
    connect: () => connectTestHost(host),
    mode,
    emit: () => {},
  });
}

async function sh(host: TestHost, cmd: string): Promise<string> {
  const r = await hostExec(host, cmd);
  if (r.exitCode !== 0) throw new Error(`${cmd}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/** The whole cycle; `drifting` names the one step the tamper must make drift (the others stay ok). */
async function cycle(host: TestHost, steps: () => PlaybookItem[], tamper: string, drifting = steps()[0]?.name) {
  const first = await play(host, "apply", steps);
  expect(first.status, JSON.stringify(first.steps)).toMatch(/^(changed|ok)$/);
  const second = await play(host, "apply", steps);
  expect(second.counts.changed, JSON.stringify(second.steps)).toBe(0);
  expect((await play(host, "check", steps)).status).toBe("ok");
  await sh(host, tamper);
  const drift = await play(host, "check", steps);
  expect(drift.status, JSON.stringify(drift.steps)).toBe("drift");
  expect(drift.steps.filter((s) => s.status !== "ok").map((s) => s.name)).toEqual([drifting]);
  const fixed = await play(host, "apply", steps);
  expect(fixed.status, JSON.stringify(fixed.steps)).toBe("changed");
  expect((await play(host, "check", steps)).status).toBe("ok");
  return drift;
}

describe.skipIf(!fleet)("command step on a real host", () => {
  let host: TestHost;
  beforeAll(async () => {
    host = testHost(18);
    await sh(host, `rm -rf ${DIR} /tmp/provision-cmd-pwned /root/pwned && mkdir -p ${DIR} && chmod 0777 ${DIR}`);
  });

  it("creates / removes / unless / onlyIf: the full cycle, each naming exactly its step", { timeout: 120_000 }, async () => {
    const marker = `${DIR}/marker`;
    // The bystander comes first: after a pending change, a guard command's result is unknown.
    const creates = () => [
      command({ name: "never (onlyIf false)", command: "touch /tmp/provision-cmd-pwned", onlyIf: "false" }),
      command({ name: "make marker", command: `printf '%s\\n' done > ${marker}`, creates: marker }),
    ];
    const drift = await cycle(host, creates, `rm -f ${marker}`, "make marker");
    expect(drift.steps[1]).toMatchObject({ kind: "command", status: "would-change", summary: `run (${marker} does not exist)` });
    expect(await sh(host, `cat ${marker}`)).toBe("done\n");

    const line = `${DIR}/hosts.allow`;
    const unless = () => [
      command({ name: "allow line", command: `echo 'sshd: 10.213.' >> ${line}`, unless: `grep -qx 'sshd: 10.213.' ${line}` }),
    ];
    const d2 = await cycle(host, unless, `: > ${line}`);
    expect(d2.steps[0]?.summary).toBe("run (unless exited 1)");
    expect(await sh(host, `cat ${line}`)).toBe("sshd: 10.213.\n");

    const junk = `${DIR}/junk`;
    const removes = () => [command({ name: "clean junk", command: `rm -f ${junk}`, removes: junk })];
    const d3 = await cycle(host, removes, `touch ${junk}`);
    expect(d3.steps[0]?.summary).toBe(`run (${junk} exists)`);
    await expect(sh(host, `test ! -e ${junk}`)).resolves.toBe("");
    await expect(sh(host, "test ! -e /tmp/provision-cmd-pwned")).resolves.toBe("");
  });

  it("unguarded: --check says would run and runs nothing; apply runs it every time", async () => {
    const count = `${DIR}/count`;
    const steps = () => [command({ command: `echo x >> ${count}` })];
    const checked = await play(host, "check", steps);
    expect(checked.steps[0]).toMatchObject({ status: "would-change", summary: "run (no guard: runs on every apply)" });
    await expect(sh(host, `test ! -e ${count}`)).resolves.toBe("");
    expect((await play(host, "apply", steps)).status).toBe("changed");
    expect((await play(host, "apply", steps)).status).toBe("changed");
    expect(await sh(host, `cat ${count}`)).toBe("x\nx\n");
  });

  it("hostile guard paths are tested literally, never run", async () => {
    // No "/" in the name (it would be a path of missing directories); cwd is /root.
    const evil = `${DIR}/$(touch pwned) ;touch pwned\n'x \\`;
    const steps = () => [command({ command: shell`touch -- ${evil}`, creates: evil })];
    expect((await play(host, "apply", steps)).status).toBe("changed");
    expect((await play(host, "check", steps)).status).toBe("ok");
    await expect(sh(host, `test ! -e /root/pwned && test ! -e ${DIR}/pwned`)).resolves.toBe("");
    expect(await sh(host, `find ${DIR} -name '*touch pwned*' -printf x | wc -c`)).toBe("1\n");
  });

  it("becomeUser runs the command and its guard as that user", async () => {
    const who = `${DIR}/whoami`;
    const steps = () => [command({ command: `id -un > ${who}`, becomeUser: "nobody", onlyIf: 'test "$(id -un)" = nobody', creates: who })];
    expect((await play(host, "apply", steps)).status).toBe("changed");
    expect(await sh(host, `cat ${who}; stat -c %U ${who}`)).toBe("nobody\nnobody\n");
    expect((await play(host, "check", steps)).status).toBe("ok");
  });

  it("a secret piped into the command reaches the host, no report, no argv", async () => {
    const value = "cmd-S3cret-pass-4711";
    const pass = secret(value);
    const out = `${DIR}/secret`;
    const steps = () => [command({ command: shell`${secretStdin(pass)} cat > ${out} && sleep 1`, creates: out })];
    const watcher = hostExec(
      host,
      `i=0; while [ $i -lt 40 ]; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -c 'cmd-S3cret-pass-47[1]1' && exit 0; i=$((i+1)); sleep 0.05; done; echo none`,
    );
    const report = await play(host, "apply", steps);
    expect(report.status).toBe("changed");
    expect(JSON.stringify(report)).not.toContain(value);
    expect((await watcher).stdout).toContain("none");
    expect(await sh(host, `cat ${out}`)).toBe(value);
  });

  it("a failing command fails with its exit code and stderr", async () => {
    const report = await play(host, "apply", () => [command({ command: "echo 'no space left' >&2; exit 4" })]);
    expect(report.steps[0]?.status).toBe("failed");
    expect(report.steps[0]?.error).toContain("exit code 4: no space left");
  });
});

describe.skipIf(!fleet)("nftablesRule on a real host", () => {
  let host: TestHost;
  beforeAll(async () => {
    host = testHost(19);
    await sh(host, "nft delete table inet provision_test 2>/dev/null; cp -p /etc/nftables.conf /root/nftables.conf.orig");
  });
  afterAll(async () => {
    if (!host) return;
    // Debian's own file back, the service still disabled at boot (as the base image has it).
    await sh(
      host,
      "nft delete table inet provision_test 2>/dev/null; mv /root/nftables.conf.orig /etc/nftables.conf; systemctl disable nftables 2>/dev/null; true",
    );
    // SSH still answers (through our own transport) once the test's table is gone.
    expect((await play(host, "check", () => [])).status).toBe("ok");
  });

  it("a rule in inet provision_test input: cycle, canonical match, duplicates, absent", { timeout: 120_000 }, async () => {
    const steps = () => [
      nftablesRule({ table: "provision_test", chain: "input", rule: "tcp dport 22 accept" }),
      nftablesRule({ table: "provision_test", chain: "input", rule: "tcp dport {25,587} ip saddr 10.213.0.0/16 accept" }),
    ];
    const name = steps()[1]?.name;
    const drift = await cycle(
      host,
      steps,
      "h=$(nft -a list chain inet provision_test input | sed -n 's/.*dport { 25, 587 }.* # handle \\([0-9]*\\)$/\\1/p'); nft delete rule inet provision_test input handle $h",
      name,
    );
    expect(drift.steps[1]).toMatchObject({ kind: "nftables-rule", status: "would-change", summary: "append" });
    // Independent client: nft itself lists the rule, once, after the policy-accept base chain.
    const listed = await sh(host, "nft list chain inet provision_test input");
    expect(listed).toContain("type filter hook input priority filter; policy accept;");
    expect(listed.match(/tcp dport \{ 25, 587 \} ip saddr 10\.213\.0\.0\/16 accept/g)?.length).toBe(1);

    await sh(host, "nft add rule inet provision_test input tcp dport 22 accept");
    const dup = await play(host, "check", steps);
    expect(dup.steps[0]).toMatchObject({ status: "would-change", summary: "remove 1 duplicate" });
    expect((await play(host, "apply", steps)).status).toBe("changed");
    expect((await sh(host, "nft list chain inet provision_test input")).match(/tcp dport 22 accept/g)?.length).toBe(1);

    const gone = () => [nftablesRule({ table: "provision_test", chain: "input", rule: "tcp dport 22 accept", state: "absent" })];
    expect((await play(host, "check", gone)).steps[0]).toMatchObject({ status: "would-change", summary: "remove 1 copy" });
    expect((await play(host, "apply", gone)).status).toBe("changed");
    expect(await sh(host, "nft list chain inet provision_test input")).not.toContain("dport 22");
    expect((await play(host, "check", gone)).status).toBe("ok");
  });

  it("nftablesPersist: the live ruleset saved to /etc/nftables.conf, loadable, cycle", { timeout: 60_000 }, async () => {
    await sh(
      host,
      "nft add table inet provision_test; nft add chain inet provision_test input '{ type filter hook input priority filter; policy accept; }'; nft add rule inet provision_test input tcp dport 2525 counter accept",
    );
    const steps = () => [nftablesPersist()];
    const drift = await cycle(host, steps, "nft add rule inet provision_test input tcp dport 2526 accept");
    expect(drift.steps[0]).toMatchObject({ kind: "nftables-persist", status: "would-change", summary: "update /etc/nftables.conf" });
    // Independent: nft itself loads the saved file in a scratch netns and lists the same ruleset.
    const live = await sh(host, "nft -s list ruleset");
    const loaded = await sh(host, "unshare -n sh -c 'nft -f /etc/nftables.conf && nft -s list ruleset'");
    expect(loaded).toBe(live);
    expect(loaded).toContain("tcp dport 2526 accept");
    expect(await sh(host, "stat -c %a /etc/nftables.conf")).toBe("755\n");
  });

  it("a hostile rule value is refused before anything runs", () => {
    expect(() => nftablesRule({ table: "provision_test", chain: "input", rule: "accept; flush ruleset" })).toThrow(/must be one nft rule/);
  });
});

describe.skipIf(!fleet)("ufwRule on a real host", () => {
  let host: TestHost;
  beforeAll(async () => {
    host = testHost(19);
    await sh(host, "ufw --force reset >/dev/null");
  });
  afterAll(async () => {
    if (!host) return;
    // ufw off and empty again (reset keeps no rules), so the host's firewall is open for SSH.
    await sh(host, "ufw --force disable >/dev/null; ufw --force reset >/dev/null; true");
    expect((await play(host, "check", () => [])).status).toBe("ok");
  });

  it("allow 22/tcp and 587/tcp: cycle with ufw active, SSH kept, rule loaded in iptables", { timeout: 120_000 }, async () => {
    const steps = () => [ufwRule({ port: 22, proto: "tcp" }), ufwRule({ port: 587, proto: "tcp" })];
    expect((await play(host, "apply", steps)).status).toBe("changed");
    await sh(host, "ufw --force enable >/dev/null");
    const drift = await cycle(host, steps, "ufw delete allow 587/tcp >/dev/null", "ufw allow 587/tcp");
    expect(drift.steps[1]).toMatchObject({ kind: "ufw-rule", status: "would-change", summary: "add ufw allow 587/tcp" });
    // Independent: ufw's own status, and the kernel's rules (iptables-save) hold the port.
    const status = await sh(host, "ufw status");
    expect(status).toMatch(/Status: active/);
    expect(status).toMatch(/^587\/tcp\s+ALLOW\s+Anywhere/m);
    expect(await sh(host, "iptables-save | grep -c -- '--dport 587 -j ACCEPT'")).not.toBe("0\n");
    const gone = () => [ufwRule({ port: 587, proto: "tcp", state: "absent" })];
    expect((await play(host, "apply", gone)).steps[0]).toMatchObject({ status: "changed", summary: "delete ufw allow 587/tcp" });
    expect((await play(host, "check", gone)).status).toBe("ok");
  });
});

describe.skipIf(!fleet)("firewalldPort on a real host", () => {
  let host: TestHost;
  beforeAll(() => {
    host = testHost(19);
  });
  afterAll(async () => {
    if (!host) return;
    // Port closed again, firewalld stopped (its table gone) and disabled, SSH checked open.
    await sh(
      host,
      "firewall-cmd --permanent --remove-port=587/tcp >/dev/null 2>&1; systemctl stop firewalld; systemctl disable firewalld 2>/dev/null; true",
    );
    expect((await play(host, "check", () => [])).status).toBe("ok");
  });

  it("stopped firewalld fails the read with its message; running: the cycle, permanent and runtime", { timeout: 120_000 }, async () => {
    await sh(host, "systemctl stop firewalld");
    const steps = () => [firewalldPort({ port: 587 })];
    const stopped = await play(host, "check", steps);
    expect(stopped.steps[0]?.status).toBe("failed");
    expect(stopped.steps[0]?.error).toContain("FirewallD is not running");

    await sh(host, "systemctl start firewalld && firewall-cmd --state");
    const drift = await cycle(host, steps, "firewall-cmd --remove-port=587/tcp >/dev/null");
    expect(drift.steps[0]).toMatchObject({ kind: "firewalld-port", status: "would-change", summary: "open 587/tcp (runtime)" });
    // Independent: firewall-cmd's own listing, runtime and permanent.
    expect(await sh(host, "firewall-cmd --list-ports")).toContain("587/tcp");
    expect(await sh(host, "firewall-cmd --permanent --list-ports")).toContain("587/tcp");
  });
});
