/**
 * Many reads, one round trip. The reads of several steps are wrapped in one script; each runs in
 * its own subshell with stdin closed (a read that consumed stdin would eat the script when it is
 * sent with `sh -s`), and after each one the script prints a random marker and the exit code on
 * stdout, and the marker on stderr. The output is split on those markers, bytes intact.
 */
import { randomBytes } from "node:crypto";
import { joinCommands, raw, sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";
import { scriptHeader } from "../shell/script-header.ts";

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
  // The header says where each fragment is in the text after it ([start, length]): a reader (the
  // mock host) recovers them without knowing how the script frames them.
  const spans: [number, number][] = [];
  let at = 0;
  for (const [index, fragment] of fragments.entries()) {
    spans.push([at + 2, fragment.text.length]);
    at += (parts[index] as ShellCommand).text.length + 1;
  }
  const command = joinCommands([sh`${scriptHeader("batch", { marker, fragments: spans })}`, ...parts], "\n");
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
