/**
 * Check mode's memory of what apply would have changed by now: the steps that would (or might)
 * change and the handlers that would run, in order, each with what it provides (Step.provides).
 * A later step that requires something one of them provides depends on a pending change.
 */
import { anyOverlap, EVERYTHING, type Resource } from "../playbook/resources.ts";
import type { Change, Step } from "../playbook/step.ts";

interface PendingChange {
  label: string;
  provides: readonly Resource[];
}

export class PendingChanges {
  #changes: PendingChange[] = [];

  /**
   * A step would (or might) change. A step without apply (a verification) changes nothing. What
   * it changes: what its Change says it touches, else all the step may change.
   */
  addStep(step: Step, change?: Change): void {
    if (step.apply) this.#changes.push({ label: `step "${step.name}"`, provides: change?.provides ?? step.provides ?? [EVERYTHING] });
  }

  /** A handler would run: a restart may change anything a later step reads. */
  addHandler(name: string): void {
    this.#changes.push({ label: `handler "${name}"`, provides: [EVERYTHING] });
  }

  /** The nearest earlier pending change that provides something `step` requires, by its label. */
  blockerOf(step: Step): string | undefined {
    const requires = step.requires ?? [EVERYTHING];
    for (let i = this.#changes.length - 1; i >= 0; i -= 1) {
      const change = this.#changes[i] as PendingChange;
      if (anyOverlap(change.provides, requires)) return change.label;
    }
    return undefined;
  }
}
