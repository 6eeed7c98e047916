/**
 * `provision run ARGS` in this process (no spawn): the exit code, what it printed, and the error
 * it threw (bad input throws before anything runs; bin/provision.js would print it and exit 1).
 */
import { parseRunArgs } from "../../src/cli/args.ts";
import { runCommand } from "../../src/cli/run-command.ts";
import { CaptureStream } from "./capture-stream.ts";

export interface InProcessRun {
  code: number;
  stdout: string;
  stderr: string;
  error?: Error;
}

export async function runInProcess(argv: string[]): Promise<InProcessRun> {
  const stdout = new CaptureStream();
  const stderr = new CaptureStream();
  try {
    const code = await runCommand(parseRunArgs(argv), { stdout: stdout as never, stderr: stderr as never });
    return { code, stdout: stdout.text, stderr: stderr.text };
  } catch (error) {
    return { code: 1, stdout: stdout.text, stderr: stderr.text, error: error as Error };
  }
}
