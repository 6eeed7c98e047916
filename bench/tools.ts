/**
 * The two tools under test, as command lines over the same hosts, and how to tell from a run's
 * output that it did what it should (a benchmark of a run that failed measures nothing).
 * provision: the CLI as users run it (node bin/provision.js, TypeScript through tsx), --json.
 * Ansible: ansible-playbook with bench/ansible/ansible.cfg and an inventory written per fleet.
 */
import fs from "node:fs";
import path from "node:path";
import type { DistantHost } from "./distance.ts";
import type { TestFleet } from "./fleet.ts";

export const REPO = path.resolve(import.meta.dirname, "..");
export type Tool = "provision" | "ansible";
export type Scenario = "apply-fresh" | "converged" | "check" | "check-drift";
export const SCENARIOS: Scenario[] = ["apply-fresh", "converged", "check", "check-drift"];

export const PASSWORD_ENV = "MAIL_BENCH_PASSWORD";
const HOSTNAME = "mail.example.test";

/** One tool's share of a fleet, and the files its runs need. */
/**
 * The Node.js that runs provision (and the ssh2 floor): this process's own unless `--node PATH`
 * names another (a current LTS beside the machine's, say: start-up differs by ~0.1 s between Node
 * 20 and 24, and only Node ≥ 22 has the compile cache bin/provision.js turns on).
 */
let nodeBinary = process.execPath;
export function useNode(binary: string | undefined): void {
  if (binary) nodeBinary = binary;
}
export function node(): string {
  return nodeBinary;
}

export interface Target {
  tool: Tool;
  hosts: DistantHost[];
  fleet: TestFleet;
  dir: string;
}

export function prepareTarget(tool: Tool, hosts: DistantHost[], fleet: TestFleet, dir: string): Target {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, "mail.yml"),
    [
      `hostname: ${HOSTNAME}`,
      "users:",
      "  - name: bob",
      `    password: { fromEnv: ${PASSWORD_ENV} }`,
      "verify:",
      "  smtpFrom: controller",
      "",
    ].join("\n"),
  );
  fs.writeFileSync(
    path.join(dir, "inventory.ini"),
    [
      "[mail]",
      ...hosts.map((h) => `${h.name} ansible_host=${h.address} ansible_port=${h.port} smtp_address=${h.address}`),
      "[all:vars]",
      "ansible_user=root",
      `ansible_ssh_private_key_file=${fleet.privateKeyPath}`,
      `ansible_ssh_common_args='-o UserKnownHostsFile=${fleet.knownHostsPath}'`,
      "",
    ].join("\n"),
  );
  // Hosts behind latency proxies (distance.ts) listen on other ports: provision gets them from an
  // ssh config (its --port would be one port for all) under their own address, mapped to the
  // proxy address; its SMTP check connects to that (ctx.host.address), whose SMTP ports are
  // proxied with the same delay (Ansible's the same, through smtp_address).
  if (hosts.some((h) => h.port !== 22)) {
    fs.writeFileSync(
      path.join(dir, "ssh_config"),
      hosts.map((h) => `Host ${h.direct}\n  HostName ${h.address}\n  Port ${h.port}\n`).join(""),
    );
  }
  return { tool, hosts, fleet, dir };
}

export function commandFor(target: Target, scenario: Scenario, run: number): { argv: string[]; env: NodeJS.ProcessEnv } {
  const check = scenario === "check" || scenario === "check-drift";
  if (target.tool === "provision") {
    const { fleet, hosts } = target;
    const proxied = hosts.some((h) => h.port !== 22);
    return {
      argv: [
        node(),
        path.join(REPO, "bin/provision.js"),
        "run",
        path.join(REPO, "playbooks/mail.ts"),
        ...hosts.flatMap((h) => ["--host", h.direct ?? h.address]),
        "--user",
        "root",
        "--identity",
        fleet.privateKeyPath,
        "--known-hosts",
        fleet.knownHostsPath,
        "--ssh-config",
        proxied ? path.join(target.dir, "ssh_config") : "/dev/null",
        "--vars-file",
        path.join(target.dir, "mail.yml"),
        "--concurrency",
        String(Math.max(20, hosts.length)),
        "--json",
        ...(check ? ["--check"] : []),
      ],
      env: { ...process.env, CI: "1" },
    };
  }
  // Every Ansible run gets its own ControlPath dir: no run reuses an earlier run's ssh masters
  // (measure() kills them when the run ends), so each starts cold, as provision does.
  const controlDir = path.join(target.dir, `cp-${run}`);
  fs.mkdirSync(controlDir, { recursive: true });
  return {
    argv: [
      "ansible-playbook",
      "-i",
      path.join(target.dir, "inventory.ini"),
      path.join(REPO, "bench/ansible/mail.yml"),
      ...(check ? ["--check"] : []),
    ],
    env: {
      ...process.env,
      ANSIBLE_CONFIG: path.join(REPO, "bench/ansible/ansible.cfg"),
      ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir,
      ANSIBLE_LOCAL_TEMP: path.join(target.dir, "tmp"),
      ANSIBLE_FORKS: String(Math.max(50, target.hosts.length)),
      ANSIBLE_NOCOLOR: "1",
    },
  };
}

/** The drift a `check-drift` run must find: a main.cf value edited by hand (and how to undo it). */
// A setting no SMTP client sees: the drift is found by reading main.cf, never by the end-to-end
// check. (The banner, used before 2026-12-03, made Ansible's 20-host run fail its verify task once
// Postfix's max_idle had replaced the smtpd processes with ones showing the tampered banner.)
export const TAMPER = "postconf -e 'home_mailbox = Mailbox'";
export const RESTORE = "postconf -e 'home_mailbox = Maildir/'";

export interface Outcome {
  ok: boolean;
  why?: string;
  /** provision: per-host round trips (max over hosts), all / reads. */
  roundTrips?: number;
  readRoundTrips?: number;
  /** Changes (provision: changed + would-change steps; Ansible: the recap's changed) summed over hosts. */
  changed?: number;
}

export interface JsonHost {
  status: string;
  roundTrips: number;
  readRoundTrips: number;
  counts: Record<string, number>;
  steps: { name: string; status: string; summary?: string }[];
}

const UNKNOWN_BECAUSE = "depends on a pending change of ";

/**
 * What a drifted --check found on one host beyond the drift TAMPER made, as `name (status)`; empty
 * when it is exactly that: one `postconf` step that would change, and `unknown` only for steps
 * that depend on it, on a step already unknown because of it, or on a handler it notified, as the
 * engine says in their summary ("depends on a pending change of step \"postconf …\""). Any other would-change, a failure, an unknown for another reason: reported.
 */
export function unexpectedDrift(host: JsonHost): string[] {
  const wrong: string[] = [];
  const pending: string[] = [];
  let postconf = 0;
  for (const step of host.steps) {
    if (step.status === "ok" || step.status === "skipped") continue;
    const word = step.name.split(" ")[0];
    if (step.status === "would-change" && word === "postconf" && postconf === 0) {
      postconf += 1;
      pending.push(step.name);
      continue;
    }
    const blocker =
      step.status === "unknown" && step.summary?.startsWith(UNKNOWN_BECAUSE) ? step.summary.slice(UNKNOWN_BECAUSE.length) : undefined;
    // A handler is pending only because a step would change (here: postconf, the only one accepted).
    const fromPending = blocker?.startsWith('handler "') || pending.some((name) => blocker?.startsWith(`step "${name}"`));
    if (blocker !== undefined && postconf > 0 && fromPending) {
      pending.push(step.name);
      continue;
    }
    wrong.push(`${word} (${step.status})`);
  }
  if (postconf === 0) wrong.push("no postconf would-change");
  return wrong;
}

/** Did the run do what the scenario needs? */
export function judge(tool: Tool, scenario: Scenario, code: number, stdout: string, hostCount: number): Outcome {
  return tool === "provision" ? judgeProvision(scenario, code, stdout, hostCount) : judgeAnsible(scenario, code, stdout, hostCount);
}

function judgeProvision(scenario: Scenario, code: number, stdout: string, hostCount: number): Outcome {
  let hosts: JsonHost[];
  try {
    hosts = (JSON.parse(stdout) as { hosts: JsonHost[] }).hosts;
  } catch {
    return { ok: false, why: `exit ${code}, no JSON report` };
  }
  const changed = hosts.reduce((n, h) => n + (h.counts.changed ?? 0) + (h.counts["would-change"] ?? h.counts.wouldChange ?? 0), 0);
  const base = {
    roundTrips: Math.max(...hosts.map((h) => h.roundTrips)),
    readRoundTrips: Math.max(...hosts.map((h) => h.readRoundTrips)),
    changed,
  };
  const want: Record<Scenario, { code: number; status: string }> = {
    "apply-fresh": { code: 0, status: "changed" },
    converged: { code: 0, status: "ok" },
    check: { code: 0, status: "ok" },
    "check-drift": { code: 2, status: "drift" },
  };
  const bad = hosts.filter((h) => h.status !== want[scenario].status);
  if (code !== want[scenario].code || hosts.length !== hostCount || bad.length > 0) {
    return {
      ...base,
      ok: false,
      why: `exit ${code}, ${hosts.length} hosts, statuses ${[...new Set(hosts.map((h) => h.status))].join(",")}`,
    };
  }
  if (scenario === "check-drift") {
    const wrong = hosts.flatMap(unexpectedDrift);
    if (wrong.length) return { ...base, ok: false, why: `drifted: ${wrong.join(", ")}` };
  }
  return { ...base, ok: true };
}

function judgeAnsible(scenario: Scenario, code: number, stdout: string, hostCount: number): Outcome {
  const recap = [...stdout.matchAll(/^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)];
  const changedPerHost = recap.map((m) => Number(m[3]));
  const changed = changedPerHost.reduce((a, b) => a + b, 0);
  const failed = recap.reduce((n, m) => n + Number(m[4]) + Number(m[5]), 0);
  if (code !== 0 || recap.length !== hostCount || failed > 0) {
    return { ok: false, changed, why: `exit ${code}, ${recap.length} hosts in the recap, ${failed} failed/unreachable` };
  }
  const expectChange = scenario === "apply-fresh" || scenario === "check-drift";
  const right = expectChange ? changedPerHost.every((c) => c > 0) : changed === 0;
  return right ? { ok: true, changed } : { ok: false, changed, why: `changed per host: ${changedPerHost.join(",")}` };
}
