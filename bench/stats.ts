/** Median and spread of a few samples (benchmarks run 3–10 rounds: no fancier statistics). */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { n: sorted.length, median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/** "1.23 s (1.10–1.40)"; milliseconds in, seconds out. */
export function seconds(s: Summary | undefined, withSpread = true): string {
  if (!s) return "—";
  const f = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
  return withSpread && s.n > 1 ? `${f(s.median)} s (${f(s.min)}–${f(s.max)})` : `${f(s.median)} s`;
}
