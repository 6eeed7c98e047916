/**
 * The host runner's reads: what each step read (or why it could not), batched into as few round
 * trips as possible, and forgotten when a change may have made it stale.
 *
 * Remote reads of many steps travel in one script (read-batch.ts); local reads (a probe from the
 * controller) run beside it. Nothing here decides what a read means: that is the step's parser.
 */
import { tail, type HostSession } from "../transport/host-session.ts";
import type { ExecResult } from "../transport/transport.ts";
import { isFlushHandlers, isLocalRead, ReadFailedError, type PlaybookItem, type RemoteRead, type Step } from "../playbook/step.ts";
import { missingTool, missingToolMessage } from "../shell/read-output.ts";
import { mask } from "../shell/mask.ts";
import type { ShellCommand } from "../shell/sh.ts";
import { asError, firstLine } from "./describe-error.ts";
import { encodeBatch, splitBatchOutput } from "./read-batch.ts";

export type ReadOutcome = { ok: true; value: unknown } | { ok: false; error: Error };

/** A local read started before the steps were built (reads-ahead.ts), for the step at `index`. */
export interface LocalReadAhead {
  index: number;
  kind: string;
  name: string;
  outcome: Promise<ReadOutcome>;
}

export class ReadCache {
  /** Round trips that carried reads (the facts probe is counted by the runner). */
  roundTrips = 0;
  #items: readonly PlaybookItem[] = [];
  #reads = new Map<number, ReadOutcome>();
  /** Results of reads sent ahead with the facts (plan-cache.ts), by command text: for the next read() only. */
  #sentAhead = new Map<string, ExecResult>();
  /** Local reads started with the facts, by step index: for the next read() only. */
  #localAhead = new Map<number, LocalReadAhead>();

  constructor(
    readonly session: HostSession,
    readonly host: string,
  ) {}

  /** The playbook's items, once they are built (indices are positions in this list). */
  setItems(items: readonly PlaybookItem[]): void {
    this.#items = items;
  }

  /** Indices of the steps (not flush markers) from `from` on. */
  stepIndices(from = 0): number[] {
    return this.#items.flatMap((item, i) => (i >= from && !isFlushHandlers(item) ? [i] : []));
  }

  has(index: number): boolean {
    return this.#reads.has(index);
  }

  get(index: number): ReadOutcome | undefined {
    return this.#reads.get(index);
  }

  /** Step `index` read: if it is stale, it and every later stale step are read again in one batch. */
  async ensure(index: number): Promise<ReadOutcome> {
    if (!this.#reads.has(index)) await this.read(this.stepIndices(index).filter((i) => !this.#reads.has(i)));
    return this.#reads.get(index) as ReadOutcome;
  }

  /** What a change at `index` may have touched: every later step is read again when reached. */
  invalidateAfter(index: number): void {
    for (const i of [...this.#reads.keys()]) if (i > index) this.#reads.delete(i);
  }

  /** Forget the reads of these steps. */
  forget(indices: readonly number[]): void {
    for (const i of indices) this.#reads.delete(i);
  }

  /** A handler ran (a reload, a restart): everything may read differently. */
  clear(): void {
    this.#reads.clear();
  }

  /**
   * Results of reads that ran in the facts round trip, by their exact command text. The next
   * read() uses one only for a read whose command is byte-identical (the same command, run on the
   * host before anything changed) and sends the others; after it they are forgotten.
   */
  sentAhead(results: ReadonlyMap<string, ExecResult>): void {
    this.#sentAhead = new Map(results);
  }

  /**
   * Local reads that started with the facts, from steps built from facts equal to this run's. The
   * next read() takes one for the step at its index if that step has the same kind and name, and
   * starts the others itself; after it they are forgotten.
   */
  localAhead(reads: readonly LocalReadAhead[]): void {
    this.#localAhead = new Map(reads.map((read) => [read.index, read]));
  }

  /**
   * Read the given steps: remote reads in one batched round trip, local reads beside it. `first`,
   * when given, runs at the head of the same batch (even with no remote read); its result is returned.
   */
  async read(indices: readonly number[], first?: ShellCommand): Promise<ExecResult | undefined> {
    const ahead = this.#sentAhead;
    const localAhead = this.#localAhead;
    this.#sentAhead = new Map();
    this.#localAhead = new Map();
    const remote: { index: number; read: RemoteRead<unknown> }[] = [];
    const local: Promise<void>[] = [];
    for (const index of indices) {
      const spec = this.#spec(index);
      if (!spec) continue;
      if (isLocalRead(spec)) local.push(this.#readLocal(index, spec.local, localAhead.get(index)));
      else {
        const result = ahead.get(spec.command.text);
        if (result) this.#parse(index, spec, result);
        else remote.push({ index, read: spec });
      }
    }
    let firstResult: ExecResult | undefined = first ? ahead.get(first.text) : undefined;
    const sendFirst = firstResult ? undefined : first;
    if (remote.length > 0 || sendFirst) {
      const results = await this.#runBatch([...(sendFirst ? [sendFirst] : []), ...remote.map((r) => r.read.command)]);
      if (sendFirst) firstResult = results.shift();
      for (const [i, { index, read }] of remote.entries()) this.#parse(index, read, results[i] as ExecResult);
    }
    await Promise.all(local);
    return firstResult;
  }

  /** The step's read spec, or undefined once its failure to make one is recorded. */
  #spec(index: number): ReturnType<Step["read"]> | undefined {
    try {
      return (this.#items[index] as Step).read();
    } catch (error) {
      this.#reads.set(index, { ok: false, error: asError(error) });
      return undefined;
    }
  }

  #readLocal(index: number, local: () => Promise<unknown>, started?: LocalReadAhead): Promise<void> {
    const item = this.#items[index] as Step;
    if (started && started.kind === item.kind && started.name === item.name) {
      return started.outcome.then((outcome) => void this.#reads.set(index, outcome));
    }
    return local().then(
      (value) => void this.#reads.set(index, { ok: true, value }),
      (error: unknown) => void this.#reads.set(index, { ok: false, error: asError(error) }),
    );
  }

  async #runBatch(commands: ShellCommand[]): Promise<ExecResult[]> {
    const batch = encodeBatch(commands);
    this.roundTrips += 1;
    return splitBatchOutput(batch, await this.session.run(batch.command));
  }

  #parse(index: number, read: RemoteRead<unknown>, result: ExecResult): void {
    const tool = missingTool(result, read.requiresTools ?? []);
    if (tool) {
      this.#reads.set(index, { ok: false, error: new ReadFailedError(mask(missingToolMessage(tool, this.host))) });
      return;
    }
    try {
      this.#reads.set(index, { ok: true, value: read.parse(result) });
    } catch (error) {
      this.#reads.set(index, { ok: false, error: readError(this.host, read.command.display, result, error) });
    }
  }
}

function readError(host: string, command: string, result: ExecResult, cause: unknown): Error {
  const stderr = tail(result.stderr.toString("utf8"), 5);
  return new Error(
    mask(
      `${host}: cannot read current state: ${asError(cause).message}\n` +
        `  command: ${firstLine(command)}${command.includes("\n") ? " …" : ""}\n  exit code: ${result.exitCode}` +
        (stderr ? `\n  stderr: ${stderr}` : ""),
    ),
  );
}
