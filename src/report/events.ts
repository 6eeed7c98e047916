/**
 * What a run tells the world. Runners emit events; reporters (terminal, JSON) consume them.
 * Every string in an event is masked before a reporter prints it.
 */
export type StepStatus = "ok" | "changed" | "would-change" | "unknown" | "failed" | "skipped";
export type HandlerStatus = "ran" | "would-run" | "failed" | "skipped";
export type HostStatus = "ok" | "changed" | "drift" | "failed" | "unreachable" | "not-started";

export interface StepReport {
  index: number;
  name: string;
  kind: string;
  status: StepStatus;
  /** What changed, would change, or why not. */
  summary?: string;
  /** Unified diff (secrets masked) when the change is to text. */
  diff?: string;
  error?: string;
  durationMs: number;
  /** Values the user needs from this step (a DNS record to publish), as the host has them now. */
  outputs?: StepOutput[];
}

/** A value a step reports for the user to act on: `DNS TXT sel1._domainkey.example.org` → the record. */
export interface StepOutput {
  label: string;
  value: string;
}

export interface HandlerReport {
  name: string;
  status: HandlerStatus;
  /** Set when no step of this run notified it: an earlier run that did not finish owed it. */
  reason?: string;
  error?: string;
}

export interface StatusCounts {
  ok: number;
  changed: number;
  wouldChange: number;
  unknown: number;
  failed: number;
  skipped: number;
}

export interface HostReport {
  host: string;
  status: HostStatus;
  steps: StepReport[];
  handlers: HandlerReport[];
  counts: StatusCounts;
  /** Commands sent to the host; each one is a network round trip. */
  roundTrips: number;
  /** Of those, the ones that only read state (facts and batched reads). */
  readRoundTrips: number;
  durationMs: number;
  error?: string;
  /** What the user should know though the run went on: a stale host lock broken, say. */
  warnings?: string[];
}

export type RunEvent =
  | { type: "host-start"; host: string }
  | { type: "step-start"; host: string; index: number; name: string; kind: string }
  | { type: "step-end"; host: string; step: StepReport }
  | { type: "handler-end"; host: string; handler: HandlerReport }
  | { type: "warning"; host: string; message: string }
  | { type: "host-end"; host: string; report: HostReport };

export type EventSink = (event: RunEvent) => void;

export function countStatuses(steps: readonly StepReport[]): StatusCounts {
  const counts: StatusCounts = { ok: 0, changed: 0, wouldChange: 0, unknown: 0, failed: 0, skipped: 0 };
  for (const step of steps) {
    if (step.status === "would-change") counts.wouldChange += 1;
    else counts[step.status] += 1;
  }
  return counts;
}

/** A host report with no steps: a host that failed before its first step, or never started. */
export function emptyHostReport(host: string, status: HostStatus, error: string): HostReport {
  return {
    host,
    status,
    steps: [],
    handlers: [],
    counts: countStatuses([]),
    roundTrips: 0,
    readRoundTrips: 0,
    durationMs: 0,
    error,
  };
}
