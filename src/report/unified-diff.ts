/**
 * Unified diffs for `--diff` and the JSON report, through the `diff` package; secrets masked.
 *
 * Masking happens BEFORE the diff is rendered: in the rendered text every line carries a `+`/`-`
 * prefix, so a multi-line secret would no longer match as a whole. A multi-line value becomes as
 * many `***` lines (line numbers stay true).
 *
 * A diff of text that holds a secret (before or after) is sensitive: its removed lines are hidden
 * (`-***`), because the host's old text may hold the secret's PREVIOUS value, which is no
 * registered Secret and so cannot be masked by value. Added and context lines come from the
 * desired text, whose secrets are known, and are masked by value.
 */
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch } from "diff";
import { containsSecret, MASK, mask, maskKeepingLines } from "../shell/mask.ts";
import type { TextDiff } from "../playbook/step.ts";

export function renderDiff(diff: TextDiff): string {
  const sensitive = containsSecret(diff.before) || containsSecret(diff.after);
  const patch = structuredPatch(
    `${diff.label} (current${sensitive ? "; removed lines hidden: the text holds a secret" : ""})`,
    `${diff.label} (desired)`,
    maskKeepingLines(diff.before),
    maskKeepingLines(diff.after),
    "",
    "",
    { context: 3 },
  );
  if (sensitive) {
    for (const hunk of patch.hunks) hunk.lines = hunk.lines.map((line) => (line.startsWith("-") ? `-${MASK}` : line));
  }
  // The label may hold a secret too; and a line of a multi-line secret shorter than a whole value.
  return mask(formatPatch(patch, FILE_HEADERS_ONLY));
}
