/** The `--json` document: one object, every host's steps, and the overall result. Masked deep. */
import { maskDeep } from "../shell/mask.ts";
import type { HostReport } from "./events.ts";

/** Fleets: how the rollout went (batches, shard, and why it stopped, if it did). */
export interface RolloutReport {
  /** Hosts selected (before --shard). */
  selected: number;
  shard?: { index: number; count: number; hosts: number };
  concurrency: number;
  batches: { index: number; hosts: string[]; failed: number; status: "completed" | "stopped" | "not-started" }[];
  stopped?: { reason: string; batch: number };
}

export interface RunReport {
  playbook: string;
  mode: "apply" | "check";
  exitCode: number;
  result: "ok" | "changed" | "drift" | "failed";
  hosts: HostReport[];
  rollout?: RolloutReport;
}

export function jsonReport(report: RunReport): string {
  return `${JSON.stringify(maskDeep(report), null, 2)}\n`;
}
