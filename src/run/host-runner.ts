/**
 * Runs a playbook on one host: connect → facts → steps(ctx) → for each step read → diff →
 * (apply unless check) → notify handlers; handlers run once, after the steps or at a flush marker.
 *
 * Reads are batched: every step whose state is not known yet is read in one remote script (one
 * round trip). An apply can change what later steps see, so after one the later steps are marked
 * stale and read again, together, when the runner reaches them (read-cache.ts).
 * With a plan cache (plan-cache.ts), the reads the last run's facts plan travel with the facts
 * script, and the preflight uses those whose command is exactly the real step's: a converged run
 * is one round trip.
 *
 * Check mode is structural: `apply` and handlers are never called, so only reads reach the host.
 * A step whose state depends on a change an earlier step would make is `unknown`
 * (pending-changes.ts, Step.provides / Step.requires).
 *
 * Apply mode takes the host lock (see host-lock.ts) right before the first step that has something
 * to change, in one round trip with a fresh read of every remaining step, and releases it at the
 * end (also when a step or handler failed). Check mode never locks; a converged apply run neither.
 *
 * Handlers a step notifies are recorded on the host before the step is applied, and the record is
 * settled once they ran (see pending-handlers.ts, handler-ledger.ts): a run that finds handlers
 * owed by an earlier run that did not finish runs them (apply) or reports them as drift (check).
 */
import { mask } from "../shell/mask.ts";
import { HostSession } from "../transport/host-session.ts";
import { TransportError, type ExecResult, type Transport } from "../transport/transport.ts";
import type { Facts } from "../facts/facts.ts";
import type { Playbook, HostInfo } from "../playbook/playbook.ts";
import {
  HostUnchangedError,
  InvalidStepError,
  isFlushHandlers,
  isLocalRead,
  type ApplyContext,
  type Change,
  type Handler,
  type PlaybookItem,
  type Step,
  type ApplyOutcome,
} from "../playbook/step.ts";
import { countStatuses, type EventSink, type HandlerReport, type HostReport, type StepReport } from "../report/events.ts";
import { showChange } from "../report/show-change.ts";
import {
  acquireLockCommand,
  brokenLockMessage,
  HostLockedError,
  lockedMessage,
  newLockOwner,
  parseLockResult,
  releaseLockCommand,
  type LockOwner,
} from "./host-lock.ts";
import { joinCommands } from "../shell/sh.ts";
import { parsePending, readPendingCommand, recordPendingCommand } from "./pending-handlers.ts";
import { asError, firstLine, ReadCache, type ReadOutcome } from "./read-cache.ts";
import { HandlerLedger } from "./handler-ledger.ts";
import { PendingChanges } from "./pending-changes.ts";
import { selectionSkip, startAtIndex, type StepSelection } from "../playbook/tags.ts";
import { gatherFacts } from "../facts/custom-facts.ts";
import type { ShellCommand } from "../shell/sh.ts";
import { encodeBatch, splitBatchOutput } from "./read-batch.ts";
import type { CachedFacts, PlanCache } from "./plan-cache.ts";

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
  /** `--tags`, `--skip-tags`, `--start-at`: the steps not selected are reported skipped. */
  selection?: StepSelection;
  /**
   * This host's facts from the last run (plan-cache.ts): the reads they plan are sent with the
   * facts script, so a converged run is one round trip. Without it: facts, then the reads.
   */
  planCache?: PlanCache;
}

/** One step being run: where it is, what its report starts with, when it started. */
interface StepRun {
  index: number;
  step: Step;
  base: Pick<StepReport, "index" | "name" | "kind">;
  started: number;
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
  /** Said to the user though the run goes on (see #warn). */
  readonly #warnings: string[] = [];
  /** Steps before it are skipped (`--start-at`). */
  #startIndex = 0;
  readonly handlers: HandlerReport[] = [];
  #factsRoundTrips = 0;
  #items: PlaybookItem[] = [];
  #handlerMap: Record<string, Handler> = {};
  readonly #reads: ReadCache;
  readonly #ledger = new HandlerLedger();
  /** Check mode: what apply would have changed by now. */
  readonly #pending = new PendingChanges();
  #failed = false;
  #facts!: Facts & { custom: Record<string, unknown> };
  /** Set while this run holds the host lock (apply mode only). */
  #lock: LockOwner | undefined;
  #hostError: string | undefined;

  constructor(
    readonly options: HostRunOptions,
    readonly session: HostSession,
    readonly emit: EventSink,
  ) {
    this.#reads = new ReadCache(session, options.host.name);
  }

  get host(): string {
    return this.options.host.name;
  }

  get readRoundTrips(): number {
    return this.#factsRoundTrips + this.#reads.roundTrips;
  }

  async execute(started: number): Promise<HostReport> {
    try {
      await this.#prepare();
    } catch (error) {
      const unreachable = error instanceof TransportError && error.kind !== "timeout";
      return this.#finish(started, unreachable ? "unreachable" : "failed", describe(error));
    }
    for (let index = 0; index < this.#items.length; index += 1) await this.#runItem(index, this.#items[index] as PlaybookItem);
    try {
      if (!this.#failed) await this.#runHandlers();
      else for (const handler of this.#ledger.takeLeft()) this.#recordHandler({ name: handler, status: "skipped" });
    } finally {
      await this.#releaseLock();
    }
    return this.#finish(started, this.#hostStatus(), this.#hostError);
  }

  /** Facts, the playbook's steps and handlers, and the preflight read of every step. */
  async #prepare(): Promise<void> {
    this.#facts = await this.#gatherFacts();
    await this.options.planCache?.save(this.#facts);
    const context = { vars: this.options.vars, facts: this.#facts, host: this.#hostInfo() };
    this.#items = this.options.playbook.steps(context as never);
    this.#reads.setItems(this.#items);
    const startAt = this.options.selection?.startAt;
    this.#startIndex = startAt === undefined ? 0 : startAtIndex(this.#items, startAt);
    this.#handlerMap = this.options.playbook.handlers?.(context as never) ?? {};
    this.#checkNotifyTargets();
    await this.#preflight();
  }

  async #runItem(index: number, item: PlaybookItem): Promise<void> {
    if (isFlushHandlers(item)) {
      await this.#runHandlers();
      return;
    }
    const notSelected = index < this.#startIndex ? "before --start-at" : selectionSkip(item, this.options.selection ?? {});
    if (this.#failed || notSelected !== undefined) {
      const summary = notSelected ?? "an earlier step failed";
      this.#record({ index, name: item.name, kind: item.kind, status: "skipped", summary, durationMs: 0 });
      return;
    }
    await this.#runStep(index, item);
  }

  #hostStatus(): HostReport["status"] {
    const counts = countStatuses(this.steps);
    if (this.#failed) return "failed";
    // A handler that ran changed the host; one that would run (owed by an earlier run) is drift.
    if (counts.changed > 0 || this.handlers.some((h) => h.status === "ran")) return "changed";
    if (counts.wouldChange + counts.unknown > 0 || this.handlers.some((h) => h.status === "would-run")) return "drift";
    return "ok";
  }

  /** The host as the playbook sees it: the address the transport really connected to (ssh config HostName, inventory address). */
  #hostInfo(): HostInfo {
    return { ...this.options.host, address: this.session.transport.address ?? this.options.host.address };
  }

  /**
   * The built-in facts and the playbook's custom ones, in one round trip — with the reads the
   * last run's facts plan (plan-cache.ts) in the same script; the preflight then uses those whose
   * command the real steps ask for, byte for byte, and sends only the rest.
   */
  async #gatherFacts(): Promise<Facts & { custom: Record<string, unknown> }> {
    this.#factsRoundTrips += 1;
    const gather = gatherFacts(this.options.playbook.facts ?? {});
    const cached = await this.options.planCache?.load();
    const ahead = cached ? this.#plannedReads(cached) : [];
    if (ahead.length === 0) return gather.parse(await this.session.run(gather.command));
    const batch = encodeBatch([gather.command, ...ahead]);
    let results: ExecResult[];
    try {
      results = splitBatchOutput(batch, await this.session.run(batch.command));
    } catch (error) {
      if (error instanceof TransportError) throw error;
      // The script did not finish (a read killed the shell?): the facts alone, as without a cache.
      this.#factsRoundTrips += 1;
      return gather.parse(await this.session.run(gather.command));
    }
    this.#reads.sentAhead(new Map(ahead.map((command, i) => [command.text, results[i + 1] as ExecResult])));
    return gather.parse(results[0] as ExecResult);
  }

  /**
   * The remote reads the steps built from `facts` (the cached ones) would make, and the owed-handlers
   * read: what to send with the facts. Anything that fails here only means less is sent ahead.
   */
  #plannedReads(facts: CachedFacts): ShellCommand[] {
    const commands = new Map<string, ShellCommand>();
    try {
      const pending = readPendingCommand(this.options.playbook.name, facts.uid);
      commands.set(pending.text, pending);
      const context = { vars: this.options.vars, facts, host: this.#hostInfo() };
      for (const item of this.options.playbook.steps(context as never)) {
        if (isFlushHandlers(item)) continue;
        try {
          const spec = item.read();
          if (!isLocalRead(spec)) commands.set(spec.command.text, spec.command);
        } catch {
          // This step's read fails with the real facts too, or not: the preflight decides.
        }
      }
    } catch {
      return [];
    }
    return [...commands.values()];
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
    const indices = this.#reads.stepIndices();
    const pending = await this.#reads.read(indices, readPendingCommand(this.options.playbook.name, this.#facts.uid));
    this.#ledger.loadOwed(parsePending(pending as ExecResult), this.#handlerMap);
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

  /** read → diff → record ok (or would-change, in check), or lock → owe → apply → invalidate. */
  async #runStep(index: number, step: Step): Promise<void> {
    const run: StepRun = { index, step, base: { index, name: step.name, kind: step.kind }, started: Date.now() };
    this.emit({ type: "step-start", host: this.host, index, name: step.name, kind: step.kind });
    let outcome: ReadOutcome;
    try {
      // Stale after an earlier apply: read this step and every later stale one in one batch.
      outcome = await this.#reads.ensure(index);
    } catch (error) {
      this.#fail(run, describe(error));
      return;
    }
    if (this.options.mode === "check") {
      this.#checkStep(run, outcome);
      return;
    }
    if (!outcome.ok) {
      this.#fail(run, outcome.error.message);
      return;
    }
    const change = this.#diffOrRecord(run, outcome.value);
    if (!change) return;
    if (!step.apply) {
      // A read-only step (a verification) cannot make its state true: its drift is a failure.
      const shown = showChange(change);
      this.#fail(run, shown.summary, shown);
      return;
    }
    await this.#applyStep(run, outcome.value, change);
  }

  /** Apply mode, a step with a change: lock (first change), owe its handlers, apply, invalidate. */
  async #applyStep(run: StepRun, read: unknown, planned: Change): Promise<void> {
    const { step } = run;
    const locked = this.#lock ? { current: read, change: planned } : await this.#lockAndReread(run, planned);
    if (!locked) return;
    const { current, change } = locked;
    const shown = showChange(change);
    const owed = await this.#oweHandlers(run, shown);
    if (!owed) return;
    let outcome: ApplyOutcome | undefined;
    try {
      outcome = (await (step.apply as NonNullable<Step["apply"]>)(this.#applyContext(), current, change)) ?? undefined;
    } catch (error) {
      // Refused before anything changed (a write its validation rejected): nothing is owed for it,
      // so the next run neither runs its handlers nor reports them as drift.
      if (error instanceof HostUnchangedError) this.#ledger.disown(owed);
      // The report names the step (and its host): the error says only what went wrong.
      this.#fail(run, describe(error), shown);
      return;
    }
    // What this step changed may be what a later step reads: read them again when reached.
    this.#reads.invalidateAfter(run.index);
    if (outcome?.changed === false) {
      // It ran and says it changed nothing (command's changedWhen): ok, and it notifies nothing.
      this.#ledger.disown(owed);
      this.#record({ ...run.base, summary: mask(outcome.summary ?? shown.summary), status: "ok", durationMs: Date.now() - run.started });
      return;
    }
    this.#ledger.notify(step.notify ?? []);
    const summary = outcome?.summary === undefined ? {} : { summary: mask(outcome.summary) };
    this.#record({ ...run.base, ...shown, ...summary, status: "changed", durationMs: Date.now() - run.started });
  }

  /**
   * First change of this run: take the host lock, and read this and the later steps again under
   * it (what was read before may be another run's half-done work). The fresh change, or null once
   * the step's outcome (failed, or ok after all) is recorded.
   */
  async #lockAndReread(run: StepRun, planned: Change): Promise<{ current: unknown; change: Change } | null> {
    try {
      await this.#acquireLock(run.index);
    } catch (error) {
      if (error instanceof HostLockedError) this.#hostError = error.message;
      this.#fail(run, describe(error), showChange(planned));
      return null;
    }
    const fresh = this.#reads.get(run.index) as ReadOutcome;
    if (!fresh.ok) {
      this.#fail(run, fresh.error.message);
      return null;
    }
    const change = this.#diffOrRecord(run, fresh.value);
    return change ? { current: fresh.value, change } : null;
  }

  /** Record on the host the handlers this step notifies, before the change: those newly owed, or null once it failed. */
  async #oweHandlers(run: StepRun, shown: ReturnType<typeof showChange>): Promise<string[] | null> {
    const owe = this.#ledger.toOwe(run.step.notify ?? []);
    if (owe.length === 0) return [];
    // Before the change: a run cut after it still leaves the handler owed (pending-handlers.ts).
    try {
      await this.session.runOrThrow(recordPendingCommand(this.options.playbook.name, this.#facts.uid, owe));
    } catch (error) {
      this.#fail(run, `cannot record the handlers this step notifies (${owe.join(", ")}): ${describe(error)}`, shown);
      return null;
    }
    this.#ledger.owe(owe);
    return owe;
  }

  /**
   * Check mode: the step's result, or `unknown` when it depends on a pending change — an earlier
   * step that would (or might) change provides something this step requires (Step.requires).
   * A failure nothing pending explains is shown as apply would show it.
   */
  #checkStep(run: StepRun, outcome: ReadOutcome): void {
    const { step } = run;
    const blocker = this.#pending.blockerOf(step);
    let change: Change | null;
    try {
      if (!outcome.ok) throw outcome.error;
      change = step.diff(outcome.value);
    } catch (error) {
      if (blocker && !(error instanceof InvalidStepError)) this.#recordUnknown(run, blocker, firstLine(describe(error)));
      else this.#fail(run, describe(error));
      return;
    }
    // A step that declares what it reads is exact only once nothing it reads is pending.
    if (blocker && step.requires !== undefined) {
      this.#recordUnknown(run, blocker, `as the host is now: ${change ? change.summary : "ok"}`);
      return;
    }
    if (!change) {
      this.#record({ ...run.base, status: "ok", durationMs: Date.now() - run.started });
      return;
    }
    this.#pending.addStep(step, change);
    this.#ledger.notify(step.notify ?? []);
    this.#record({ ...run.base, ...showChange(change), status: "would-change", durationMs: Date.now() - run.started });
  }

  #recordUnknown(run: StepRun, blocker: string, detail: string): void {
    // It might change too: what depends on it is unknown as well.
    this.#pending.addStep(run.step);
    const summary = mask(`depends on a pending change of ${blocker} (${detail})`);
    this.#record({ ...run.base, status: "unknown", summary, durationMs: Date.now() - run.started });
  }

  /**
   * Take the host lock in one round trip with a fresh read of step `index` and every later step.
   * Throws HostLockedError when another run holds it (or it cannot be taken).
   */
  async #acquireLock(index: number): Promise<void> {
    const owner = newLockOwner();
    const indices = this.#reads.stepIndices(index);
    this.#reads.forget(indices);
    const lockResult = await this.#reads.read(indices, acquireLockCommand(owner));
    const outcome = parseLockResult(lockResult as ExecResult, this.host);
    if (!outcome.acquired) {
      this.#reads.forget(indices);
      throw new HostLockedError(lockedMessage(this.host, outcome));
    }
    this.#lock = owner;
    // Breaking another run's lock is never silent: whose it was, and why it counted as dead.
    const broke = brokenLockMessage(this.host, outcome);
    if (broke) this.#warn(broke);
  }

  #warn(message: string): void {
    const masked = mask(message);
    this.#warnings.push(masked);
    this.emit({ type: "warning", host: this.host, message: masked });
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
    const settle = this.#ledger.settleCommand(this.options.playbook.name, this.#facts.uid);
    await this.session.run(joinCommands([...settle, releaseLockCommand(owner)], "\n")).catch(() => undefined);
  }

  /** The step's change, or null once its outcome (ok, or failed because diff threw) is recorded. */
  #diffOrRecord(run: StepRun, current: unknown): Change | null {
    let change: Change | null;
    try {
      change = run.step.diff(current);
    } catch (error) {
      this.#fail(run, describe(error));
      return null;
    }
    if (!change) this.#record({ ...run.base, status: "ok", durationMs: Date.now() - run.started });
    return change;
  }

  async #runHandlers(): Promise<void> {
    if (!this.#ledger.hasNotified) return;
    // Handlers run in the order they are declared, each once, like Ansible's.
    const due = this.#ledger.takeDue(Object.keys(this.#handlerMap));
    if (this.options.mode === "apply" && !this.#failed && !this.#lock) {
      // Only handlers an earlier run owed are due (no step changed): they change the host too.
      try {
        await this.#acquireLock(this.#items.length);
      } catch (error) {
        this.#failed = true;
        this.#hostError = describe(error);
      }
    }
    for (const name of due) await this.#runHandler(name);
  }

  async #runHandler(name: string): Promise<void> {
    const why = this.#ledger.isOwedByEarlierRun(name) ? { reason: OWED_REASON } : {};
    if (this.options.mode === "check") {
      this.#recordHandler({ name, status: "would-run", ...why });
      this.#pending.addHandler(name);
      return;
    }
    if (this.#failed) {
      this.#recordHandler({ name, status: "skipped", ...why });
      return;
    }
    try {
      await (this.#handlerMap[name] as Handler).run(this.#applyContext());
      this.#recordHandler({ name, status: "ran", ...why });
      this.#ledger.ran(name);
    } catch (error) {
      this.#failed = true;
      this.#recordHandler({ name, status: "failed", ...why, error: mask(`handler "${name}": ${describe(error)}`) });
    }
    // A handler (a reload, a restart) may change what later steps read.
    this.#reads.clear();
  }

  #applyContext(): ApplyContext {
    return {
      session: this.session,
      facts: this.#facts,
      host: this.host,
      reconnect: () => this.session.reconnect(this.options.connect),
    };
  }

  #fail(run: StepRun, error: string, shown: { summary?: string; diff?: string } = {}): void {
    this.#failed = true;
    this.#record({ ...run.base, ...shown, durationMs: Date.now() - run.started, status: "failed", error: mask(error) });
  }

  #record(report: StepReport): void {
    const step = this.#items[report.index];
    const outputs = step && !isFlushHandlers(step) && report.status !== "skipped" ? step.outputs?.() : undefined;
    const recorded = outputs?.length
      ? { ...report, outputs: outputs.map((o) => ({ label: mask(o.label), value: mask(o.value) })) }
      : report;
    this.steps.push(recorded);
    this.emit({ type: "step-end", host: this.host, step: recorded });
  }

  #recordHandler(handler: HandlerReport): void {
    this.handlers.push(handler);
    this.emit({ type: "handler-end", host: this.host, handler });
  }

  #finish(started: number, status: HostReport["status"], error?: string): HostReport {
    const report = hostReport(this.host, status, this.steps, this.handlers, this.session.roundTrips, this.readRoundTrips, started, error);
    return this.#warnings.length > 0 ? { ...report, warnings: [...this.#warnings] } : report;
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

function describe(error: unknown): string {
  return mask(asError(error).message);
}
