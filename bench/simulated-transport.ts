/**
 * A simulated host for measuring the controller alone beyond the hosts this machine can hold: it
 * replays the exchange recorded from a real converged host (record-host.ts) — each exec gets the
 * recorded exit code, stdout and stderr — after a set network RTT plus the host time the command
 * took there. Nothing runs anywhere; the controller does all its real work (steps' reads, parsing,
 * diffs, the runner, reports) on real outputs.
 *
 * Replayed by position (the i-th exec of a run gets the i-th recorded answer), with a check that
 * each command is the one recorded (its first line, where provision puts a fragment's header):
 * a run that sends anything else fails loudly instead of being answered wrongly.
 *
 * Not simulated: SSH. No handshake, no encryption — the ssh2 handshake's controller CPU is
 * measured apart (the floor) and added in the report.
 */
import type { ExecOptions, ExecResult, Transport } from "../src/transport/transport.ts";
import { TransportError } from "../src/transport/transport.ts";

export interface RecordedExec {
  /** The command's first line (enough to tell the facts script, the batch, a lock command). */
  head: string;
  exitCode: number;
  stdout: string; // base64
  stderr: string; // base64
  /** How long the exec took on the real host (ms, RTT ~0: the host's time). */
  hostMs: number;
  /** A read batch's random output marker (read-batch.ts): replaced by the new batch's own. */
  marker?: string;
}

/** The marker of a read batch sent on stdin, if it is one. */
export function batchMarker(stdin: ExecOptions["stdin"]): string | undefined {
  // Its header line (src/shell/script-header.ts): `# provision-batch v1 {"marker":…}`.
  const header = stdin === undefined ? undefined : /^# provision-batch v1 (\{.*\})$/m.exec(stdin.toString())?.[1];
  if (!header) return undefined;
  const marker = (JSON.parse(header) as { marker?: unknown }).marker;
  return typeof marker === "string" ? marker : undefined;
}

export interface Recording {
  recordedAt: string;
  host: string;
  mode: "check" | "apply";
  execs: RecordedExec[];
}

export const firstLine = (command: string) => command.split("\n", 1)[0]?.slice(0, 200) ?? "";

export class SimulatedTransport implements Transport {
  #next = 0;
  #closed = false;
  readonly #answers: { head: string; result: ExecResult; hostMs: number; marker?: string }[];

  constructor(
    readonly host: string,
    recording: Recording,
    private readonly timing: { rttMs: number /** Instead of each command's recorded host time. */; hostMs?: number },
  ) {
    this.#answers = recording.execs.map((e) => ({
      head: e.head,
      hostMs: e.hostMs,
      ...(e.marker ? { marker: e.marker } : {}),
      result: { exitCode: e.exitCode, stdout: Buffer.from(e.stdout, "base64"), stderr: Buffer.from(e.stderr, "base64") },
    }));
  }

  async exec(command: string, options?: ExecOptions): Promise<ExecResult> {
    if (this.#closed) throw new TransportError(this.host, "lost", "simulated host: closed");
    const answer = this.#answers[this.#next];
    this.#next += 1;
    if (!answer || answer.head !== firstLine(command)) {
      throw new TransportError(
        this.host,
        "lost",
        `simulated host: exec ${this.#next} is not the recorded one: ${firstLine(command).slice(0, 80)}`,
      );
    }
    const wait = this.timing.rttMs + (this.timing.hostMs ?? answer.hostMs);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // Fresh buffers (the runner may keep what it is given), a batch's output under its own marker.
    const marker = answer.marker && batchMarker(options?.stdin);
    const stdout =
      marker && answer.marker
        ? Buffer.from(answer.result.stdout.toString("latin1").replaceAll(answer.marker, marker), "latin1")
        : Buffer.from(answer.result.stdout);
    return { exitCode: answer.result.exitCode, stdout, stderr: Buffer.from(answer.result.stderr) };
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
