/**
 * Runs commands on this machine with /bin/sh, for `--host localhost`. Output is collected as
 * Buffers and concatenated once (never decoded chunk by chunk). A timeout kills the whole process
 * group, so a command's children do not outlive it.
 */
import { spawn } from "node:child_process";
import { TransportError, type ExecOptions, type ExecResult, type Transport } from "./transport.ts";

export class LocalTransport implements Transport {
  constructor(readonly host = "localhost") {}

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = spawn("/bin/sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"], detached: true });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let timedOut = false;
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              killGroup(child.pid);
            }, options.timeoutMs);
      child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(new TransportError(this.host, "connect", `cannot run /bin/sh: ${error.message}`, { cause: error }));
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        if (timedOut) {
          reject(new TransportError(this.host, "timeout", `command timed out after ${options.timeoutMs} ms`));
          return;
        }
        resolve({
          exitCode: code ?? 128 + signalNumber(signal),
          stdout: Buffer.concat(stdout),
          stderr: Buffer.concat(stderr),
        });
      });
      // A command that does not read its stdin closes the pipe early: that is not an error.
      child.stdin.on("error", () => undefined);
      child.stdin.end(options.stdin ?? "");
    });
  }

  async close(): Promise<void> {}
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };
  return (signal && numbers[signal]) ?? 0;
}
