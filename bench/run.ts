/**
 * provision vs Ansible on the same real test hosts (see bench/README.md):
 *
 *   sudo npx tsx bench/run.ts [--rounds 5[,3]] [--hosts 1,20] [--rtt 0,20,100] [--tools provision,ansible] [--instance 3] [--out FILE]
 *   sudo npx tsx bench/run.ts --smoke          # 1 round, 1 host, provision only: a quick CI check
 *
 * Every round, each tool in turn gets a fresh fleet of N hosts on harness instance 3 (never the
 * test suite's instance 0) and runs, on it: the first apply, the converged re-run, the converged
 * --check and the drifted --check; then the fleet stops. Tools alternate which goes first (A B,
 * then B A …). One fleet at a time: the other tool's idle hosts never compete for the CPUs, and
 * 2×20 hosts booting at once on 2 cores overran the harness's readiness bound. The floor (ssh2
 * and OpenSSH: connect + `true`) runs on the first tool's fleet each round. Prints a markdown
 * table; every sample goes to --out as JSON.
 *
 *   npx tsx bench/run.ts --table a.json [b.json …]   # the table again, from saved samples
 *
 * --rounds takes one count, or one per --hosts entry (5,3: 5 rounds of 1 host, 3 of 20).
 * --rtt: network distances (ms of round trip) to run the scenarios at, each host behind a latency
 * proxy (distance.ts); the first apply runs at the first distance only (the hosts are fresh once).
 * What each proxy really adds is measured first (small round trips through it) and logged.
 * Before every timed run the bench waits COOL_DOWN_MS: Postfix's postconf pauses (up to ~2 s)
 * when main.cf was modified less than a second or two ago ("let the file cool down"), so a run
 * right after the tamper would measure Postfix's pause, not the tool.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { atDistance } from "./distance.ts";
import { measureAddedRtt } from "./latency-proxy.ts";
import { acceptedConnections, DEFAULT_INSTANCE, onHost, startFleet, useInstance, type TestFleet } from "./fleet.ts";
import { floorCommand, FLOORS } from "./floor.ts";
import { measure } from "./measure.ts";
import { renderTable, type Sample } from "./report.ts";
import {
  commandFor,
  judge,
  node,
  PASSWORD_ENV,
  prepareTarget,
  RESTORE,
  SCENARIOS,
  TAMPER,
  type Target,
  type Tool,
  useNode,
} from "./tools.ts";

const { values, positionals } = parseArgs({
  options: {
    rounds: { type: "string" },
    hosts: { type: "string" },
    tools: { type: "string" },
    rtt: { type: "string", default: "0" },
    instance: { type: "string", default: String(DEFAULT_INSTANCE) },
    out: { type: "string" },
    smoke: { type: "boolean", default: false },
    table: { type: "boolean", default: false },
    node: { type: "string" },
  },
  allowPositionals: true,
});
if (values.table) {
  const saved = positionals.flatMap((file) => (JSON.parse(fs.readFileSync(file, "utf8")) as { samples: Sample[] }).samples);
  console.log(renderTable(saved));
  process.exit(0);
}
const smoke = values.smoke;
const hostCounts = (values.hosts ?? (smoke ? "1" : "1,20")).split(",").map(Number);
const roundList = (values.rounds ?? (smoke ? "1" : "5")).split(",").map(Number);
const roundsFor = (i: number) => roundList[i] ?? (roundList[roundList.length - 1] as number);
const tools = (values.tools ?? (smoke ? "provision" : "provision,ansible")).split(",") as Tool[];
if (roundList.some((r) => !Number.isInteger(r) || r < 1 || r > 50)) throw new Error("--rounds: counts 1–50");
if (hostCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 100)) throw new Error("--hosts: counts 1–100");
const rtts = values.rtt.split(",").map(Number);
if (rtts.some((r) => !Number.isInteger(r) || r < 0 || r > 1000)) throw new Error("--rtt: round trips of 0–1000 ms");
if (tools.some((t) => t !== "provision" && t !== "ansible")) throw new Error("--tools: provision, ansible");
if (process.getuid?.() !== 0) throw new Error("the test hosts need root: run with sudo");
useInstance(Number(values.instance));
useNode(values.node);
process.env[PASSWORD_ENV] ??= "Bench-Pw-2231";

const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "provision-bench-"));
const out = values.out ?? path.join(work, "samples.json");
const samples: Sample[] = [];
const started = Date.now();
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
log(
  `instance ${process.env.PROVISION_TESTHOSTS_INSTANCE}, rounds ${roundList.join(",")}, hosts ${hostCounts.join(",")}, tools ${tools.join(",")}; load ${load()}`,
);
// Which engine the CLI runs (dist/ when built and fresh, else src/ through tsx): it changes the
// figures by ~0.2 s of CPU per run, so it goes into the log and the samples file.
const engineLine =
  execFileSync(node(), [path.resolve(import.meta.dirname, "../bin/provision.js"), "--version"], { encoding: "utf8" })
    .split("\n")
    .find((line) => line.startsWith("engine:")) ?? "engine: unknown";
const engine = `${engineLine}; node ${execFileSync(node(), ["--version"], { encoding: "utf8" }).trim()}`;
log(`provision ${engine}`);

const COOL_DOWN_MS = 2_500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let runCounter = 0;
/** One converged run, untimed and unrecorded (it must still succeed). */
async function warmUp(target: Target): Promise<void> {
  const { argv, env } = commandFor(target, "converged", ++runCounter);
  const sample = await measure(argv, { env, cwd: path.resolve(import.meta.dirname, "..") });
  if (sample.code !== 0) throw new Error(`warm-up run failed (exit ${sample.code}): ${sample.stderr.slice(-500)}`);
}

async function runTool(target: Target, scenario: (typeof SCENARIOS)[number], hosts: number, round: number, rttMs: number): Promise<void> {
  const { argv, env } = commandFor(target, scenario, ++runCounter);
  const first = target.hosts[0];
  const before = first ? await acceptedConnections(first) : 0;
  await sleep(COOL_DOWN_MS);
  const sample = await measure(argv, { env, cwd: path.resolve(import.meta.dirname, "..") });
  const connections = first ? (await acceptedConnections(first)) - before : undefined;
  const outcome = judge(target.tool, scenario, sample.code, sample.stdout, target.hosts.length);
  if (!outcome.ok) fs.writeFileSync(path.join(work, `failed-${runCounter}.log`), `${argv.join(" ")}\n${sample.stdout}\n${sample.stderr}`);
  const { ok, why, roundTrips, readRoundTrips, changed } = outcome;
  samples.push({
    hosts,
    rttMs,
    round,
    tool: target.tool,
    scenario,
    wallMs: sample.wallMs,
    cpuMs: sample.userMs + sample.sysMs,
    ok,
    why,
    roundTrips,
    readRoundTrips,
    connections,
    changed,
  });
  fs.writeFileSync(out, JSON.stringify({ engine, samples }, null, 1)); // a run cut short keeps what it measured
  log(
    `${hosts}h ${rttMs}ms r${round} ${target.tool.padEnd(9)} ${scenario.padEnd(11)} ${(sample.wallMs / 1000).toFixed(2)} s wall, ${((sample.userMs + sample.sysMs) / 1000).toFixed(2)} s CPU${ok ? "" : `  NOT OK: ${why}`}`,
  );
}

async function startFleetRetrying(count: number): Promise<TestFleet> {
  try {
    return await startFleet(count, log);
  } catch (error) {
    log(`fleet start failed, once more: ${(error as Error).message.split("\n")[0]}`);
    return startFleet(count, log);
  }
}

async function runFloors(fleet: TestFleet, n: number, round: number, rttMs: number): Promise<void> {
  for (const kind of FLOORS) {
    const sample = await measure(floorCommand(kind, fleet, fleet.hosts));
    const ok = sample.code === 0;
    samples.push({
      hosts: n,
      rttMs,
      round,
      tool: kind,
      scenario: "floor",
      wallMs: sample.wallMs,
      cpuMs: sample.userMs + sample.sysMs,
      ok,
      ...(ok ? {} : { why: sample.stderr.trim().slice(-300) }),
    });
    log(
      `${n}h ${rttMs}ms r${round} ${kind} ${(sample.wallMs / 1000).toFixed(2)} s wall${ok ? "" : `  NOT OK: ${sample.stderr.trim().slice(-200)}`}`,
    );
  }
}

// The RTT each proxy adds, measured (one-byte round trips through it to a local echo), not assumed.
const rttCheck: Record<string, Awaited<ReturnType<typeof measureAddedRtt>>> = {};
for (const rtt of rtts.filter((r) => r > 0)) {
  rttCheck[rtt] = await measureAddedRtt(rtt / 2, 20);
  log(
    `latency proxy at ${rtt} ms: adds ${rttCheck[rtt].addedMs.toFixed(1)} ms per round trip (median of 20; direct ${rttCheck[rtt].directMs.toFixed(2)} ms), ` +
      `${rttCheck[rtt].firstExchangeAddedMs.toFixed(1)} ms to a new connection's first exchange (TCP handshake + 1 round trip)`,
  );
}

try {
  for (const [index, n] of hostCounts.entries()) {
    for (let round = 1; round <= roundsFor(index); round += 1) {
      const order = round % 2 === 1 ? tools : [...tools].reverse();
      for (const [position, tool] of order.entries()) {
        const fleet = await startFleetRetrying(n);
        try {
          for (const [rttIndex, rtt] of rtts.entries()) {
            const distant = await atDistance(fleet, rtt, path.join(work, `${n}h-r${round}-${tool}`));
            try {
              const target = prepareTarget(tool, distant.hosts, distant.fleet, path.join(work, `${n}h-r${round}-${tool}-rtt${rtt}`));
              // Behind the proxies the hosts have other addresses: to provision's plan cache and
              // pre-connection hint the fleet has moved (its first run there re-learns it, as after a
              // real move). One untimed converged run first, so "converged re-run" is that, not a
              // move. Ansible keeps nothing between runs (its ssh masters end with each), so it gets none.
              if (rttIndex > 0 && tool === "provision") await warmUp(target);
              for (const scenario of SCENARIOS) {
                if (scenario === "apply-fresh" && rttIndex > 0) continue; // fresh once only
                if (scenario === "check-drift") await Promise.all(fleet.hosts.map((h) => onHost(h, TAMPER)));
                await runTool(target, scenario, n, round, rtt);
                if (scenario === "check-drift") await Promise.all(fleet.hosts.map((h) => onHost(h, RESTORE)));
              }
              if (position === 0) await runFloors(distant.fleet, n, round, rtt);
            } finally {
              await distant.close();
            }
          }
        } finally {
          await fleet.stop();
        }
      }
      fs.writeFileSync(out, JSON.stringify({ engine, rttCheck, samples }, null, 1));
    }
  }
} finally {
  fs.writeFileSync(out, JSON.stringify({ engine, rttCheck, samples, load: load(), cpus: os.cpus().length }, null, 1));
}

console.log(renderTable(samples));
console.log(
  `\n${os.cpus().length} CPUs, load average at the end ${load()}; ${((Date.now() - started) / 1000).toFixed(0)} s in all; samples: ${out}`,
);
const failures = samples.filter((s) => !s.ok).length;
if (failures) log(`${failures} run(s) did not do what their scenario needs: logs in ${work}`);
process.exitCode = failures ? 1 : 0;
