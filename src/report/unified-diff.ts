/** Unified diffs for `--diff` and the JSON report, through the `diff` package; secrets masked. */
import { createTwoFilesPatch } from "diff";
import { mask } from "../shell/mask.ts";
import type { TextDiff } from "../playbook/step.ts";

export function renderDiff(diff: TextDiff): string {
  const patch = createTwoFilesPatch(`${diff.label} (current)`, `${diff.label} (desired)`, diff.before, diff.after, "", "", {
    context: 3,
  });
  // Drop the "=====" banner line the package puts first; keep ---/+++ headers and hunks.
  return mask(patch.split("\n").filter((line) => !/^=+$/.test(line)).join("\n"));
}
