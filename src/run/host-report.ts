/**
 * What one host's run reports, as it goes: each step's result (timed from its start, with the
 * outputs the step shows) and each handler's, also emitted as events; the warnings said though the
 * run went on; whether the run failed and why the host did; at the end the host's report and status.
 * Everything that leaves here is masked (outputs, warnings, the host's error).
 */
import { countStatuses, type EventSink, type HandlerReport, type HostReport, type StepReport } from "../report/events.ts";
import { mask } from "../shell/mask.ts";
import { isFlushHandlers, type PlaybookItem, type Step } from "../playbook/step.ts";

/** A step's result, without what its StepRun knows (where it is, how long it took). */
export type StepResult = Omit<StepReport, "index" | "name" | "kind" | "durationMs">;

export class HostReportBuilder {
  readonly steps: StepReport[] = [];
  readonly handlers: HandlerReport[] = [];
  readonly #warnings: string[] = [];
  #failed = false;
  #error: string | undefined;

  constructor(
    readonly host: string,
    readonly emit: EventSink,
  ) {}

  /** A step failed, a handler failed, or the lock for owed handlers could not be taken: the rest is skipped. */
  get failed(): boolean {
    return this.#failed;
  }

  /** The step at `index` starts (an event): its result is recorded through what this returns. */
  startStep(index: number, step: Step): StepRun {
    const run = new StepRun(this, index, step);
    this.emit({ type: "step-start", host: this.host, index, name: step.name, kind: step.kind });
    return run;
  }

  /** A step's result, with the outputs its step shows once it ran (not when skipped). */
  step(report: StepReport, item: PlaybookItem | undefined): void {
    if (report.status === "failed") this.#failed = true;
    const outputs = item && !isFlushHandlers(item) && report.status !== "skipped" ? item.outputs?.() : undefined;
    const recorded = outputs?.length
      ? { ...report, outputs: outputs.map((o) => ({ label: mask(o.label), value: mask(o.value) })) }
      : report;
    this.steps.push(recorded);
    this.emit({ type: "step-end", host: this.host, step: recorded });
  }

  handler(handler: HandlerReport): void {
    if (handler.status === "failed") this.#failed = true;
    this.handlers.push(handler);
    this.emit({ type: "handler-end", host: this.host, handler });
  }

  /** What the host's report says went wrong (another run's lock); `fail`: the run failed too. */
  hostError(error: string, fail = false): void {
    this.#error = error;
    if (fail) this.#failed = true;
  }

  /** Said to the user though the run goes on (a stale lock broken). */
  warn(message: string): void {
    const masked = mask(message);
    this.#warnings.push(masked);
    this.emit({ type: "warning", host: this.host, message: masked });
  }

  /** The host's status from what was recorded. */
  status(): HostReport["status"] {
    const counts = countStatuses(this.steps);
    if (this.#failed) return "failed";
    // A handler that ran changed the host; one that would run (owed by an earlier run) is drift.
    if (counts.changed > 0 || this.handlers.some((h) => h.status === "ran")) return "changed";
    if (counts.wouldChange + counts.unknown > 0 || this.handlers.some((h) => h.status === "would-run")) return "drift";
    return "ok";
  }

  /** The host's report: with the status and error recorded, unless the run ended otherwise (`ended`). */
  build(
    trips: { roundTrips: number; readRoundTrips: number },
    started: number,
    ended?: { status: HostReport["status"]; error: string },
  ): HostReport {
    const error = ended ? ended.error : this.#error;
    const report: HostReport = {
      host: this.host,
      status: ended?.status ?? this.status(),
      steps: this.steps,
      handlers: this.handlers,
      counts: countStatuses(this.steps),
      roundTrips: trips.roundTrips,
      readRoundTrips: trips.readRoundTrips,
      durationMs: Date.now() - started,
      ...(error ? { error: mask(error) } : {}),
    };
    return this.#warnings.length > 0 ? { ...report, warnings: [...this.#warnings] } : report;
  }
}

/** One step being run: where it is, and when it started; its result is recorded once. */
export class StepRun {
  readonly started = Date.now();

  constructor(
    readonly report: HostReportBuilder,
    readonly index: number,
    readonly step: Step,
  ) {}

  done(result: StepResult): void {
    const { index, step } = this;
    this.report.step({ index, name: step.name, kind: step.kind, ...result, durationMs: Date.now() - this.started }, step);
  }

  /** Failed: the run fails (the later steps are skipped); `shown` is the change it was making. */
  fail(error: string, shown: { summary?: string; diff?: string } = {}): void {
    const { index, step } = this;
    const base = { index, name: step.name, kind: step.kind };
    this.report.step({ ...base, ...shown, durationMs: Date.now() - this.started, status: "failed", error: mask(error) }, step);
  }
}
