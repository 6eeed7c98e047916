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
 * Output that is not text (copy's NUL-separated listing) is stored base64 after a header line
 * `# encoding: "base64"` (the stdout lines are the base64, wrapped at 76 characters).
 *
 * `capturedRead(file, read)` takes the step's real `read()` and fails loudly when its command is no
 * longer the one that was captured ("the read of postconf changed: re-capture fixture …"), so a
 * changed read is never fed an output the host printed for another command. To capture: pipe
 * `step.read().command.text` to `ssh root@host sh`, and store the command with what it printed —
 * test/support/capture-read.ts does that for the fixtures it knows (their host state included).
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
  /** The output as text (UTF-8; for a base64 fixture, its decoded bytes as UTF-8). */
  stdout: string;
  /** The output's bytes, exact (what `result.stdout` holds). */
  stdoutBytes: Buffer;
  stderr: string;
  encoding?: "base64";
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
  const body = text.slice(split + STDOUT_LINE.length);
  const encoding = header.get("encoding");
  if (encoding !== undefined && encoding !== "base64") fail(`"encoding" must be "base64"`);
  if (encoding === "base64" && !/^[A-Za-z0-9+/=\n]*$/.test(body)) fail("the stdout of a base64 fixture is not base64");
  const stdoutBytes = encoding === "base64" ? Buffer.from(body.replace(/\n/g, ""), "base64") : Buffer.from(body);
  const value = {
    ...Object.fromEntries(header),
    stdout: encoding === "base64" ? stdoutBytes.toString("utf8") : body,
    stdoutBytes,
  } as CapturedFixture;
  for (const key of ["read", "command", "stderr"] as const) if (typeof value[key] !== "string") fail(`"${key}" must be a string`);
  if (!Number.isInteger(value.exitCode)) fail(`"exitCode" must be an integer`);
  return value;
}

/** A capture file's text: the header lines, then the output (verbatim, or base64 wrapped at 76). */
export function formatCaptured(
  fixture: Pick<CapturedFixture, "read" | "command" | "exitCode" | "stderr">,
  stdout: Buffer,
  encoding?: "base64",
): string {
  const lines = [
    `# read: ${JSON.stringify(fixture.read)}`,
    `# command: ${JSON.stringify(fixture.command)}`,
    `# exitCode: ${JSON.stringify(fixture.exitCode)}`,
    `# stderr: ${JSON.stringify(fixture.stderr)}`,
    ...(encoding ? [`# encoding: ${JSON.stringify(encoding)}`] : []),
  ];
  const body = encoding === "base64" ? `${(stdout.toString("base64").match(/.{1,76}/g) ?? []).join("\n")}\n` : stdout.toString("utf8");
  return `${lines.join("\n")}\n${STDOUT_LINE}${body}`;
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
    result: { exitCode: captured.exitCode, stdout: captured.stdoutBytes, stderr: Buffer.from(captured.stderr) },
  };
}
