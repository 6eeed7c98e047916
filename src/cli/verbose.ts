/** `-v`: every command that goes to a host, masked, with its duration and exit code, on stderr. */
import { commandObservers, type CommandRecord } from "../transport/host-session.ts";
import { indent } from "../report/indent.ts";

/** Start printing; returns the function that stops it. Nothing is printed below verbosity 1. */
export function watchCommands(verbosity: number, stderr: { write(text: string): unknown }): () => void {
  if (verbosity < 1) return () => undefined;
  const observer = (record: CommandRecord) => void stderr.write(formatCommandRecord(record));
  commandObservers.add(observer);
  return () => void commandObservers.delete(observer);
}

export function formatCommandRecord(record: CommandRecord): string {
  const outcome = record.error !== undefined ? `error: ${record.error}` : `exit ${record.exitCode}`;
  const command = record.command.includes("\n") ? `\n${indent(record.command)}` : ` ${record.command}`;
  return `provision: ${record.host}: ${outcome} in ${(record.durationMs / 1000).toFixed(3)} s:${command}\n`;
}
