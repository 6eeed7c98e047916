/**
 * Captured host output, stored with the command that produced it (as pyinfra keeps
 * command/output/fact per fixture). One format: a `.txt` whose header lines are `# <key>: <JSON>`
 * and whose stdout follows the `# stdout:` line verbatim, to the end of the file:
 *
 *     # read: "postconf"
 *     # command: "postconf -n || exit $?\n…"
 *     # exitCode: 0
 *     # stderr: ""
 *     # stdout:
 *     alias_database = hash:/etc/aliases
 *     …
 *
 * `capturedRead(file, read)` takes the step's real `read()` and fails loudly when its command is no
 * longer the one that was captured ("the read of postconf changed: re-capture fixture …"), so a
 * changed read is never fed an output the host printed for another command. To capture: pipe
 * `step.read().command.text` to `ssh root@host sh`, and store the command with what it printed.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { ReadSpec } from "../../src/playbook/step.ts";
import type { ExecResult } from "../../src/transport/transport.ts";

export interface CapturedFixture {
  /** What was read (the step's name), for the message when the command changed. */
  read: string;
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The fixture's path from the working directory (the repository when tests run). */
const shown = (file: string | URL): string => relative(process.cwd(), file instanceof URL ? fileURLToPath(file) : file);

export class CapturedReadChangedError extends Error {}

const HEADER_KEYS = ["read", "command", "exitCode", "stderr"] as const;
const STDOUT_LINE = "# stdout:\n";

/** A capture file, checked for its shape (not yet against a read). */
export function loadCaptured(file: string | URL): CapturedFixture {
  const text = readFileSync(file, "utf8");
  const fail = (why: string): never => {
    throw new Error(`captured fixture ${String(file)}: ${why}`);
  };
  const split = text.indexOf(STDOUT_LINE);
  if (split < 0) fail(`no "# stdout:" line`);
  const header = new Map<string, unknown>();
  for (const line of text.slice(0, split).split("\n").filter(Boolean)) {
    const m = /^# ([A-Za-z]+): (.*)$/.exec(line);
    if (!m?.[1] || m[2] === undefined) return fail(`header line ${JSON.stringify(line)} is not "# <key>: <JSON>"`);
    header.set(m[1], JSON.parse(m[2]));
  }
  for (const key of HEADER_KEYS) if (!header.has(key)) fail(`no "# ${key}:" line`);
  const value = { ...Object.fromEntries(header), stdout: text.slice(split + STDOUT_LINE.length) } as CapturedFixture;
  for (const key of ["read", "command", "stderr"] as const) if (typeof value[key] !== "string") fail(`"${key}" must be a string`);
  if (!Number.isInteger(value.exitCode)) fail(`"exitCode" must be an integer`);
  return value;
}

/** The command a read sends (a remote read's shell text). */
export function readCommand(read: ReadSpec<unknown>): string {
  if (!("command" in read)) throw new Error("capturedRead: a local read has no host command to capture");
  return read.command.text;
}

/**
 * The captured output for this read, after asserting the read still sends the captured command.
 * `stdout`/`stderr` as text, and `result` as the transport returns it (for `read.parse`).
 */
export function capturedRead(file: string | URL, read: ReadSpec<unknown>): CapturedFixture & { result: ExecResult } {
  const captured = loadCaptured(file);
  const command = readCommand(read);
  if (command !== captured.command) {
    throw new CapturedReadChangedError(
      `the read of ${captured.read} changed: re-capture fixture ${shown(file)}\n` +
        `captured: ${JSON.stringify(captured.command)}\nnow:      ${JSON.stringify(command)}`,
    );
  }
  return {
    ...captured,
    result: { exitCode: captured.exitCode, stdout: Buffer.from(captured.stdout), stderr: Buffer.from(captured.stderr) },
  };
}
