/**
 * Runs commands on this machine with /bin/sh, for `--host localhost`. Output is collected as
 * Buffers and concatenated once (never decoded chunk by chunk).
 *
 * Each command runs in a process group of its own (so a timeout kills it with all its children)
 * and ends with the controller: a group of its own also means Ctrl-C on the terminal does not
 * reach it, and nothing would stop it when the controller is killed — the command would outlive
 * its run while the host lock counts that run as dead. So a watchdog in the group waits on a pipe
 * (fd 3) whose other end only the controller holds: a line on it means "the command is done, go";
 * end-of-file means the controller is gone (killed, crashed, exited on Ctrl-C), and the watchdog
 * KILLs the whole group. Every command also carries PROVISION_RUN (RUN_ID_ENV) for the lock.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { Writable } from "node:stream";
import { endWithStdin, RUN_ID_ENV, TransportError, type ExecOptions, type ExecResult, type Transport } from "./transport.ts";

/**
 * $1 is the command. The watchdog is a subshell running only builtins (`read`, `kill`), so a
 * KILL of the group leaves nothing; the command is exec'd so it keeps the shell's pid (and the
 * controller stays its parent, as the lock's holder check expects).
 */
const WATCHDOG = `(if read -r _ <&3; then exit 0; fi; kill -KILL 0) </dev/null >/dev/null 2>&1 &
exec 3<&-
exec /bin/sh -c "$1"`;

export class LocalTransport implements Transport {
  /** Every command of this transport carries it as PROVISION_RUN. */
  readonly runId = randomBytes(8).toString("hex");
  constructor(readonly host = "localhost") {}

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = spawn("/bin/sh", ["-c", WATCHDOG, "sh", command], {
        stdio: ["pipe", "pipe", "pipe", "pipe"],
        detached: true,
        env: { ...process.env, [RUN_ID_ENV]: this.runId },
      });
      const watchdog = child.stdio[3] as Writable | null;
      watchdog?.on("error", () => undefined);
      // The command is over: release the watchdog (end-of-file alone would mean "controller gone").
      child.on("exit", () => watchdog?.end("done\n"));
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
      endWithStdin(child.stdin, options.stdin);
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
