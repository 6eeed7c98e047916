/** The results table (markdown) from the samples of a benchmark run. */
import { seconds, summarize, type Summary } from "./stats.ts";
import type { FloorKind } from "./floor.ts";
import { SCENARIOS, type Scenario, type Tool } from "./tools.ts";

export interface Sample {
  hosts: number;
  /** Network distance the run was made at (latency proxy; absent in older samples: 0). */
  rttMs?: number;
  round: number;
  tool: Tool | FloorKind;
  scenario: Scenario | "floor";
  wallMs: number;
  cpuMs: number;
  ok: boolean;
  why?: string;
  roundTrips?: number;
  readRoundTrips?: number;
  /** sshd connections accepted by the tool's first host during the run. */
  connections?: number;
  changed?: number;
}

const LABEL: Record<Scenario, string> = {
  "apply-fresh": "first apply (fresh hosts)",
  converged: "converged re-run",
  check: "converged --check",
  "check-drift": "--check, 1 setting drifted",
};

export function renderTable(samples: readonly Sample[]): string {
  const good = samples.filter((s) => s.ok);
  const pick = (hosts: number, rtt: number, tool: string, scenario: string) =>
    good.filter((s) => s.hosts === hosts && (s.rttMs ?? 0) === rtt && s.tool === tool && s.scenario === scenario);
  const wall = (list: Sample[]) => summarize(list.map((s) => s.wallMs));
  const cpu = (list: Sample[]) => summarize(list.map((s) => s.cpuMs));
  const ratio = (a?: Summary, b?: Summary) => (a && b ? `${(a.median / b.median).toFixed(1)}×` : "—");
  const distinct = (list: Sample[], key: "roundTrips" | "readRoundTrips" | "connections") => {
    const values = [...new Set(list.map((s) => s[key]).filter((v) => v !== undefined))];
    return values.length ? values.join("/") : "—";
  };
  const lines = [
    "| hosts | RTT | scenario | provision wall | Ansible wall | Ansible ÷ provision | provision CPU | Ansible CPU | provision round trips/host (reads) | connections/host (provision / Ansible) |",
    "|---:|---:|---|---|---|---:|---:|---:|---|---|",
  ];
  const hostCounts = [...new Set(samples.map((s) => s.hosts))].sort((a, b) => a - b);
  const rtts = [...new Set(samples.map((s) => s.rttMs ?? 0))].sort((a, b) => a - b);
  for (const hosts of hostCounts)
    for (const rtt of rtts) {
      for (const scenario of SCENARIOS) {
        const p = pick(hosts, rtt, "provision", scenario);
        const a = pick(hosts, rtt, "ansible", scenario);
        if (p.length + a.length === 0) continue;
        lines.push(
          `| ${hosts} | ${rtt} ms | ${LABEL[scenario]} | ${seconds(wall(p))} | ${seconds(wall(a))} | ${ratio(wall(a), wall(p))} | ${seconds(cpu(p), false)} | ${seconds(cpu(a), false)} | ${p.length ? `${distinct(p, "roundTrips")} (${distinct(p, "readRoundTrips")})` : "—"} | ${distinct(p, "connections")} / ${distinct(a, "connections")} |`,
        );
      }
      for (const floor of ["floor-ssh2", "floor-openssh"] as const) {
        const f = pick(hosts, rtt, floor, "floor");
        if (f.length === 0) continue;
        const check = wall(pick(hosts, rtt, "provision", "check"));
        lines.push(
          `| ${hosts} | ${rtt} ms | floor: ${floor === "floor-ssh2" ? "ssh2 (Node) connect + `true`" : "OpenSSH `ssh host true`"} | ${seconds(wall(f))} | | provision --check ÷ floor: ${ratio(check, wall(f))} | ${seconds(cpu(f), false)} | | 1 | 1 |`,
        );
      }
    }
  const failed = samples.filter((s) => !s.ok);
  if (failed.length) {
    lines.push(
      "",
      `Left out (the run did not do what the scenario needs): ${failed.map((s) => `${s.hosts}h ${s.rttMs ?? 0}ms r${s.round} ${s.tool} ${s.scenario}: ${s.why}`).join("; ")}`,
    );
  }
  return lines.join("\n");
}
