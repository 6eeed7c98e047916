import { describe, expect, it } from "vitest";
import { batchSizes, parseBatchSpec, splitBatches } from "../../../src/run/batches.ts";
import { parseMaxFail, thresholdCrossed } from "../../../src/run/fail-threshold.ts";
import { inShard, parseShard, shardOf } from "../../../src/run/shard.ts";

const sizes = (spec: string, total: number): number[] => batchSizes(total, parseBatchSpec(spec));

describe("--batch (Ansible serial semantics)", () => {
  it("1,10%,100% over 25 hosts is 1, 2, 22: percentages of the total, rounded down", () => {
    expect(sizes("1,10%,100%", 25)).toEqual([1, 2, 22]);
  });

  it("the last size repeats until every host is in a batch", () => {
    expect(sizes("1,5", 17)).toEqual([1, 5, 5, 5, 1]);
    expect(sizes("30%", 10)).toEqual([3, 3, 3, 1]);
  });

  it("a percentage is at least one host", () => {
    expect(sizes("1%,100%", 25)).toEqual([1, 24]);
    expect(sizes("10%", 5)).toEqual([1, 1, 1, 1, 1]);
  });

  it("sizes larger than what is left take what is left", () => {
    expect(sizes("1,10,100", 4)).toEqual([1, 3]);
    expect(sizes("1", 1)).toEqual([1]);
    expect(batchSizes(0, parseBatchSpec("1"))).toEqual([]);
  });

  it("no --batch: one batch of every host", () => {
    expect(batchSizes(7, undefined)).toEqual([7]);
  });

  it("splits hosts in order", () => {
    expect(splitBatches(["a", "b", "c", "d"], parseBatchSpec("1,2"))).toEqual([["a"], ["b", "c"], ["d"]]);
  });

  it("rejects nonsense", () => {
    expect(() => parseBatchSpec("0")).toThrow(/"0" is neither/);
    expect(() => parseBatchSpec("1,,2")).toThrow(/expected sizes/);
    expect(() => parseBatchSpec("0%")).toThrow(/above 0/);
    expect(() => parseBatchSpec("ten")).toThrow(/"ten"/);
  });
});

describe("--max-fail", () => {
  it("parses counts and percentages", () => {
    expect(parseMaxFail("3")).toEqual({ count: 3 });
    expect(parseMaxFail("0")).toEqual({ count: 0 });
    expect(parseMaxFail("10%")).toEqual({ percent: 10 });
    expect(() => parseMaxFail("101%")).toThrow(/at most 100%/);
    expect(() => parseMaxFail("-1")).toThrow(/expected a count/);
  });

  it("a count is over the whole rollout, crossed when exceeded", () => {
    expect(thresholdCrossed({ count: 2 }, { failedInBatch: 2, batchSize: 10, failedTotal: 2 }, 1)).toBeUndefined();
    expect(thresholdCrossed({ count: 2 }, { failedInBatch: 1, batchSize: 10, failedTotal: 3 }, 2)).toBe("--max-fail 2: 3 hosts failed");
  });

  it("a percentage is of the current batch, crossed when exceeded", () => {
    expect(thresholdCrossed({ percent: 20 }, { failedInBatch: 2, batchSize: 10, failedTotal: 5 }, 2)).toBeUndefined();
    expect(thresholdCrossed({ percent: 20 }, { failedInBatch: 3, batchSize: 10, failedTotal: 3 }, 2)).toBe(
      "--max-fail 20%: 3 of 10 hosts in batch 2 failed (30%)",
    );
    expect(thresholdCrossed({ percent: 0 }, { failedInBatch: 1, batchSize: 50, failedTotal: 1 }, 1)).toMatch(/1 of 50/);
  });
});

describe("--shard", () => {
  const fleet = Array.from({ length: 200 }, (_, i) => `host${String(i).padStart(3, "0")}.example.com`);

  it("parses i/n, 1-based", () => {
    expect(parseShard("2/4")).toEqual({ index: 2, count: 4 });
    expect(() => parseShard("0/4")).toThrow(/1 ≤ i ≤ n/);
    expect(() => parseShard("5/4")).toThrow(/1 ≤ i ≤ n/);
    expect(() => parseShard("1-4")).toThrow(/expected i\/n/);
  });

  it("shards partition the hosts: each host in exactly one", () => {
    for (const count of [1, 2, 3, 7]) {
      const shards = Array.from({ length: count }, (_, i) => fleet.filter((h) => inShard(h, { index: i + 1, count })));
      expect(shards.flat().sort()).toEqual([...fleet].sort());
      expect(shards.reduce((n, s) => n + s.length, 0)).toBe(fleet.length);
    }
  });

  it("a host's shard depends only on its name: adding or removing other hosts moves nothing", () => {
    const before = new Map(fleet.map((h) => [h, shardOf(h, 4)]));
    const grown = [...fleet, ...Array.from({ length: 50 }, (_, i) => `new${i}.example.com`)].filter((h) => h !== "host007.example.com");
    for (const host of grown) if (before.has(host)) expect(shardOf(host, 4)).toBe(before.get(host));
  });

  it("is fixed across releases (sha1 of the name mod n) and roughly even", () => {
    // Pinned: changing the hash would move every host of a running rollout to another CI job.
    expect(fleet.slice(0, 8).map((h) => shardOf(h, 4))).toEqual([2, 2, 4, 2, 4, 1, 3, 4]);
    const counts = [1, 2, 3, 4].map((i) => fleet.filter((h) => shardOf(h, 4) === i).length);
    for (const n of counts) expect(n).toBeGreaterThan(30);
  });
});
