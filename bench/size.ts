/**
 * Cost growth with playbook size: a converged `--check` of a playbook of N `file` steps on one real
 * host (a fleet up on the bench's instance). Round trips must stay constant (facts + one batch);
 * time should grow linearly with a small slope.
 *
 *   npx tsx bench/size.ts --host 10.213.6.10 --identity K --known-hosts KH [--sizes 10,100,1000] [--rounds 3]
 *
 * Each size: a generated playbook (one directory, N files of one line, under /tmp/provision-size-N
 * on the host). The files are first written by one OpenSSH command (a shell loop on the host: a
 * first apply of 1,000 file steps is ~3,000 round trips, minutes on this shared machine, and is not
 * what is measured), then provision applies the playbook (which must find it converged or make it
 * so), then `--rounds` converged checks are measured like bench/run.ts's (wall, CPU of the process
 * tree through cgroup2).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { measure } from "./measure.ts";
import { summarize } from "./stats.ts";
import { REPO } from "./tools.ts";

const { values } = parseArgs({
  options: {
    host: { type: "string" },
    identity: { type: "string" },
    "known-hosts": { type: "string" },
    sizes: { type: "string", default: "10,100,1000" },
    rounds: { type: "string", default: "3" },
  },
});
const sizes = values.sizes.split(",").map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 5000)) throw new Error("--sizes: 1–5000 steps");
const rounds = Number(values.rounds);
if (!(rounds >= 1 && rounds <= 20)) throw new Error("--rounds: 1–20");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "provision-size-"));
fs.writeFileSync(path.join(work, "package.json"), `{"type":"module"}\n`);

function playbookFor(n: number): string {
  const file = path.join(work, `size-${n}.ts`);
  fs.writeFileSync(
    file,
    `import { definePlaybook, directory, file, z } from ${JSON.stringify(path.join(REPO, "src/index.ts"))};
export default definePlaybook({ name: "size-${n}", vars: z.object({}), steps: () => [
  directory({ path: "/tmp/provision-size-${n}", mode: "0755" }),
  ...Array.from({ length: ${n} }, (_, i) => file({ path: \`/tmp/provision-size-${n}/f\${i}.txt\`, content: \`file \${i}\\n\`, mode: "0644" })),
] });
`,
  );
  return file;
}

const argv = (playbook: string, check: boolean) => [
  process.execPath,
  path.join(REPO, "bin/provision.js"),
  "run",
  playbook,
  "--host",
  values.host ?? "",
  "--user",
  "root",
  "--identity",
  values.identity ?? "",
  "--known-hosts",
  values["known-hosts"] ?? "",
  "--ssh-config",
  "/dev/null",
  "--json",
  ...(check ? ["--check"] : []),
];

const rows: { n: number; wallMs: number; cpuMs: number; roundTrips: number; readRoundTrips: number }[] = [];
for (const n of sizes) {
  const playbook = playbookFor(n);
  const dir = `/tmp/provision-size-${n}`;
  execFileSync(
    "ssh",
    [
      "-i",
      values.identity ?? "",
      "-o",
      `UserKnownHostsFile=${values["known-hosts"]}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
      "-F",
      "/dev/null",
      `root@${values.host}`,
      `mkdir -p ${dir} && chmod 0755 ${dir} && cd ${dir} && i=0; while [ $i -lt ${n} ]; do printf 'file %s\\n' $i > f$i.txt; i=$((i + 1)); done; chmod 0644 f*.txt`,
    ],
    { timeout: 120_000 },
  );
  const applied = await measure(argv(playbook, false), { env: { ...process.env, CI: "1" } });
  if (applied.code !== 0) throw new Error(`size ${n}: apply exit ${applied.code}: ${applied.stderr.slice(-300)}`);
  const walls: number[] = [];
  const cpus: number[] = [];
  let trips = { roundTrips: 0, readRoundTrips: 0 };
  for (let r = 0; r < rounds; r += 1) {
    const sample = await measure(argv(playbook, true), { env: { ...process.env, CI: "1" } });
    const report = JSON.parse(sample.stdout) as {
      exitCode: number;
      hosts: { status: string; roundTrips: number; readRoundTrips: number; steps: unknown[] }[];
    };
    const h = report.hosts[0];
    if (sample.code !== 0 || h?.status !== "ok" || h.steps.length !== n + 1)
      throw new Error(`size ${n}: not a converged check (exit ${sample.code}, ${h?.status})`);
    trips = { roundTrips: h.roundTrips, readRoundTrips: h.readRoundTrips };
    walls.push(sample.wallMs);
    cpus.push(sample.userMs + sample.sysMs);
  }
  rows.push({ n, wallMs: summarize(walls)?.median ?? 0, cpuMs: summarize(cpus)?.median ?? 0, ...trips });
  process.stderr.write(
    `${n} steps: ${(rows.at(-1)!.wallMs / 1000).toFixed(2)} s wall, ${(rows.at(-1)!.cpuMs / 1000).toFixed(2)} s CPU, ${trips.roundTrips} round trips\n`,
  );
}
console.log("| file steps | round trips (reads) | wall (median) | controller CPU (median) | CPU per extra step |");
console.log("|---:|---|---:|---:|---:|");
rows.forEach((r, i) => {
  const prev = rows[i - 1];
  const slope = prev ? `${((r.cpuMs - prev.cpuMs) / (r.n - prev.n)).toFixed(2)} ms` : "—";
  console.log(
    `| ${r.n} | ${r.roundTrips} (${r.readRoundTrips}) | ${(r.wallMs / 1000).toFixed(2)} s | ${(r.cpuMs / 1000).toFixed(2)} s | ${slope} |`,
  );
});
fs.rmSync(work, { recursive: true, force: true });
