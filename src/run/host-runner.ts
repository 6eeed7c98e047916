/**
 * Runs a playbook on one host: connect → facts → steps(ctx) → for each step read → diff →
 * (apply unless check) → notify handlers; handlers run once, after the steps or at a flush marker.
 *
 * Reads are batched: every step whose state is not known yet is read in one remote script (one
 * round trip). An apply can change what later steps see, so after one the later steps are marked
 * stale and read again, together, when the runner reaches them.
 *
 * Check mode is structural: `apply` and handlers are never called, so only reads reach the host.
 *
 * Apply mode takes the host lock (see host-lock.ts) right before the first step that has something
 * to change, in one round trip with a fresh read of every remaining step, and releases it at the
 * end (also when a step or handler failed). Check mode never locks; a converged apply run neither.
 *
 * Handlers a step notifies are recorded on the host before the step is applied, and the record is
 * settled once they ran (see pending-handlers.ts): a run that finds handlers owed by an earlier run
 * that did not finish runs them (apply) or reports them as drift (check).
 */
import { mask } from "../shell/mask.ts";
import { HostSession, tail } from "../transport/host-session.ts";
import { TransportError, type ExecResult, type Transport } from "../transport/transport.ts";
import { factsCommand, parseFacts, type Facts } from "../facts/facts.ts";
import type { Playbook, HostInfo, PlaybookContext } from "../playbook/playbook.ts";
import {
  InvalidStepError,
  isFlushHandlers,
  isLocalRead,
  type ApplyContext,
  type Change,
  type Handler,
  type PlaybookItem,
  type RemoteRead,
  type Step,
} from "../playbook/step.ts";
import { anyOverlap, EVERYTHING, type Resource } from "../playbook/resources.ts";
import { countStatuses, type EventSink, type HandlerReport, type HostReport, type StepReport } from "../report/events.ts";
import { showChange } from "../report/show-change.ts";
import { encodeBatch, splitBatchOutput } from "./read-batch.ts";
import { acquireLockCommand, HostLockedError, lockedMessage, newLockOwner, parseLockResult, releaseLockCommand, type LockOwner } from "./host-lock.ts";
import { joinCommands, type ShellCommand } from "../shell/sh.ts";
import { parsePending, readPendingCommand, recordPendingCommand, settlePendingCommand } from "./pending-handlers.ts";

/** Why a handler runs that no step of this run notified. */
const OWED_REASON = "owed by an earlier run that did not finish";

export type RunMode = "apply" | "check";

export interface HostRunOptions {
  playbook: Playbook;
  /** Vars already validated against the playbook's schema. */
  vars: unknown;
  host: HostInfo;
  connect: () => Promise<Transport>;
  mode: RunMode;
  emit?: EventSink;
  commandTimeoutMs?: number;
}

type ReadOutcome = { ok: true; value: unknown } | { ok: false; error: Error };

/** Check mode: a change that apply would (or might) make before a later step is read. */
interface PendingChange {
  label: string;
  provides: readonly Resource[];
}

export async function runHost(options: HostRunOptions): Promise<HostReport> {
  const started = Date.now();
  const emit = options.emit ?? (() => undefined);
  const name = options.host.name;
  emit({ type: "host-start", host: name });

  let session: HostSession;
  try {
    session = new HostSession(await options.connect(), options.commandTimeoutMs);
  } catch (error) {
    const report = hostReport(name, "unreachable", [], [], 0, 0, started, describe(error));
    emit({ type: "host-end", host: name, report });
    return report;
  }

  const run = new HostRun(options, session, emit);
  let report: HostReport;
  try {
    report = await run.execute(started);
  } finally {
    await session.close().catch(() => undefined);
  }
  emit({ type: "host-end", host: name, report });
  return report;
}

class HostRun {
  readonly steps: StepReport[] = [];
  readonly handlers: HandlerReport[] = [];
  readRoundTrips = 0;
  #items: PlaybookItem[] = [];
  #handlerMap: Record<string, Handler> = {};
  #reads = new Map<number, ReadOutcome>();
  #notified = new Set<string>();
  /** Handler names the host's pending record holds (read at preflight, recorded by this run). */
  #owedOnHost = new Set<string>();
  /** Handlers notified only because an earlier run owed them (their reports say so). */
  #owedByEarlierRun = new Set<string>();
  /** A handler ran: the host's record must be rewritten (with the lock release, at the end). */
  #settleOwed = false;
  /** Check mode: steps that would (or might) change, and handlers that would run, in order. */
  #pending: PendingChange[] = [];
  #failed = false;
  #facts!: Facts;
  /** Set while this run holds the host lock (apply mode only). */
  #lock: LockOwner | undefined;
  #hostError: string | undefined;

  constructor(
    readonly options: HostRunOptions,
    readonly session: HostSession,
    readonly emit: EventSink,
  ) {}

  get host(): string {
    return this.options.host.name;
  }

  async execute(started: number): Promise<HostReport> {
    try {
      this.#facts = await this.#gatherFacts();
      // The address the transport really connected to (ssh config HostName, inventory address).
      const host = { ...this.options.host, address: this.session.transport.address ?? this.options.host.address };
      const context: PlaybookContext<unknown> = { vars: this.options.vars, facts: this.#facts, host };
      this.#items = this.options.playbook.steps(context as never);
      this.#handlerMap = this.options.playbook.handlers?.(context as never) ?? {};
      this.#checkNotifyTargets();
      await this.#preflight();
    } catch (error) {
      const unreachable = error instanceof TransportError && error.kind !== "timeout";
      return this.#finish(started, unreachable ? "unreachable" : "failed", describe(error));
    }

    for (let index = 0; index < this.#items.length; index += 1) {
      const item = this.#items[index] as PlaybookItem;
      if (isFlushHandlers(item)) {
        await this.#runHandlers();
        continue;
      }
      if (this.#failed) {
        this.#record({ index, name: item.name, kind: item.kind, status: "skipped", summary: "an earlier step failed", durationMs: 0 });
        continue;
      }
      await this.#runStep(index, item);
    }
    try {
      if (!this.#failed) await this.#runHandlers();
      else for (const handler of this.#notified) this.#recordHandler({ name: handler, status: "skipped" });
    } finally {
      await this.#releaseLock();
    }

    const counts = countStatuses(this.steps);
    // A handler that ran changed the host; one that would run (owed by an earlier run) is drift.
    const status = this.#failed
      ? "failed"
      : counts.changed > 0 || this.handlers.some((h) => h.status === "ran")
        ? "changed"
        : counts.wouldChange + counts.unknown > 0 || this.handlers.some((h) => h.status === "would-run")
          ? "drift"
          : "ok";
    return this.#finish(started, status, this.#hostError);
  }

  async #gatherFacts(): Promise<Facts> {
    this.readRoundTrips += 1;
    return parseFacts(await this.session.run(factsCommand));
  }

  /** Every notify target must name a handler: a typo is an error before anything is changed. */
  #checkNotifyTargets(): void {
    for (const item of this.#items) {
      if (isFlushHandlers(item)) continue;
      for (const target of item.notify ?? []) {
        if (!(target in this.#handlerMap)) {
          const known = Object.keys(this.#handlerMap);
          throw new InvalidStepError(
            `step "${item.name}" notifies "${target}", which is not a handler of playbook "${this.options.playbook.name}"` +
              (known.length ? ` (handlers: ${known.join(", ")})` : " (it has no handlers)"),
          );
        }
      }
    }
  }

  /**
   * Read every step once, up front, in one batch, and diff them all: a step whose input is
   * invalid (InvalidStepError) fails the host before anything is changed.
   */
  async #preflight(): Promise<void> {
    const indices = this.#items.flatMap((item, index) => (isFlushHandlers(item) ? [] : [index]));
    const pending = await this.#readSteps(indices, readPendingCommand(this.options.playbook.name, this.#facts.uid));
    for (const name of parsePending(pending as ExecResult)) {
      // A name this playbook no longer has cannot run; settling the record drops it.
      if (!(name in this.#handlerMap)) continue;
      this.#owedOnHost.add(name);
      this.#owedByEarlierRun.add(name);
      this.#notified.add(name);
    }
    for (const index of indices) {
      const outcome = this.#reads.get(index);
      if (!outcome?.ok) continue;
      const step = this.#items[index] as Step;
      try {
        step.diff(outcome.value);
      } catch (error) {
        if (error instanceof InvalidStepError) throw new InvalidStepError(`step "${step.name}": ${error.message}`);
      }
    }
  }

  async #runStep(index: number, step: Step): Promise<void> {
    const started = Date.now();
    this.emit({ type: "step-start", host: this.host, index, name: step.name, kind: step.kind });
    const base = { index, name: step.name, kind: step.kind };
    if (!this.#reads.has(index)) {
      // Stale after an earlier apply: read this step and every later stale one in one batch.
      const stale = this.#items.flatMap((item, i) => (i >= index && !isFlushHandlers(item) && !this.#reads.has(i) ? [i] : []));
      try {
        await this.#readSteps(stale);
      } catch (error) {
        this.#fail({ ...base, durationMs: Date.now() - started }, describe(error));
        return;
      }
    }
    const outcome = this.#reads.get(index) as ReadOutcome;
    if (this.options.mode === "check") {
      this.#checkStep(step, outcome, base, started);
      return;
    }
    if (!outcome.ok) {
      this.#fail({ ...base, durationMs: Date.now() - started }, outcome.error.message);
      return;
    }

    let change = this.#diffOrRecord(step, outcome.value, base, started);
    if (!change) return;
    let shown = showChange(change);
    if (!step.apply) {
      // A read-only step (a verification) cannot make its state true: its drift is a failure.
      this.#fail({ ...base, ...shown, durationMs: Date.now() - started }, shown.summary);
      return;
    }
    let current = outcome.value;
    if (!this.#lock) {
      // First change of this run: take the host lock, and read this and the later steps again
      // under it (what was read before may be another run's half-done work).
      try {
        await this.#acquireLock(index);
      } catch (error) {
        if (error instanceof HostLockedError) this.#hostError = error.message;
        this.#fail({ ...base, ...shown, durationMs: Date.now() - started }, describe(error));
        return;
      }
      const fresh = this.#reads.get(index) as ReadOutcome;
      if (!fresh.ok) {
        this.#fail({ ...base, durationMs: Date.now() - started }, fresh.error.message);
        return;
      }
      change = this.#diffOrRecord(step, fresh.value, base, started);
      if (!change) return;
      current = fresh.value;
      shown = showChange(change);
    }
    const owe = (step.notify ?? []).filter((name) => !this.#owedOnHost.has(name));
    if (owe.length > 0) {
      // Before the change: a run cut after it still leaves the handler owed (pending-handlers.ts).
      try {
        await this.session.check(recordPendingCommand(this.options.playbook.name, this.#facts.uid, owe));
      } catch (error) {
        this.#fail({ ...base, ...shown, durationMs: Date.now() - started }, `cannot record the handlers this step notifies (${owe.join(", ")}): ${describe(error)}`);
        return;
      }
      for (const name of owe) this.#owedOnHost.add(name);
    }
    try {
      await step.apply(this.#applyContext(), current, change);
    } catch (error) {
      // The report names the step (and its host): the error says only what went wrong.
      this.#fail({ ...base, ...shown, durationMs: Date.now() - started }, describe(error));
      return;
    }
    // What this step changed may be what a later step reads: read them again when reached.
    for (const i of [...this.#reads.keys()]) if (i > index) this.#reads.delete(i);
    for (const target of step.notify ?? []) {
      this.#notified.add(target);
      this.#owedByEarlierRun.delete(target);
    }
    this.#record({ ...base, ...shown, status: "changed", durationMs: Date.now() - started });
  }

  /**
   * Check mode: the step's result, or `unknown` when it depends on a pending change — an earlier
   * step that would (or might) change provides something this step requires (Step.requires).
   * A failure nothing pending explains is shown as apply would show it.
   */
  #checkStep(step: Step, outcome: ReadOutcome, base: Pick<StepReport, "index" | "name" | "kind">, started: number): void {
    const blocker = this.#pendingBlocker(step);
    let change: Change | null;
    try {
      if (!outcome.ok) throw outcome.error;
      change = step.diff(outcome.value);
    } catch (error) {
      if (blocker && !(error instanceof InvalidStepError)) this.#recordUnknown(step, base, blocker, firstLine(describe(error)), started);
      else this.#fail({ ...base, durationMs: Date.now() - started }, describe(error));
      return;
    }
    // A step that declares what it reads is exact only once nothing it reads is pending.
    if (blocker && step.requires !== undefined) {
      this.#recordUnknown(step, base, blocker, `as the host is now: ${change ? change.summary : "ok"}`, started);
      return;
    }
    if (!change) {
      this.#record({ ...base, status: "ok", durationMs: Date.now() - started });
      return;
    }
    if (step.apply) this.#pending.push({ label: `step "${step.name}"`, provides: step.provides ?? [EVERYTHING] });
    for (const target of step.notify ?? []) {
      this.#notified.add(target);
      this.#owedByEarlierRun.delete(target);
    }
    this.#record({ ...base, ...showChange(change), status: "would-change", durationMs: Date.now() - started });
  }

  /** The nearest earlier pending change (check mode) that provides something `step` requires. */
  #pendingBlocker(step: Step): string | undefined {
    const requires = step.requires ?? [EVERYTHING];
    for (let i = this.#pending.length - 1; i >= 0; i -= 1) {
      const pending = this.#pending[i] as PendingChange;
      if (anyOverlap(pending.provides, requires)) return pending.label;
    }
    return undefined;
  }

  #recordUnknown(step: Step, base: Pick<StepReport, "index" | "name" | "kind">, blocker: string, detail: string, started: number): void {
    // It might change too: what depends on it is unknown as well.
    if (step.apply) this.#pending.push({ label: `step "${step.name}"`, provides: step.provides ?? [EVERYTHING] });
    this.#record({ ...base, status: "unknown", summary: mask(`depends on a pending change of ${blocker} (${detail})`), durationMs: Date.now() - started });
  }

  /**
   * Take the host lock in one round trip with a fresh read of step `index` and every later step.
   * Throws HostLockedError when another run holds it (or it cannot be taken).
   */
  async #acquireLock(index: number): Promise<void> {
    const owner = newLockOwner();
    const indices = this.#items.flatMap((item, i) => (i >= index && !isFlushHandlers(item) ? [i] : []));
    for (const i of indices) this.#reads.delete(i);
    const lockResult = await this.#readSteps(indices, acquireLockCommand(owner));
    const outcome = parseLockResult(lockResult as ExecResult, this.host);
    if (!outcome.acquired) {
      for (const i of indices) this.#reads.delete(i);
      throw new HostLockedError(lockedMessage(this.host, outcome));
    }
    this.#lock = owner;
  }

  /**
   * Release the lock if this run holds it, in one round trip with settling the pending-handlers
   * record when handlers ran (settled first: still under the lock). Never throws: a lock left
   * behind is freed as stale, and a record left unsettled only makes the next run run a handler
   * once more.
   */
  async #releaseLock(): Promise<void> {
    const owner = this.#lock;
    if (!owner) return;
    this.#lock = undefined;
    const settle = this.#settleOwed ? [settlePendingCommand(this.options.playbook.name, this.#facts.uid, [...this.#owedOnHost])] : [];
    await this.session.run(joinCommands([...settle, releaseLockCommand(owner)], "\n")).catch(() => undefined);
  }

  /** The step's change, or null once its outcome (ok, or failed because diff threw) is recorded. */
  #diffOrRecord(step: Step, current: unknown, base: Pick<StepReport, "index" | "name" | "kind">, started: number): Change | null {
    let change: Change | null;
    try {
      change = step.diff(current);
    } catch (error) {
      this.#fail({ ...base, durationMs: Date.now() - started }, describe(error));
      return null;
    }
    if (!change) this.#record({ ...base, status: "ok", durationMs: Date.now() - started });
    return change;
  }

  /**
   * Read the given steps: remote reads in one batched round trip, local reads beside it. `first`,
   * when given, runs at the head of the same batch (even with no remote read); its result is returned.
   */
  async #readSteps(indices: readonly number[], first?: ShellCommand): Promise<ExecResult | undefined> {
    const remote: { index: number; step: Step; read: RemoteRead<unknown> }[] = [];
    const local: Promise<void>[] = [];
    for (const index of indices) {
      const step = this.#items[index] as Step;
      let spec;
      try {
        spec = step.read();
      } catch (error) {
        this.#reads.set(index, { ok: false, error: asError(error) });
        continue;
      }
      if (isLocalRead(spec)) {
        local.push(
          spec.local().then(
            (value) => void this.#reads.set(index, { ok: true, value }),
            (error: unknown) => void this.#reads.set(index, { ok: false, error: asError(error) }),
          ),
        );
      } else {
        remote.push({ index, step, read: spec });
      }
    }
    let firstResult: ExecResult | undefined;
    if (remote.length > 0 || first) {
      const offset = first ? 1 : 0;
      const batch = encodeBatch([...(first ? [first] : []), ...remote.map((r) => r.read.command)]);
      this.readRoundTrips += 1;
      const results = splitBatchOutput(batch, await this.session.run(batch.command));
      if (first) firstResult = results[0];
      remote.forEach(({ index, step, read }, i) => {
        const result = results[i + offset] as ExecResult;
        try {
          this.#reads.set(index, { ok: true, value: read.parse(result) });
        } catch (error) {
          this.#reads.set(index, { ok: false, error: readError(this.host, read.command.display, result, error) });
        }
      });
    }
    await Promise.all(local);
    return firstResult;
  }

  async #runHandlers(): Promise<void> {
    if (this.#notified.size === 0) return;
    // Handlers run in the order they are declared, each once, like Ansible's.
    const due = Object.keys(this.#handlerMap).filter((name) => this.#notified.has(name));
    this.#notified.clear();
    if (this.options.mode === "apply" && !this.#failed && !this.#lock) {
      // Only handlers an earlier run owed are due (no step changed): they change the host too.
      try {
        await this.#acquireLock(this.#items.length);
      } catch (error) {
        this.#failed = true;
        this.#hostError = describe(error);
      }
    }
    for (const name of due) {
      const why = this.#owedByEarlierRun.has(name) ? { reason: OWED_REASON } : {};
      if (this.options.mode === "check") {
        this.#recordHandler({ name, status: "would-run", ...why });
        // A handler (a restart) may change anything a later step reads.
        this.#pending.push({ label: `handler "${name}"`, provides: [EVERYTHING] });
        continue;
      }
      if (this.#failed) {
        this.#recordHandler({ name, status: "skipped", ...why });
        continue;
      }
      try {
        await (this.#handlerMap[name] as Handler).run(this.#applyContext());
        this.#recordHandler({ name, status: "ran", ...why });
        this.#owedOnHost.delete(name);
        this.#owedByEarlierRun.delete(name);
        this.#settleOwed = true;
      } catch (error) {
        this.#failed = true;
        this.#recordHandler({ name, status: "failed", ...why, error: mask(`handler "${name}": ${describe(error)}`) });
      }
      // A handler (a reload, a restart) may change what later steps read.
      this.#reads.clear();
    }
  }

  #applyContext(): ApplyContext {
    return { session: this.session, facts: this.#facts, host: this.host };
  }

  #fail(step: Omit<StepReport, "status">, error: string): void {
    this.#failed = true;
    this.#record({ ...step, status: "failed", error: mask(error) });
  }

  #record(step: StepReport): void {
    this.steps.push(step);
    this.emit({ type: "step-end", host: this.host, step });
  }

  #recordHandler(handler: HandlerReport): void {
    this.handlers.push(handler);
    this.emit({ type: "handler-end", host: this.host, handler });
  }

  #finish(started: number, status: HostReport["status"], error?: string): HostReport {
    return hostReport(this.host, status, this.steps, this.handlers, this.session.roundTrips, this.readRoundTrips, started, error);
  }
}

function hostReport(
  host: string,
  status: HostReport["status"],
  steps: StepReport[],
  handlers: HandlerReport[],
  roundTrips: number,
  readRoundTrips: number,
  started: number,
  error?: string,
): HostReport {
  return {
    host,
    status,
    steps,
    handlers,
    counts: countStatuses(steps),
    roundTrips,
    readRoundTrips,
    durationMs: Date.now() - started,
    ...(error ? { error: mask(error) } : {}),
  };
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

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function describe(error: unknown): string {
  return mask(asError(error).message);
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}
