/**
 * mergeReports (src/report/merge-reports.ts): the shards' --json reports as one, its exit code the
 * one a single run over every host would have, and every way the inputs can be wrong refused or
 * flagged — never a silently partial merge.
 */
import { describe, expect, it } from "vitest";
import { mergeReports } from "../../../src/report/merge-reports.ts";

const host = (name: string, status: string) => ({
  host: name,
  status,
  steps: [],
  handlers: [],
  counts: { ok: 0, changed: 0, wouldChange: 0, unknown: 0, failed: 0, skipped: 0 },
  roundTrips: 2,
  readRoundTrips: 2,
  durationMs: 5,
});
const shard = (index: number, count: number, hosts: ReturnType<typeof host>[], extra: Record<string, unknown> = {}) => ({
  file: `shard-${index}.json`,
  text: JSON.stringify({
    playbook: "mail",
    mode: "check",
    exitCode: 0,
    result: "ok",
    hosts,
    rollout: { selected: 4, shard: { index, count, hosts: hosts.length }, concurrency: 20, batches: [], ...extra },
  }),
});

describe("mergeReports", () => {
  it("concatenates the hosts and computes the exit code over all of them", () => {
    const merged = mergeReports([shard(1, 2, [host("a", "ok"), host("b", "ok")]), shard(2, 2, [host("c", "drift"), host("d", "ok")])]);
    expect(merged.hosts.map((h) => h.host)).toEqual(["a", "b", "c", "d"]);
    expect([merged.exitCode, merged.result]).toEqual([2, "drift"]);
    expect(merged.merged.shards).toEqual({ count: 2, reported: [1, 2], missingShards: [] });
    expect(merged.merged.selected).toBe(4);
  });

  it("a failed host anywhere wins over drift; an unreachable one too", () => {
    expect(mergeReports([shard(1, 2, [host("a", "drift")]), shard(2, 2, [host("b", "unreachable")])]).exitCode).toBe(1);
    expect(mergeReports([shard(1, 2, [host("a", "failed")]), shard(2, 2, [host("b", "ok")])]).result).toBe("failed");
  });

  it("a missing shard makes it a failure, listed", () => {
    const merged = mergeReports([shard(1, 3, [host("a", "ok")]), shard(3, 3, [host("c", "ok")])]);
    expect([merged.exitCode, merged.result]).toEqual([1, "failed"]);
    expect(merged.merged.shards?.missingShards).toEqual([2]);
  });

  it("keeps what stopped a shard's rollout", () => {
    const merged = mergeReports([shard(1, 1, [host("a", "failed")], { stopped: { reason: "max-fail 1 reached", batch: 1 } })]);
    expect(merged.merged.stopped).toEqual([{ file: "shard-1.json", reason: { reason: "max-fail 1 reached", batch: 1 } }]);
  });

  it("refuses inputs that are not one rollout, naming the file", () => {
    expect(() => mergeReports([shard(1, 2, [host("a", "ok")]), shard(1, 2, [host("b", "ok")])])).toThrow(/shard-1\.json: shard 1\/2 again/);
    expect(() => mergeReports([shard(1, 2, [host("a", "ok")]), shard(2, 3, [host("b", "ok")])])).toThrow(
      /shard-2\.json: shard 2\/3, but shard-1\.json is of 2 shards/,
    );
    expect(() => mergeReports([shard(1, 2, [host("a", "ok")]), shard(2, 2, [host("a", "ok")])])).toThrow(/host a is also in shard-1\.json/);
    const other = { file: "other.json", text: shard(2, 2, []).text.replace('"mail"', '"web"') };
    expect(() => mergeReports([shard(1, 2, []), other])).toThrow(/other\.json: playbook "web" \(check\), but shard-1\.json is "mail"/);
    expect(() => mergeReports([{ file: "x.json", text: "{}" }])).toThrow(/x\.json: not a provision --json report/);
    expect(() => mergeReports([{ file: "cut.json", text: '{"play' }])).toThrow(/cut\.json: not JSON/);
    expect(() => mergeReports([])).toThrow(/no report files/);
  });
});
