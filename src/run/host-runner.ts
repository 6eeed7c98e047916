/**
 * Runs a playbook on one host as a sequence of phases (docs/ARCHITECTURE.md, "The host runner's
 * phases"): connect → facts, with the reads the plan cache plans (reads-ahead.ts) → steps(ctx) →
 * preflight: read and diff every step → each step: read → diff → record ok, or (apply) lock → owe
 * → apply → invalidate → handlers, once, after the steps or at a flush marker → settle the owed
 * handlers and release the lock. This file only sequences the phases; their machinery lives in
 * read-cache.ts (reads: batching, invalidation), handler-ledger.ts (handlers notified, owed, ran,
 * settled), run-lock.ts (the lock this run holds), check-verdict.ts and pending-changes.ts (check
 * mode), host-report.ts (what the host reports).
 *
 * Check mode is structural: `apply` and handlers are never called, so only reads reach the host,
 * and no lock is taken. Apply mode locks right before the first change and releases at the end
 * (also after a failure). Handlers a step notifies are recorded on the host before the step is
 * applied (pending-handlers.ts): handlers owed by an earlier run that did not finish are run
 * (apply) or reported as drift (check).
 */
import type { HostInfo, Playbook } from "../playbook/playbook.ts";
import {
  HostUnchangedError,
  isFlushHandlers,
  type ApplyContext,
  type ApplyOutcome,
  type Change,
  type Handler,
  type PlaybookItem,
  type Step,
} from "../playbook/step.ts";
import { selectionSkip, startAtIndex, type StepSelection } from "../playbook/tags.ts";
import type { EventSink, HostReport } from "../report/events.ts";
import { showChange } from "../report/show-change.ts";
import { mask } from "../shell/mask.ts";
import { HostSession } from "../transport/host-session.ts";
import { TransportError, type Transport } from "../transport/transport.ts";
import { checkVerdict } from "./check-verdict.ts";
import { describeError as describe } from "./describe-error.ts";
import { HandlerLedger } from "./handler-ledger.ts";
import { HostLockedError } from "./host-lock.ts";
import { HostReportBuilder, type StepRun } from "./host-report.ts";
import { checkNotifyTargets } from "./notify-targets.ts";
import { PendingChanges } from "./pending-changes.ts";
import { recordPendingCommand } from "./pending-handlers.ts";
import { preflight } from "./preflight.ts";
import type { CachedFacts, PlanCache } from "./plan-cache.ts";
import { ReadCache, type ReadOutcome } from "./read-cache.ts";
import { gatherFactsWithReadsAhead, loadPlanAhead, type PlanAhead } from "./reads-ahead.ts";
import { RunLock } from "./run-lock.ts";

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

export async function runHost(options: HostRunOptions): Promise<HostReport> {
  const started = Date.now();
  const emit = options.emit ?? (() => undefined);
  const name = options.host.name;
  emit({ type: "host-start", host: name });

  // The plan cache is read, and its reads planned (its probes started, logins held), while the connection is made.
  let reachedAddress!: (address: string) => void;
  let unreached!: (error: unknown) => void;
  const reached = new Promise<string>((resolve, reject) => {
    reachedAddress = resolve;
    unreached = reject;
  });
  reached.catch(() => undefined);
  const ahead = loadPlanAhead({ playbook: options.playbook, vars: options.vars, hostName: name, planCache: options.planCache, reached });
  let session: HostSession;
  try {
    session = new HostSession(await options.connect(), options.commandTimeoutMs);
    // As the playbook sees it (HostRun's host info): the address the transport really reached.
    reachedAddress(session.transport.address ?? options.host.address);
  } catch (error) {
    unreached(error);
    const ended = { status: "unreachable" as const, error: describe(error) };
    const report = new HostReportBuilder(name, emit).build({ roundTrips: 0, readRoundTrips: 0 }, started, ended);
    emit({ type: "host-end", host: name, report });
    return report;
  }

  const run = new HostRun(options, session, emit, ahead);
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
  readonly #report: HostReportBuilder;
  readonly #reads: ReadCache;
  readonly #ledger = new HandlerLedger();
  readonly #lock: RunLock;
  /** Check mode: what apply would have changed by now. */
  readonly #pending = new PendingChanges();
  #factsRoundTrips = 0;
  #facts!: CachedFacts;
  #items: PlaybookItem[] = [];
  #handlerMap: Record<string, Handler> = {};
  /** Steps before it are skipped (`--start-at`). */
  #startIndex = 0;

  constructor(
    readonly options: HostRunOptions,
    readonly session: HostSession,
    readonly emit: EventSink,
    readonly ahead: Promise<PlanAhead | undefined>,
  ) {
    this.#report = new HostReportBuilder(options.host.name, emit);
    this.#reads = new ReadCache(session, options.host.name);
    this.#lock = new RunLock(session, options.host.name);
  }

  get host(): string {
    return this.options.host.name;
  }

  async execute(started: number): Promise<HostReport> {
    try {
      await this.#prepare();
    } catch (error) {
      const unreachable = error instanceof TransportError && error.kind !== "timeout";
      return this.#finish(started, { status: unreachable ? "unreachable" : "failed", error: describe(error) });
    }
    for (let index = 0; index < this.#items.length; index += 1) await this.#runItem(index, this.#items[index] as PlaybookItem);
    try {
      if (!this.#report.failed) await this.#runHandlers();
      else for (const handler of this.#ledger.takeLeft()) this.#report.handler({ name: handler, status: "skipped" });
    } finally {
      // Settling the owed-handlers record travels with the release, still under the lock.
      await this.#lock.release(this.#ledger.settleCommand(this.options.playbook.name, this.#facts.uid));
    }
    return this.#finish(started);
  }

  /** Facts (with the reads ahead), the playbook's steps and handlers, and the preflight read and diff of every step. */
  async #prepare(): Promise<void> {
    const { playbook, vars } = this.options;
    const host = this.#hostInfo();
    const countRoundTrip = () => void (this.#factsRoundTrips += 1);
    this.#facts = await gatherFactsWithReadsAhead({
      ...this.options,
      host,
      session: this.session,
      ahead: this.ahead,
      reads: this.#reads,
      countRoundTrip,
    });
    const context = { vars, facts: this.#facts, host };
    this.#items = playbook.steps(context as never);
    this.#reads.setItems(this.#items);
    const startAt = this.options.selection?.startAt;
    this.#startIndex = startAt === undefined ? 0 : startAtIndex(this.#items, startAt);
    this.#handlerMap = playbook.handlers?.(context as never) ?? {};
    checkNotifyTargets(this.#items, this.#handlerMap, playbook.name);
    this.#ledger.loadOwed(await preflight(this.#reads, this.#items, playbook.name, this.#facts.uid), this.#handlerMap);
  }

  /** The host as the playbook sees it: the address the transport really connected to (ssh config HostName, inventory address). */
  #hostInfo(): HostInfo {
    return { ...this.options.host, address: this.session.transport.address ?? this.options.host.address };
  }

  async #runItem(index: number, item: PlaybookItem): Promise<void> {
    if (isFlushHandlers(item)) {
      await this.#runHandlers();
      return;
    }
    const notSelected = index < this.#startIndex ? "before --start-at" : selectionSkip(item, this.options.selection ?? {});
    if (this.#report.failed || notSelected !== undefined) {
      const summary = notSelected ?? "an earlier step failed";
      this.#report.step({ index, name: item.name, kind: item.kind, status: "skipped", summary, durationMs: 0 }, item);
      return;
    }
    await this.#runStep(index, item);
  }

  /** read → diff → record ok (or check's verdict), or lock → owe → apply → invalidate. */
  async #runStep(index: number, step: Step): Promise<void> {
    const run = this.#report.startStep(index, step);
    let outcome: ReadOutcome;
    try {
      // Stale after an earlier apply: read this step and every later stale one in one batch.
      outcome = await this.#reads.ensure(index);
    } catch (error) {
      run.fail(describe(error));
      return;
    }
    if (this.options.mode === "check") {
      this.#checkStep(run, outcome);
      return;
    }
    if (!outcome.ok) {
      run.fail(outcome.error.message);
      return;
    }
    const change = this.#diffOrRecord(run, outcome.value);
    if (!change) return;
    if (!step.apply) {
      // A read-only step (a verification) cannot make its state true: its drift is a failure.
      const shown = showChange(change);
      run.fail(shown.summary, shown);
      return;
    }
    await this.#applyStep(run, outcome.value, change);
  }

  /** Check mode: record the step's verdict (check-verdict.ts) and what would be pending after it. */
  #checkStep(run: StepRun, outcome: ReadOutcome): void {
    const verdict = checkVerdict(run.step, outcome, this.#pending.blockerOf(run.step));
    switch (verdict.status) {
      case "failed":
        run.fail(verdict.error);
        break;
      case "ok":
        run.done({ status: "ok" });
        break;
      case "unknown":
        // It might change too: what depends on it is unknown as well.
        this.#pending.addStep(run.step);
        run.done({ status: "unknown", summary: mask(`depends on a pending change of ${verdict.blocker} (${verdict.detail})`) });
        break;
      case "would-change":
        this.#pending.addStep(run.step, verdict.change);
        this.#ledger.notify(run.step.notify ?? []);
        run.done({ ...showChange(verdict.change), status: "would-change" });
    }
  }

  /** Apply mode, a step with a change: lock (first change), owe its handlers, apply, invalidate. */
  async #applyStep(run: StepRun, read: unknown, planned: Change): Promise<void> {
    const locked = this.#lock.held ? { current: read, change: planned } : await this.#lockAndReread(run, planned);
    if (!locked) return;
    const { current, change } = locked;
    const shown = showChange(change);
    const owed = await this.#oweHandlers(run, shown);
    if (!owed) return;
    let outcome: ApplyOutcome | undefined;
    try {
      outcome = (await (run.step.apply as NonNullable<Step["apply"]>)(this.#applyContext(), current, change)) ?? undefined;
    } catch (error) {
      // Refused before anything changed (a write its validation rejected): nothing is owed for it,
      // so the next run neither runs its handlers nor reports them as drift.
      if (error instanceof HostUnchangedError) this.#ledger.disown(owed);
      // The report names the step (and its host): the error says only what went wrong.
      run.fail(describe(error), shown);
      return;
    }
    // What this step changed may be what a later step reads: read them again when reached.
    this.#reads.invalidateAfter(run.index);
    if (outcome?.changed === false) {
      // It ran and says it changed nothing (command's changedWhen): ok, and it notifies nothing.
      this.#ledger.disown(owed);
      run.done({ summary: mask(outcome.summary ?? shown.summary), status: "ok" });
      return;
    }
    this.#ledger.notify(run.step.notify ?? []);
    const summary = outcome?.summary === undefined ? {} : { summary: mask(outcome.summary) };
    run.done({ ...shown, ...summary, status: "changed" });
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
      if (error instanceof HostLockedError) this.#report.hostError(error.message);
      run.fail(describe(error), showChange(planned));
      return null;
    }
    const fresh = this.#reads.get(run.index) as ReadOutcome;
    if (!fresh.ok) {
      run.fail(fresh.error.message);
      return null;
    }
    const change = this.#diffOrRecord(run, fresh.value);
    return change ? { current: fresh.value, change } : null;
  }

  /** Take the host lock with a fresh read of steps `from` on; breaking a stale one is said. */
  async #acquireLock(from: number): Promise<void> {
    const broke = await this.#lock.acquire(this.#reads, from);
    if (broke) this.#report.warn(broke);
  }

  /** Record on the host the handlers this step notifies, before the change: those newly owed, or null once it failed. */
  async #oweHandlers(run: StepRun, shown: ReturnType<typeof showChange>): Promise<string[] | null> {
    const owe = this.#ledger.toOwe(run.step.notify ?? []);
    if (owe.length === 0) return [];
    // Before the change: a run cut after it still leaves the handler owed (pending-handlers.ts).
    try {
      await this.session.runOrThrow(recordPendingCommand(this.options.playbook.name, this.#facts.uid, owe));
    } catch (error) {
      run.fail(`cannot record the handlers this step notifies (${owe.join(", ")}): ${describe(error)}`, shown);
      return null;
    }
    this.#ledger.owe(owe);
    return owe;
  }

  /** The step's change, or null once its outcome (ok, or failed because diff threw) is recorded. */
  #diffOrRecord(run: StepRun, current: unknown): Change | null {
    let change: Change | null;
    try {
      change = run.step.diff(current);
    } catch (error) {
      run.fail(describe(error));
      return null;
    }
    if (!change) run.done({ status: "ok" });
    return change;
  }

  async #runHandlers(): Promise<void> {
    if (!this.#ledger.hasNotified) return;
    // Handlers run in the order they are declared, each once, like Ansible's.
    const due = this.#ledger.takeDue(Object.keys(this.#handlerMap));
    if (this.options.mode === "apply" && !this.#report.failed && !this.#lock.held) {
      // Only handlers an earlier run owed are due (no step changed): they change the host too.
      try {
        await this.#acquireLock(this.#items.length);
      } catch (error) {
        this.#report.hostError(describe(error), true);
      }
    }
    for (const name of due) await this.#runHandler(name);
  }

  async #runHandler(name: string): Promise<void> {
    const why = this.#ledger.isOwedByEarlierRun(name) ? { reason: OWED_REASON } : {};
    if (this.options.mode === "check") {
      this.#report.handler({ name, status: "would-run", ...why });
      this.#pending.addHandler(name);
      return;
    }
    if (this.#report.failed) {
      this.#report.handler({ name, status: "skipped", ...why });
      return;
    }
    try {
      await (this.#handlerMap[name] as Handler).run(this.#applyContext());
      this.#report.handler({ name, status: "ran", ...why });
      this.#ledger.ran(name);
    } catch (error) {
      this.#report.handler({ name, status: "failed", ...why, error: mask(`handler "${name}": ${describe(error)}`) });
    }
    // A handler (a reload, a restart) may change what later steps read.
    this.#reads.clear();
  }

  /** What apply and handlers get; `reconnect` connects the session again (the `reboot` handler). */
  #applyContext(): ApplyContext {
    return {
      session: this.session,
      facts: this.#facts,
      host: this.host,
      reconnect: () => this.session.reconnect(this.options.connect),
    };
  }

  #finish(started: number, ended?: { status: HostReport["status"]; error: string }): HostReport {
    const readRoundTrips = this.#factsRoundTrips + this.#reads.roundTrips;
    return this.#report.build({ roundTrips: this.session.roundTrips, readRoundTrips }, started, ended);
  }
}
