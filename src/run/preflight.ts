/**
 * The preflight: every step read once, up front, in one batch with the owed-handlers record (a read
 * sent ahead with the facts is used when its command is byte-identical, reads-ahead.ts), and every
 * step diffed once, so a step whose input is invalid (InvalidStepError) fails the host before
 * anything is changed. Any other failure of a read or diff is the step's own, reported when the
 * runner reaches it.
 */
import { InvalidStepError, type PlaybookItem, type Step } from "../playbook/step.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parsePending, readPendingCommand } from "./pending-handlers.ts";
import type { ReadCache } from "./read-cache.ts";

/** Read and diff every step of `items` (into `reads`); the handler names the host's record says are owed. */
export async function preflight(reads: ReadCache, items: readonly PlaybookItem[], playbook: string, uid: number): Promise<string[]> {
  const indices = reads.stepIndices();
  const pending = await reads.read(indices, readPendingCommand(playbook, uid));
  const owed = parsePending(pending as ExecResult);
  for (const index of indices) {
    const outcome = reads.get(index);
    if (!outcome?.ok) continue;
    const step = items[index] as Step;
    try {
      step.diff(outcome.value);
    } catch (error) {
      if (error instanceof InvalidStepError) throw new InvalidStepError(`step "${step.name}": ${error.message}`);
    }
  }
  return owed;
}
