/**
 * The controller alone at 100, 1,000 and 10,000 hosts: a converged `--check` of the mail playbook
 * against simulated hosts (simulated-transport.ts: the recorded answers of a real converged host,
 * after a set RTT and host time). Each (hosts, concurrency) runs in a fresh process, so its CPU
 * and peak RSS are its own: wall time of the fleet run, controller CPU per host, peak RSS.
 *
 *   npx tsx bench/scale.ts [--hosts 100,1000,10000] [--concurrency 20,200] [--rtt-ms 20] [--host-ms 50]
 *       [--recording bench/results/mail-converged.recording.json]
 *
 * What runs is the engine's real path for each host (runHost: facts, the read batch, parsing,
 * diffs, the report) inside runFleet, then the --json report of all hosts, as the CLI does; the
 * playbook and vars are loaded once. What does not: SSH (see the transport's comment).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "100,1000,10000" },
    concurrency: { type: "string", default: "20,200" },
    "rtt-ms": { type: "string", default: "20" },
    "host-ms": { type: "string" },
    recording: { type: "string", default: path.join(import.meta.dirname, "results/mail-converged.recording.json") },
    child: { type: "boolean", default: false },
  },
});

interface Figures {
  hosts: number;
  concurrency: number;
  wallMs: number;
  cpuMs: number;
  peakRssMb: number;
  ok: number;
  reportBytes: number;
}

async function child(): Promise<void> {
  const { loadPlaybook } = await import("../src/playbook/load-playbook.ts");
  const { validateVars } = await import("../src/playbook/vars.ts");
  const { runHost } = await import("../src/run/host-runner.ts");
  const { runFleet } = await import("../src/run/fleet-runner.ts");
  const { jsonReport } = await import("../src/report/json-report.ts");
  const { SimulatedTransport } = await import("./simulated-transport.ts");
  const recording = JSON.parse(fs.readFileSync(values.recording, "utf8"));
  const n = Number(values.hosts);
  const concurrency = Number(values.concurrency);
  const timing = { rttMs: Number(values["rtt-ms"]), ...(values["host-ms"] ? { hostMs: Number(values["host-ms"]) } : {}) };
  process.env.MAIL_BENCH_PASSWORD ??= "Bench-Pw-2231";
  const playbook = await loadPlaybook(path.join(import.meta.dirname, "../playbooks/mail.ts"));
  const raw = {
    hostname: "mail.example.test",
    users: [{ name: "bob", password: { fromEnv: "MAIL_BENCH_PASSWORD" } }],
    verify: { smtpFrom: "host" },
  };
  const hosts = Array.from({ length: n }, (_, i) => {
    const name = `sim${String(i).padStart(5, "0")}`;
    return { name, vars: validateVars(playbook, raw, name) };
  });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await runFleet({
    hosts,
    concurrency,
    runOne: ({ name, vars }) =>
      runHost({
        playbook,
        vars,
        host: { name, address: name },
        connect: async () => new SimulatedTransport(name, recording, timing),
        mode: "check",
      }),
  });
  const report = jsonReport({
    playbook: playbook.name,
    mode: "check",
    exitCode: 0,
    result: "ok",
    hosts: result.reports,
    rollout: { selected: result.selected, concurrency, batches: result.batches },
  });
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const figures: Figures = {
    hosts: n,
    concurrency,
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    ok: result.reports.filter((r) => r.status === "ok").length,
    reportBytes: report.length,
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

function parent(): void {
  const rows: Figures[] = [];
  for (const n of values.hosts.split(",").map(Number)) {
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error("--hosts: 1–100000");
    for (const c of values.concurrency.split(",").map(Number)) {
      const args = [
        path.join(import.meta.dirname, "../node_modules/.bin/tsx"),
        import.meta.filename,
        "--child",
        "--hosts",
        String(n),
        "--concurrency",
        String(c),
        "--rtt-ms",
        values["rtt-ms"],
        "--recording",
        values.recording,
        ...(values["host-ms"] ? ["--host-ms", values["host-ms"]] : []),
      ];
      const out = execFileSync(process.execPath, args, { encoding: "utf8", timeout: 20 * 60_000, maxBuffer: 1 << 20 });
      const figures = JSON.parse(out.trim().split("\n").pop() as string) as Figures;
      rows.push(figures);
      process.stderr.write(
        `${n} hosts, concurrency ${c}: ${(figures.wallMs / 1000).toFixed(2)} s wall, ${(figures.cpuMs / n).toFixed(2)} ms CPU/host, ${figures.peakRssMb.toFixed(0)} MB peak RSS, ${figures.ok}/${n} ok\n`,
      );
    }
  }
  console.log(`RTT ${values["rtt-ms"]} ms, host time ${values["host-ms"] ?? "as recorded"} ms per command\n`);
  console.log("| hosts | concurrency | wall | controller CPU | CPU / host | peak RSS | hosts ok | --json report |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${r.hosts} | ${r.concurrency} | ${(r.wallMs / 1000).toFixed(2)} s | ${(r.cpuMs / 1000).toFixed(2)} s | ${(r.cpuMs / r.hosts).toFixed(2)} ms | ${r.peakRssMb.toFixed(0)} MB | ${r.ok} | ${(r.reportBytes / 1e6).toFixed(1)} MB |`,
    );
  }
}

if (values.child) await child();
else parent();
