/**
 * One host's connection as the runner and the steps see it. Built once on top of any Transport:
 * - commands are ShellCommands (built by `sh`), so quoting is never the caller's job;
 * - a command holding a secret is sent as a script on stdin (`sh -s`), never as argv;
 * - every exec is counted: round trips are the cost that dominates over real networks;
 * - a script on stdin is sent as ONE compound command, so a script cut short runs nothing;
 * - failures become CommandError: host, exit code and stderr tail first; the (masked) command is
 *   kept on the error (`command`, `detail()`) but not in the message — a write's whole script
 *   before its cause buries the cause.
 */
import { mask } from "../shell/mask.ts";
import type { ShellCommand } from "../shell/sh.ts";
import { isSecret, type Secret } from "../shell/secret.ts";
import type { ExecResult, Stdin, Transport } from "./transport.ts";

export interface RunOptions {
  stdin?: Stdin | Secret;
  timeoutMs?: number;
}

/** What `-v` prints: one command that went to a host (its masked text), how long it took, how it ended. */
export interface CommandRecord {
  host: string;
  command: string;
  durationMs: number;
  exitCode?: number;
  error?: string;
}

/**
 * Observers of every command sent by any session (the CLI's `-v`). Process-wide on purpose: sessions
 * are made deep in the runners, which need not know anyone is watching. Records hold no secret (the
 * display text is masked); an observer must not throw.
 */
export const commandObservers = new Set<(record: CommandRecord) => void>();

/** Commands longer than this go to the host as a script on stdin (`sh -s`), not as an argument. */
export const LONG_COMMAND_BYTES = 64 * 1024;

export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    readonly host: string,
    /** The command as sent, secrets masked: for a verbose mode (`detail()`), not the message. */
    readonly command: string,
    readonly result: ExecResult,
  ) {
    const stderrTail = tail(result.stderr.toString("utf8"), 5);
    // Cause first (exit code, stderr tail), then only the command's first line to recognise it.
    super(
      mask(`${host}: command failed with exit code ${result.exitCode}: ${stderrTail || "(no error output)"}\n${summarizeCommand(command)}`),
    );
  }

  /** The message followed by the whole command (masked), for a verbose report. */
  detail(): string {
    return `${this.message}\ncommand:\n${mask(this.command)}`;
  }
}

/** A command's first line, cut to 120 characters: enough to recognise it without the script. */
function summarizeCommand(command: string): string {
  const lines = command.split("\n");
  const first = (lines[0] ?? "").slice(0, 120);
  return `(command: ${first}${first.length < (lines[0] ?? "").length || lines.length > 1 ? " …" : ""})`;
}

/**
 * A script sent on stdin to `sh -s` runs as one `{ … }` group: the shell parses a compound
 * command whole before running any of it, so a script cut short (the connection lost, the
 * controller killed while it streamed) is a syntax error that runs nothing — not its first half,
 * nor a last line cut mid-word (`cp a /etc/sasl` for `cp a /etc/sasldb2.tmp`). A first comment
 * line (the runner's fragment headers) stays first, where test doubles look for it.
 */
export function wholeScript(text: string): string {
  const newline = text.indexOf("\n");
  const header = text.startsWith("#") && newline >= 0 ? text.slice(0, newline + 1) : "";
  return `${header}{\n${text.slice(header.length)}\n}\n`;
}

export function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export class HostSession {
  #roundTrips = 0;
  #transport: Transport;
  constructor(
    transport: Transport,
    /** Default per-command timeout. */
    readonly defaultTimeoutMs = 120_000,
  ) {
    this.#transport = transport;
  }

  get transport(): Transport {
    return this.#transport;
  }

  /**
   * Connect again (the host rebooted): the old connection is closed (its errors ignored: it is
   * usually dead already) and every later command goes through the new one. Throws what connect
   * throws, keeping the old transport.
   */
  async reconnect(connect: () => Promise<Transport>): Promise<void> {
    await this.#transport.close().catch(() => undefined);
    this.#transport = await connect();
  }

  get host(): string {
    return this.transport.host;
  }

  /** How many commands went to the host (each one is a network round trip). */
  get roundTrips(): number {
    return this.#roundTrips;
  }

  /** Run a command; a non-zero exit is a result, not an exception. */
  async run(command: ShellCommand, options: RunOptions = {}): Promise<ExecResult> {
    if (commandObservers.size === 0) return this.#send(command, options);
    const started = performance.now();
    const notify = (outcome: { exitCode: number } | { error: string }) => {
      const record = { host: this.host, command: mask(command.display), durationMs: performance.now() - started, ...outcome };
      for (const observer of commandObservers) observer(record);
    };
    try {
      const result = await this.#send(command, options);
      notify({ exitCode: result.exitCode });
      return result;
    } catch (error) {
      notify({ error: mask((error as Error).message) });
      throw error;
    }
  }

  async #send(command: ShellCommand, options: RunOptions): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const stdin = isSecret(options.stdin) ? options.stdin.reveal() : options.stdin;
    this.#roundTrips += 1;
    if (command.hasSecret || (stdin === undefined && Buffer.byteLength(command.text) > LONG_COMMAND_BYTES)) {
      if (stdin !== undefined) {
        throw new Error(`${this.host}: a command holding a secret cannot also take stdin: ${command.display}`);
      }
      // The script (with the secret inside a builtin printf) travels on stdin: no argv ever holds it.
      // So does a very long command (a big read batch): Linux refuses one argv string over 128 KiB.
      return this.transport.exec("sh -s", { stdin: wholeScript(command.text), timeoutMs });
    }
    return this.transport.exec(command.text, { stdin, timeoutMs });
  }

  /** Run a command and throw CommandError unless it exits 0. */
  async runOrThrow(command: ShellCommand, options: RunOptions = {}): Promise<ExecResult> {
    const result = await this.run(command, options);
    if (result.exitCode !== 0) throw new CommandError(this.host, command.display, result);
    return result;
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
