/**
 * An in-memory host for unit tests. It records every command (and its stdin) and answers from
 * scripted fixtures: a matcher (substring, RegExp or predicate) → a result or a function of the
 * command. Batched reads are split into their fragments, answered one by one, and framed back the
 * way the real script prints them, so tests see exactly what each step sent. A small file store
 * answers the commands of remote-file (read and atomic write), known by their header lines
 * (`# provision-file read v1 {"path":…}`), so file-based steps run for real.
 *
 * The runner's own scripts (the read batch, the host lock, the owed-handlers record) are known by
 * their first line, `# provision-<name> v1 <json args>` (src/shell/script-header.ts), and answered
 * from those arguments alone — never from their shell text, which is free to change.
 * The facts probe (`# provision-facts v1 {}`) is matched the same way: `.on(runnerScript("facts"), …)`.
 */
import { createHash } from "node:crypto";
import { stdinParts, TransportError, type ExecOptions, type ExecResult, type Transport } from "./transport.ts";
import { FILE_READ_SCRIPT, FILE_WRITE_SCRIPT, WRITE_UNVERIFIED_EXIT } from "./remote-file.ts";
import { sectionLine } from "../shell/read-output.ts";
import { quote } from "../shell/quote.ts";

export interface MockFile {
  content: Buffer;
  owner: string;
  group: string;
  mode: string;
}

export type Matcher = string | RegExp | ((command: string) => boolean);
export interface MockResult {
  exitCode: number;
  stdout: string | Buffer;
  stderr: string | Buffer;
  /** Answer only after this many milliseconds (a slow host); an exec timeout shorter than it fails. */
  delayMs: number;
}
export type Answer = Partial<MockResult> | ((command: string, stdin: Buffer, host: MockTransport) => Partial<MockResult>);

export interface RecordedCommand {
  /** One command as a step built it (a batch is recorded fragment by fragment). */
  command: string;
  stdin: Buffer;
  /** True when it arrived inside a batched read. */
  batched: boolean;
}

export class MockTransport implements Transport {
  readonly files = new Map<string, MockFile>();
  /** Every command the host received, batches split into fragments. */
  readonly commands: RecordedCommand[] = [];
  /** Every exec call as it crossed the transport (one per round trip). */
  readonly execs: { command: string; stdin: Buffer }[] = [];
  /** Commands no fixture answered. */
  readonly unmatched: string[] = [];
  #fixtures: { matcher: Matcher; answer: Answer }[] = [];
  #closed = false;
  /** Set to make every exec fail as a lost connection (to test transport failures). */
  failWith?: TransportError;
  /**
   * The host lock (src/run/host-lock.ts) as the host would hold it: null when free, else the owner
   * fields. The lock commands are answered from this before any fixture (and are not recorded in
   * `commands`); `lockEvents` records them. A lock whose owner fields hold `stale` (the reason)
   * is one whose run died: the next acquire breaks it, as the host would, and says whose it was.
   */
  lock: Record<string, string> | null = null;
  readonly lockEvents: ("acquired" | "held" | "released")[] = [];
  /**
   * The pending-handlers records (src/run/pending-handlers.ts) as the host would keep them: file
   * name (the encoded playbook name) → handler names. Answered like the lock, out of `commands`.
   */
  readonly pendingHandlers = new Map<string, string[]>();

  constructor(readonly host = "mock") {}

  /** Answer commands that match. Later fixtures take precedence over earlier ones. */
  on(matcher: Matcher, answer: Answer): this {
    this.#fixtures.unshift({ matcher, answer });
    return this;
  }

  file(path: string, content: string | Buffer, meta: Partial<Omit<MockFile, "content">> = {}): this {
    this.files.set(path, {
      content: Buffer.from(content),
      owner: meta.owner ?? "root",
      group: meta.group ?? "root",
      mode: meta.mode ?? "0644",
    });
    return this;
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.#closed) throw new TransportError(this.host, "lost", "connection closed");
    if (this.failWith) throw this.failWith;
    const stdin = Buffer.concat(stdinParts(options.stdin));
    this.execs.push({ command, stdin });
    // A command holding a secret arrives as a script on stdin.
    const script = command === "sh -s" ? unwrapScript(stdin.toString("utf8")) : command;
    const scriptStdin = command === "sh -s" ? Buffer.alloc(0) : stdin;
    const batch = decodeBatch(script);
    const answers = batch
      ? batch.fragments.map((fragment) => this.#answer(fragment, Buffer.alloc(0), true))
      : [this.#answer(script, scriptStdin, false)];
    const delayMs = answers.reduce((sum, answer) => sum + answer.delayMs, 0);
    if (delayMs > 0) await this.#wait(delayMs, options.timeoutMs);
    return batch ? batchOutput(batch.marker, answers) : (answers[0] as ExecResult);
  }

  async #wait(delayMs: number, timeoutMs: number | undefined): Promise<void> {
    const timedOut = timeoutMs !== undefined && timeoutMs < delayMs;
    await new Promise((resolve) => setTimeout(resolve, timedOut ? timeoutMs : delayMs));
    if (timedOut) throw new TransportError(this.host, "timeout", `command timed out after ${timeoutMs} ms`);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** A new connection to the same in-memory host (state kept), as a later run would make. */
  reopen(): this {
    this.#closed = false;
    return this;
  }

  #answer(command: string, stdin: Buffer, batched: boolean): ExecResult & { delayMs: number } {
    // A batch inside a batch (custom facts, sent with the reads planned ahead): answered the same way.
    const nested = decodeBatch(command);
    if (nested) {
      const answers = nested.fragments.map((fragment) => this.#answer(fragment, Buffer.alloc(0), true));
      return { ...batchOutput(nested.marker, answers), delayMs: answers.reduce((sum, a) => sum + a.delayMs, 0) };
    }
    // The runner's own fragments (host lock, pending handlers) are answered by their models and kept
    // out of `commands` (they are in `execs`, `lockEvents`, `pendingHandlers`), so tests of what
    // steps send are not about locking.
    const runnerResult = this.#runnerScript(command);
    if (runnerResult) return { ...runnerResult, delayMs: 0 };
    this.commands.push({ command, stdin, batched });
    for (const { matcher, answer } of this.#fixtures) {
      if (matches(matcher, command)) {
        const partial = typeof answer === "function" ? answer(command, stdin, this) : answer;
        return {
          exitCode: partial.exitCode ?? 0,
          stdout: Buffer.from(partial.stdout ?? ""),
          stderr: Buffer.from(partial.stderr ?? ""),
          delayMs: partial.delayMs ?? 0,
        };
      }
    }
    const fileResult = this.#fileCommand(command, stdin);
    if (fileResult) return { ...fileResult, delayMs: 0 };
    this.unmatched.push(command);
    return { exitCode: 127, stdout: Buffer.alloc(0), stderr: Buffer.from(`mock: no fixture for: ${command}\n`), delayMs: 0 };
  }

  /**
   * A script of the runner's own fragments (lock, pending handlers), possibly several joined (the
   * settle of the pending handlers travels with the lock release): each answered by its model.
   */
  #runnerScript(command: string): ExecResult | undefined {
    const headers = scriptHeaders(command);
    if (headers.length === 0 || !command.startsWith("# provision-")) return undefined;
    const results = headers.map((header) => this.#lockCommand(header) ?? this.#pendingCommand(header));
    if (results.some((result) => result === undefined)) return undefined;
    return {
      exitCode: 0,
      stdout: Buffer.concat(results.map((result) => (result as ExecResult).stdout)),
      stderr: Buffer.concat(results.map((result) => (result as ExecResult).stderr)),
    };
  }

  #lockCommand({ name, args }: ScriptHeader): ExecResult | undefined {
    const ok = (stdout: string): ExecResult => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });
    if (name === "lock acquire") {
      const broken = this.lock?.stale !== undefined ? this.lock : undefined;
      if (this.lock && !broken) {
        this.lockEvents.push("held");
        const owner = Object.entries(this.lock)
          .map(([k, v]) => `owner.${k}=${v}\n`)
          .join("");
        return ok(`lock=held\npath=/run/provision.lock\nage=5\n${owner}`);
      }
      const token = typeof args.token === "string" ? args.token : "?";
      this.lock = { token, controller: "mock-controller", holder_pid: "1" };
      this.lockEvents.push("acquired");
      if (!broken) return ok("lock=acquired\n");
      const { stale, ...owner } = broken;
      return ok(
        `lock=acquired\nlock_broke=${stale}\n${Object.entries(owner)
          .map(([k, v]) => `broken.${k}=${v}\n`)
          .join("")}`,
      );
    }
    if (name === "lock release") {
      if (this.lock && this.lock.token === args.token) {
        this.lock = null;
        this.lockEvents.push("released");
      }
      return ok("");
    }
    return undefined;
  }

  #pendingCommand({ name, args }: ScriptHeader): ExecResult | undefined {
    const ok = (stdout = ""): ExecResult => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });
    const file = String(args.file ?? "");
    const list = (value: unknown) => (Array.isArray(value) ? value.map(String).filter(Boolean) : []);
    if (name === "pending-handlers read") {
      const owed = this.pendingHandlers.get(file) ?? [];
      return ok(owed.map((handler) => `${handler}\n`).join(""));
    }
    if (name === "pending-handlers record") {
      this.pendingHandlers.set(file, [...new Set([...(this.pendingHandlers.get(file) ?? []), ...list(args.names)])].sort());
      return ok();
    }
    if (name === "pending-handlers settle") {
      const owed = list(args.owed);
      if (owed.length === 0) this.pendingHandlers.delete(file);
      else this.pendingHandlers.set(file, owed);
      return ok();
    }
    return undefined;
  }

  /**
   * The remote-file commands (src/transport/remote-file.ts), known by their header lines and
   * answered from the in-memory store by the header's arguments alone. A read only when it is the
   * whole command: its header line and the one line of shell it heads (readFileCommand's shape);
   * a read joined with other shell, before or after it, is a step's own read, for its fixture.
   * A write wherever its header is (a caller may join a `mkdir -p` before it, a reload after it).
   */
  #fileCommand(command: string, stdin: Buffer): ExecResult | undefined {
    const headers = scriptHeaders(command);
    const first = headers[0];
    if (first?.name === FILE_READ_SCRIPT && isWholeRead(command, String(first.args.path))) return this.#fileRead(first.args);
    const write = headers.find((header) => header.name === FILE_WRITE_SCRIPT);
    return write ? this.#fileWrite(write.args, stdin) : undefined;
  }

  #fileRead(args: Record<string, unknown>): ExecResult {
    const file = this.files.get(String(args.path));
    const limit = typeof args.contentLimit === "number" ? args.contentLimit : undefined;
    // A read with a content limit answers a larger file by size and sha256, as the host does.
    const digest =
      file && limit !== undefined && file.content.length > limit
        ? Buffer.from(`${sectionLine("digest")} ${file.content.length} ${createHash("sha256").update(file.content).digest("hex")}\n`)
        : undefined;
    const stdout = file
      ? Buffer.concat([
          digest ?? Buffer.alloc(0),
          Buffer.from(`${file.owner} ${file.group} ${file.mode} regular file\n`),
          args.metaOnly === true || digest ? Buffer.alloc(0) : file.content,
        ])
      : Buffer.from(`${sectionLine("absent")}\n`);
    return { exitCode: 0, stdout, stderr: Buffer.alloc(0) };
  }

  #fileWrite(args: Record<string, unknown>, stdin: Buffer): ExecResult {
    const path = String(args.path);
    const previous = this.files.get(path);
    // The host's check of what arrived (a `<length> <sha256>` line ahead of the content): a short stdin fails.
    const newline = stdin.indexOf(0x0a);
    const [size, sha256] = (newline < 0 ? "" : stdin.subarray(0, newline).toString("latin1")).split(" ");
    const content = newline < 0 ? Buffer.alloc(0) : stdin.subarray(newline + 1);
    if (Number(size) !== content.length || sha256 !== createHash("sha256").update(content).digest("hex")) {
      return {
        exitCode: WRITE_UNVERIFIED_EXIT,
        stdout: Buffer.alloc(0),
        stderr: Buffer.from(`provision: ${path} left unchanged: received ${content.length} of ${size ?? "?"} bytes\n`),
      };
    }
    const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
    const mode = text(args.mode);
    this.files.set(path, {
      content,
      owner: text(args.owner) ?? previous?.owner ?? "root",
      group: text(args.group) ?? previous?.group ?? "root",
      mode: mode ? mode.padStart(4, "0") : (previous?.mode ?? "0644"),
    });
    return { exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  }
}

function matches(matcher: Matcher, command: string): boolean {
  if (typeof matcher === "string") return command.includes(matcher);
  if (matcher instanceof RegExp) return matcher.test(command);
  return matcher(command);
}

/**
 * A file read's header first, then one line of shell (a newline inside the quoted path does not
 * count): the command is that read alone, not a read joined with more shell.
 */
function isWholeRead(command: string, path: string): boolean {
  const newline = command.indexOf("\n");
  if (newline < 0 || !HEADER_LINE.test(command.slice(0, newline))) return false;
  return !command
    .slice(newline + 1)
    .split(quote(path))
    .join("")
    .includes("\n");
}

/** Undo `quote()` for one word: 'a'\''b' → a'b. */
export function unquote(word: string): string {
  let out = "";
  for (const match of word.matchAll(/'([^']*)'|\\(.)|([^'\\]+)/g)) out += match[1] ?? match[2] ?? match[3] ?? "";
  return out;
}

interface ScriptHeader {
  name: string;
  args: Record<string, unknown>;
}

const HEADER_LINE = /^# provision-([a-z-]+(?: [a-z-]+)?) v1 (\{.*\})$/;

/** The runner-script headers of a command (several scripts may travel joined), in order. */
function scriptHeaders(command: string): ScriptHeader[] {
  const headers: ScriptHeader[] = [];
  for (const line of command.split("\n")) {
    const match = HEADER_LINE.exec(line);
    if (!match?.[1] || !match[2]) continue;
    try {
      headers.push({ name: match[1], args: JSON.parse(match[2]) as Record<string, unknown> });
    } catch {
      // Not one of ours.
    }
  }
  return headers;
}

/** Matches a runner script by its header line (`# provision-<name> v1 …` first), e.g. `runnerScript("facts")`. */
export function runnerScript(name: string): (command: string) => boolean {
  return (command) => {
    const newline = command.indexOf("\n");
    return scriptHeaders(newline < 0 ? command : command.slice(0, newline))[0]?.name === name;
  };
}

/** A read batch (src/run/read-batch.ts): its marker and fragments, found by the spans its header gives. */
function decodeBatch(text: string): { marker: string; fragments: string[] } | null {
  const newline = text.indexOf("\n");
  const header = scriptHeaders(newline < 0 ? text : text.slice(0, newline))[0];
  if (header?.name !== "batch" || typeof header.args.marker !== "string" || !Array.isArray(header.args.fragments)) return null;
  const body = text.slice(newline + 1);
  const fragments = (header.args.fragments as [number, number][]).map(([start, length]) => body.slice(start, start + length));
  return { marker: header.args.marker, fragments };
}

/** Frame per-fragment results the way the real batch script prints them. */
function batchOutput(marker: string, results: readonly ExecResult[]): ExecResult {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  for (const result of results) {
    stdout.push(result.stdout, Buffer.from(`\n${marker} ${result.exitCode}\n`));
    stderr.push(result.stderr, Buffer.from(`\n${marker}\n`));
  }
  return { exitCode: 0, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) };
}

/** Undo HostSession's wholeScript (a script sent to `sh -s` as one `{ … }` group, its header line first). */
export function unwrapScript(script: string): string {
  const match = /^(#[^\n]*\n)?\{\n([\s\S]*)\n\}\n$/.exec(script);
  return match ? (match[1] ?? "") + (match[2] ?? "") : script;
}
