/** The `--json` document: one object, every host's steps, and the overall result. Masked deep. */
import { maskDeep } from "../shell/mask.ts";
import type { HostReport } from "./events.ts";

export interface RunReport {
  playbook: string;
  mode: "apply" | "check";
  exitCode: number;
  result: "ok" | "changed" | "drift" | "failed";
  hosts: HostReport[];
}

export function jsonReport(report: RunReport): string {
  return `${JSON.stringify(maskDeep(report), null, 2)}\n`;
}
