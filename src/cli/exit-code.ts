/**
 * Exit codes, like Terraform's -detailed-exitcode: 0 success (and no drift), 2 drift found in
 * --check, 1 any error (a failed or unreachable host, bad input).
 */
import type { HostReport } from "../report/events.ts";
import type { RunReport } from "../report/json-report.ts";

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_DRIFT = 2;

export function overallResult(hosts: readonly HostReport[]): { exitCode: number; result: RunReport["result"] } {
  if (hosts.some((h) => h.status === "failed" || h.status === "unreachable" || h.status === "not-started")) {
    return { exitCode: EXIT_ERROR, result: "failed" };
  }
  if (hosts.some((h) => h.status === "drift")) return { exitCode: EXIT_DRIFT, result: "drift" };
  if (hosts.some((h) => h.status === "changed")) return { exitCode: EXIT_OK, result: "changed" };
  return { exitCode: EXIT_OK, result: "ok" };
}
