/**
 * Rolling batches, Ansible's `serial` semantics: `--batch 1,10%,100%` is a list of sizes; each
 * size is a count or a percentage of all selected hosts (rounded down, but at least 1); the last
 * size repeats until every host is in a batch. Over 25 hosts, `1,10%,100%` gives 1, 2 (10% of 25
 * is 2.5), then 22 (the rest). No `--batch`: one batch of every host.
 */
export type BatchSize = { count: number } | { percent: number };

export function parseBatchSpec(spec: string): BatchSize[] {
  const parts = spec.split(",").map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === "")) throw new Error(`--batch ${spec}: expected sizes like 1,10%,100%`);
  return parts.map((part) => {
    const percent = /^(\d+(?:\.\d+)?)%$/.exec(part);
    if (percent) {
      const value = Number(percent[1]);
      if (!(value > 0)) throw new Error(`--batch ${spec}: a percentage must be above 0, got ${part}`);
      return { percent: value };
    }
    if (/^\d+$/.test(part) && Number(part) > 0) return { count: Number(part) };
    throw new Error(`--batch ${spec}: "${part}" is neither a positive count nor a percentage`);
  });
}

/** Split `total` hosts into batch sizes. */
export function batchSizes(total: number, sizes: readonly BatchSize[] | undefined): number[] {
  if (total <= 0) return [];
  if (!sizes || sizes.length === 0) return [total];
  const out: number[] = [];
  let left = total;
  let index = 0;
  while (left > 0) {
    const size = sizes[Math.min(index, sizes.length - 1)] as BatchSize;
    const wanted = "count" in size ? size.count : Math.max(1, Math.floor((size.percent / 100) * total));
    const taken = Math.min(wanted, left);
    out.push(taken);
    left -= taken;
    index += 1;
  }
  return out;
}

/** The hosts of each batch, in order. */
export function splitBatches<T>(items: readonly T[], sizes: readonly BatchSize[] | undefined): T[][] {
  let start = 0;
  return batchSizes(items.length, sizes).map((size) => {
    const batch = items.slice(start, start + size);
    start += size;
    return batch;
  });
}
