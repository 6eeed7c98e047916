/**
 * ProxyCommand: a local command whose stdin and stdout carry the SSH connection (ssh2's `sock`
 * option takes any Duplex). As OpenSSH does, the command (its tokens already expanded, see
 * ssh-config.ts) runs with `/bin/sh -c "exec …"`, from the controller's configuration — the
 * controller is trusted (SECURITY.md); an inventory's value is the controller's file too.
 *
 * The process never outlives its connection: it is killed (TERM, then KILL after a grace) when the
 * socket closes for any reason — the connection ended, failed, or the handshake timed out — and
 * on process exit. Its stderr is kept (the last 2 KiB) for the error message when it fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Duplex } from "node:stream";

const STDERR_TAIL_BYTES = 2048;
const KILL_GRACE_MS = 2_000;
const EXIT_GRACE_MS = 1_000;
const STDERR_SETTLE_MS = 1_000;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

export interface ProxySocket {
  socket: Duplex;
  child: ChildProcess;
  /** What the command printed on stderr (the tail), for messages. */
  stderr(): string;
  /**
   * The same, once stderr has been read to its end (or after a bound): a write to a command that
   * already exited fails with EPIPE before its last words have been read, and the message would
   * then lose exactly the line that says why.
   */
  finalStderr(): Promise<string>;
}

export function spawnProxyCommand(command: string): ProxySocket {
  const child = spawn("/bin/sh", ["-c", `exec ${command}`], { stdio: ["pipe", "pipe", "pipe"] });
  running.add(child);
  installExitHook();
  let tail = Buffer.alloc(0);
  let stderrEnded = child.stderr === null;
  const stderrWaiters: Array<() => void> = [];
  child.stderr?.on("data", (chunk: Buffer) => {
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > STDERR_TAIL_BYTES) tail = tail.subarray(tail.length - STDERR_TAIL_BYTES);
  });
  child.stderr?.on("close", () => {
    stderrEnded = true;
    for (const wake of stderrWaiters.splice(0)) wake();
  });
  const stderr = () => tail.toString("utf8").trim();
  const socket = Duplex.from({ readable: child.stdout, writable: child.stdin });
  const stop = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
    timer.unref();
    child.once("exit", () => clearTimeout(timer));
  };
  socket.on("close", stop);
  // ssh2 ending its side is the end of the connection: a command that keeps its stdout open
  // (it ignores EOF on stdin) would otherwise keep the socket — and itself — alive.
  socket.on("finish", () => socket.destroy());
  // Writes after the command died must not crash the process; ssh2 sees the close.
  socket.on("error", () => undefined);
  child.stdin?.on("error", () => undefined);
  child.on("error", (error) => socket.destroy(error));
  // A command that ended ends the connection (ssh2 reports it closed): once its output has been
  // read to the end, or a moment after it exited if nobody reads it. (The child's own "close"
  // waits for our end of its stdin too, so it is no signal here.)
  const end = () => {
    if (!socket.destroyed) socket.destroy();
  };
  child.stdout?.on("close", () => setImmediate(end));
  child.on("exit", () => {
    running.delete(child);
    setTimeout(end, EXIT_GRACE_MS).unref();
  });
  const finalStderr = async (): Promise<string> => {
    if (!stderrEnded) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STDERR_SETTLE_MS);
        timer.unref();
        stderrWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return stderr();
  };
  return { socket, child, stderr, finalStderr };
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}
