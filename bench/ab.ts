/**
 * A/B of two provision checkouts on the same host at one network distance, alternating runs (so
 * drift in the machine's load hits both alike): `--a DIR --b DIR` (each a checkout with its engine
 * built), converged re-run and converged --check, N runs each, medians. For engine changes whose
 * effect is smaller than the day-to-day spread between full tables.
 *
 *   sudo npx tsx bench/ab.ts --a /path/old --b . --rtt 100 --runs 7
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { atDistance } from "./distance.ts";
import { startFleet, useInstance } from "./fleet.ts";
import { measure } from "./measure.ts";
import { summarize } from "./stats.ts";
import { commandFor, PASSWORD_ENV, prepareTarget, useNode } from "./tools.ts";
import fs from "node:fs";
import os from "node:os";

const { values } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string" },
    rtt: { type: "string", default: "100" },
    runs: { type: "string", default: "7" },
    instance: { type: "string", default: "3" },
    node: { type: "string" },
  },
});
if (!values.a || !values.b) throw new Error("--a DIR --b DIR: two provision checkouts");
const runs = Math.min(50, Math.max(1, Number(values.runs)));
const rtt = Number(values.rtt);
useInstance(Number(values.instance));
useNode(values.node);
process.env[PASSWORD_ENV] ??= "bench-ab-password";
const work = fs.mkdtempSync(path.join(os.tmpdir(), "provision-ab-"));
const log = (message: string) => process.stderr.write(`[ab] ${message}\n`);
const fleet = await startFleet(1, log);
try {
  const distant = await atDistance(fleet, rtt, path.join(work, "d"));
  try {
    const target = prepareTarget("provision", distant.hosts, distant.fleet, path.join(work, "t"));
    const checkouts = { a: path.resolve(values.a), b: path.resolve(values.b) };
    const argvFor = (dir: string, scenario: "apply-fresh" | "converged" | "check") => {
      const { argv, env } = commandFor(target, scenario, 0);
      // commandFor names this checkout's bin/provision.js and playbook: point both at `dir`.
      return { argv: argv.map((a) => a.replace(path.resolve(import.meta.dirname, ".."), dir)), env };
    };
    const first = argvFor(checkouts.b, "apply-fresh");
    const applied = await measure(first.argv, { env: first.env });
    if (applied.code !== 0) throw new Error(`apply failed: ${applied.stderr.slice(-500)}`);
    const walls: Record<string, number[]> = {};
    for (let run = 0; run < runs; run += 1) {
      for (const scenario of ["converged", "check"] as const) {
        for (const side of run % 2 === 0 ? (["a", "b"] as const) : (["b", "a"] as const)) {
          const { argv, env } = argvFor(checkouts[side], scenario);
          const sample = await measure(argv, { env });
          const key = `${side} ${scenario}`;
          (walls[key] ??= []).push(sample.wallMs);
          log(`${key} ${(sample.wallMs / 1000).toFixed(3)} s (exit ${sample.code})`);
        }
      }
    }
    for (const [key, list] of Object.entries(walls).sort()) {
      process.stdout.write(
        `${key}: median ${((summarize(list)?.median ?? 0) / 1000).toFixed(3)} s of ${list.length} (${list.map((w) => (w / 1000).toFixed(2)).join(" ")})\n`,
      );
    }
  } finally {
    await distant.close();
  }
} finally {
  await fleet.stop();
}
