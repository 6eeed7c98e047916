/**
 * `--max-fail`: when to stop a rollout. A failed host is one whose status is failed or unreachable.
 *
 * - `--max-fail N` (a count): stop once more than N hosts have failed in the whole rollout.
 *   `--max-fail 0` stops at the first failure.
 * - `--max-fail P%`: Ansible's max_fail_percentage: stop once more than P% of the hosts of the
 *   current batch have failed (`0%`: any failure in the batch).
 *
 * Stopping means: start no more hosts (in-flight ones finish) and no further batch; hosts never
 * started are reported "not-started". The check runs as each host finishes, so a threshold is
 * acted on as soon as it is crossed, not only at the end of a batch.
 *
 * Without `--max-fail`, as in Ansible, a batch in which every host failed stops the rollout (a
 * failed canary stops everything), and otherwise failures do not stop it.
 */
export type FailThreshold = { count: number } | { percent: number };

export function parseMaxFail(spec: string): FailThreshold {
  const text = spec.trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const value = Number(percent[1]);
    if (value > 100) throw new Error(`--max-fail ${spec}: a percentage must be at most 100%`);
    return { percent: value };
  }
  if (/^\d+$/.test(text)) return { count: Number(text) };
  throw new Error(`--max-fail ${spec}: expected a count (3) or a percentage (10%)`);
}

export interface FailureTally {
  failedInBatch: number;
  batchSize: number;
  failedTotal: number;
}

/** Why the rollout must stop, or undefined. */
export function thresholdCrossed(threshold: FailThreshold | undefined, tally: FailureTally, batch: number): string | undefined {
  if (!threshold) return undefined;
  if ("count" in threshold) {
    return tally.failedTotal > threshold.count
      ? `--max-fail ${threshold.count}: ${tally.failedTotal} host${tally.failedTotal === 1 ? "" : "s"} failed`
      : undefined;
  }
  if (tally.failedInBatch * 100 > threshold.percent * tally.batchSize) {
    const share = Math.round((tally.failedInBatch * 1000) / tally.batchSize) / 10;
    return `--max-fail ${threshold.percent}%: ${tally.failedInBatch} of ${tally.batchSize} hosts in batch ${batch} failed (${share}%)`;
  }
  return undefined;
}
