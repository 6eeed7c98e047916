/**
 * Where the CPU goes in one provision run: `node --cpu-prof` on the CLI, then self time summed
 * by where the code lives (a package in node_modules, a src/ dir, node internals, GC, idle).
 *
 *   npx tsx bench/cpu-profile.ts -- run playbooks/mail.ts --host … --check   (profiles that CLI run)
 *   npx tsx bench/cpu-profile.ts FILE.cpuprofile                                (summarises a profile)
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const REPO = path.resolve(import.meta.dirname, "..");

export function summarise(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const key = node ? bucket(node.callFrame.url, node.callFrame.functionName) : "?";
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const total = (profile.endTime - profile.startTime) / 1000;
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `profile span ${total.toFixed(0)} ms (self time by place, ms):`,
    ...rows.map(([k, ms]) => `${ms.toFixed(0).padStart(7)}  ${k}`),
  ].join("\n");
}

function bucket(url: string, fn: string): string {
  if (!url) return fn.startsWith("(") ? fn : `(native) ${fn}`;
  const file = url.replace(/^file:\/\//, "").replace(/\?.*$/, "");
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (nm) return `npm:${nm[1]}`;
  if (file.startsWith("node:")) return `node:${file.slice(5).split("/")[0]}`;
  if (file.startsWith(REPO)) return path.relative(REPO, file).split("/").slice(0, 2).join("/");
  return file;
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] !== "--") {
    for (const file of argv) console.log(summarise(JSON.parse(fs.readFileSync(file, "utf8")) as Profile));
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "provision-prof-"));
  const run = spawnSync(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, path.join(REPO, "bin/provision.js"), ...argv.slice(1)], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "inherit"],
  });
  console.log(`exit ${run.status}; profiles in ${dir}`);
  for (const file of fs.readdirSync(dir)) console.log(summarise(JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as Profile));
}

if (process.argv[1] && import.meta.filename === path.resolve(process.argv[1])) await main(process.argv.slice(2));
