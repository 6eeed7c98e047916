/**
 * `provision report merge`: the `--json` reports of the shards of one rollout (`--shard i/n`, run
 * as parallel jobs of a CI matrix or a Kubernetes Indexed Job) as one report with one exit code,
 * computed over every host as a single run would (exit-code.ts).
 *
 * Refused with a clear error naming the file: a file that is not a provision report (a job that
 * died mid-write), reports of different playbooks or modes, shards of different counts, a shard
 * given twice, a host in two reports. A shard that is missing (its job never reported) is not
 * silently left out: the merged report lists it under `merged.missingShards` and its exit code is
 * 1, whatever the hosts that did report say.
 */
import { z } from "zod";
import { EXIT_ERROR, overallResult } from "../cli/exit-code.ts";
import type { HostReport } from "./events.ts";
import type { RunReport } from "./json-report.ts";

export class ReportMergeError extends Error {
  override readonly name = "ReportMergeError";
}

// Only what the merge relies on is checked; the rest of each host's report is passed on as is.
const reportShape = z.object({
  playbook: z.string(),
  mode: z.enum(["apply", "check"]),
  exitCode: z.number().int(),
  result: z.string(),
  hosts: z.array(z.object({ host: z.string(), status: z.string() }).passthrough()),
  rollout: z
    .object({
      selected: z.number().int(),
      shard: z.object({ index: z.number().int(), count: z.number().int(), hosts: z.number().int() }).optional(),
      concurrency: z.number().int(),
      batches: z.array(z.unknown()),
      stopped: z.unknown().optional(),
    })
    .passthrough()
    .optional(),
});

export interface MergedReport extends Omit<RunReport, "rollout"> {
  merged: {
    files: string[];
    /** Shards reported (1-based indexes) of `count`, and those that did not report. */
    shards?: { count: number; reported: number[]; missingShards: number[] };
    /** Hosts selected by the rollout (every shard selects the same), when the reports say. */
    selected?: number;
    /** Shards whose rollout stopped early (--max-fail, --fail-fast): their reasons. */
    stopped: { file: string; reason: unknown }[];
  };
}

export function mergeReports(inputs: readonly { file: string; text: string }[]): MergedReport {
  if (inputs.length === 0) throw new ReportMergeError("report merge: no report files given");
  const reports = inputs.map(({ file, text }) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new ReportMergeError(`${file}: not JSON (${(error as Error).message}); was the job cut short?`);
    }
    const checked = reportShape.safeParse(parsed);
    if (!checked.success)
      throw new ReportMergeError(
        `${file}: not a provision --json report (${checked.error.issues[0]?.path.join(".") || "top level"}: ${checked.error.issues[0]?.message})`,
      );
    return { file, report: checked.data };
  });
  const first = reports[0] as (typeof reports)[number];
  for (const { file, report } of reports) {
    if (report.playbook !== first.report.playbook || report.mode !== first.report.mode) {
      throw new ReportMergeError(
        `${file}: playbook "${report.playbook}" (${report.mode}), but ${first.file} is "${first.report.playbook}" (${first.report.mode}): not one rollout`,
      );
    }
  }
  const shards = mergeShards(reports);
  const seen = new Map<string, string>();
  for (const { file, report } of reports) {
    for (const host of report.hosts) {
      const other = seen.get(host.host);
      if (other !== undefined)
        throw new ReportMergeError(`${file}: host ${host.host} is also in ${other}: the shards overlap, or a file is given twice`);
      seen.set(host.host, file);
    }
  }
  const hosts = reports.flatMap(({ report }) => report.hosts) as unknown as HostReport[];
  const overall = overallResult(hosts);
  const incomplete = (shards?.missingShards.length ?? 0) > 0;
  const selected = reports.find(({ report }) => report.rollout)?.report.rollout?.selected;
  return {
    playbook: first.report.playbook,
    mode: first.report.mode,
    exitCode: incomplete ? EXIT_ERROR : overall.exitCode,
    result: incomplete ? "failed" : overall.result,
    hosts,
    merged: {
      files: reports.map(({ file }) => file),
      ...(shards ? { shards } : {}),
      ...(selected !== undefined ? { selected } : {}),
      stopped: reports.flatMap(({ file, report }) => (report.rollout?.stopped ? [{ file, reason: report.rollout.stopped }] : [])),
    },
  };
}

function mergeShards(reports: { file: string; report: z.infer<typeof reportShape> }[]): MergedReport["merged"]["shards"] {
  const sharded = reports.filter(({ report }) => report.rollout?.shard);
  if (sharded.length === 0) return undefined;
  if (sharded.length !== reports.length) {
    const plain = reports.find(({ report }) => !report.rollout?.shard);
    throw new ReportMergeError(`${plain?.file}: not a shard's report, but ${sharded[0]?.file} is: merge the shards of one rollout`);
  }
  const count = sharded[0]?.report.rollout?.shard?.count as number;
  const byIndex = new Map<number, string>();
  for (const { file, report } of sharded) {
    const shard = report.rollout?.shard as { index: number; count: number };
    if (shard.count !== count)
      throw new ReportMergeError(`${file}: shard ${shard.index}/${shard.count}, but ${sharded[0]?.file} is of ${count} shards`);
    const twice = byIndex.get(shard.index);
    if (twice !== undefined) throw new ReportMergeError(`${file}: shard ${shard.index}/${count} again (also ${twice})`);
    byIndex.set(shard.index, file);
  }
  const reported = [...byIndex.keys()].sort((a, b) => a - b);
  const missingShards = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  return { count, reported, missingShards };
}
