/**
 * Many reads, one round trip. The reads of several steps are wrapped in one script; each runs in
 * its own subshell with stdin closed (a read that consumed stdin would eat the script when it is
 * sent with `sh -s`), and after each one the script prints a random marker and the exit code on
 * stdout, and the marker on stderr. The output is split on those markers, bytes intact.
 */
import { randomBytes } from "node:crypto";
import { joinCommands, raw, sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";

const HEADER = "# provision-batch ";

export interface ReadBatch {
  command: ShellCommand;
  marker: string;
  count: number;
}

export function encodeBatch(fragments: readonly ShellCommand[], marker = newMarker()): ReadBatch {
  const parts = fragments.map(
    (fragment) =>
      sh`(
${fragment}
) </dev/null; printf '\\n%s %s\\n' ${raw(marker)} "$?"; printf '\\n%s\\n' ${raw(marker)} >&2`,
  );
  const command = joinCommands([sh`${raw(HEADER + marker)}`, ...parts], "\n");
  return { command, marker, count: fragments.length };
}

function newMarker(): string {
  return `provision-${randomBytes(12).toString("hex")}`;
}

/** Split the batch's output into one ExecResult per fragment. */
export function splitBatchOutput(batch: ReadBatch, result: ExecResult): ExecResult[] {
  const stdoutParts = splitOn(result.stdout, batch.marker, true);
  const stderrParts = splitOn(result.stderr, batch.marker, false);
  if (stdoutParts.length < batch.count) {
    const stderr = result.stderr.toString("utf8").trim().split("\n").slice(-5).join("\n");
    throw new Error(
      `read batch ended after ${stdoutParts.length} of ${batch.count} reads (exit ${result.exitCode})` + (stderr ? `: ${stderr}` : ""),
    );
  }
  return stdoutParts.slice(0, batch.count).map((part, index) => ({
    exitCode: part.exitCode,
    stdout: part.body,
    stderr: stderrParts[index]?.body ?? Buffer.alloc(0),
  }));
}

function splitOn(output: Buffer, marker: string, withCode: boolean): { body: Buffer; exitCode: number }[] {
  const parts: { body: Buffer; exitCode: number }[] = [];
  const needle = Buffer.from(`\n${marker}`);
  let start = 0;
  for (let guard = 0; guard < 100_000; guard += 1) {
    const at = output.indexOf(needle, start);
    if (at < 0) break;
    const lineEnd = output.indexOf(0x0a, at + needle.length);
    const end = lineEnd < 0 ? output.length : lineEnd;
    const code = withCode
      ? Number(
          output
            .subarray(at + needle.length, end)
            .toString("utf8")
            .trim(),
        )
      : 0;
    parts.push({ body: output.subarray(start, at), exitCode: Number.isFinite(code) ? code : 255 });
    start = end + 1;
  }
  return parts;
}

/** For the mock transport: recover the fragments of a batch script, or null if it is not one. */
export function decodeBatchScript(text: string): { marker: string; fragments: string[] } | null {
  if (!text.startsWith(HEADER)) return null;
  const marker = text.slice(HEADER.length, text.indexOf("\n"));
  const closing = `\n) </dev/null; printf '\\n%s %s\\n' ${marker} "$?"; printf '\\n%s\\n' ${marker} >&2`;
  const fragments: string[] = [];
  let rest = text.slice(text.indexOf("\n") + 1);
  for (let guard = 0; guard < 100_000 && rest.startsWith("(\n"); guard += 1) {
    const end = rest.indexOf(closing);
    if (end < 0) break;
    fragments.push(rest.slice(2, end));
    rest = rest.slice(end + closing.length + 1);
  }
  return { marker, fragments };
}

/** For the mock transport: frame per-fragment results the way the real script prints them. */
export function encodeBatchOutput(marker: string, results: readonly ExecResult[]): ExecResult {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  for (const result of results) {
    stdout.push(result.stdout, Buffer.from(`\n${marker} ${result.exitCode}\n`));
    stderr.push(result.stderr, Buffer.from(`\n${marker}\n`));
  }
  return { exitCode: 0, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) };
}
