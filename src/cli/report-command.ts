/**
 * `provision report merge FILE…`: one report and one exit code from the `--json` reports of a
 * sharded rollout's jobs (src/report/merge-reports.ts). The merged report goes to stdout (JSON), a
 * one-line summary to stderr; the exit code is the one a single run over all the hosts would have
 * had (0 / 2 drift / 1 failure), and 1 when a shard did not report.
 */
import { readFile } from "node:fs/promises";
import { mergeReports, ReportMergeError } from "../report/merge-reports.ts";
import { UsageError } from "./args.ts";

export const REPORT_USAGE = "usage: provision report merge <report.json>…   (the --json reports of the shards of one rollout)";

export async function reportCommand(
  argv: readonly string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  const [verb, ...files] = argv;
  if (verb !== "merge") throw new UsageError(`provision report: unknown verb "${verb ?? ""}"\n${REPORT_USAGE}`);
  if (files.length === 0 || files.some((f) => f.startsWith("-")))
    throw new UsageError(`provision report merge: give the report files\n${REPORT_USAGE}`);
  const inputs = await Promise.all(
    files.map(async (file) => {
      try {
        return { file, text: await readFile(file, "utf8") };
      } catch (error) {
        throw new ReportMergeError(
          `${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); did its job report?`,
        );
      }
    }),
  );
  const merged = mergeReports(inputs);
  io.stdout.write(`${JSON.stringify(merged, null, 2)}\n`);
  const failed = merged.hosts.filter((h) => h.status === "failed" || h.status === "unreachable" || h.status === "not-started").length;
  const drift = merged.hosts.filter((h) => h.status === "drift").length;
  const shards = merged.merged.shards;
  const shardText = shards
    ? `, shards ${shards.reported.join(",")} of ${shards.count}${shards.missingShards.length ? ` (MISSING: ${shards.missingShards.join(",")})` : ""}`
    : "";
  io.stderr.write(
    `provision: merged ${files.length} report(s)${shardText}: ${merged.hosts.length} hosts, ${failed} failed, ${drift} drift → exit ${merged.exitCode}\n`,
  );
  return merged.exitCode;
}
