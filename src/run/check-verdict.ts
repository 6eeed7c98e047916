/**
 * Check mode's verdict on one step, from its read: its result as apply would see it, or `unknown`
 * when it depends on a pending change — an earlier step that would (or might) change, or a handler
 * that would run, provides something this step requires (pending-changes.ts, Step.requires).
 * Pure: the runner records it.
 */
import { InvalidStepError, type Change, type Step } from "../playbook/step.ts";
import { describeError, firstLine } from "./describe-error.ts";
import type { ReadOutcome } from "./read-cache.ts";

export type CheckVerdict =
  | { status: "ok" }
  | { status: "would-change"; change: Change }
  /** `detail`: what the step says as the host is now (its error, or its result). */
  | { status: "unknown"; blocker: string; detail: string }
  | { status: "failed"; error: string };

/** `blocker`: the nearest pending change this step depends on (PendingChanges.blockerOf), if any. */
export function checkVerdict(step: Step, outcome: ReadOutcome, blocker: string | undefined): CheckVerdict {
  let change: Change | null;
  try {
    if (!outcome.ok) throw outcome.error;
    change = step.diff(outcome.value);
  } catch (error) {
    // A failure nothing pending explains is shown as apply would show it; invalid input is always fatal.
    if (blocker && !(error instanceof InvalidStepError)) return { status: "unknown", blocker, detail: firstLine(describeError(error)) };
    return { status: "failed", error: describeError(error) };
  }
  // A step that declares what it reads is exact only once nothing it reads is pending.
  if (blocker && step.requires !== undefined) {
    return { status: "unknown", blocker, detail: `as the host is now: ${change ? change.summary : "ok"}` };
  }
  return change ? { status: "would-change", change } : { status: "ok" };
}
