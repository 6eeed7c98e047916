/** A change as reports show it: the summary and the unified diff, secrets masked. */
import type { Change } from "../playbook/step.ts";
import { containsSecret, mask } from "../shell/mask.ts";
import { renderDiff } from "./unified-diff.ts";

/**
 * Shown instead of a summary that held a secret: a summary written as "old → new" (postconf's)
 * would show the secret's previous value, read from the host and unknown to masking.
 */
export const SECRET_SUMMARY = "changes a value that holds a secret (old and new values hidden)";

export function showChange(change: Change): { summary: string; diff?: string } {
  return {
    summary: containsSecret(change.summary) ? SECRET_SUMMARY : mask(change.summary),
    ...(change.diff ? { diff: renderDiff(change.diff) } : {}),
  };
}
