import { describe, expect, it } from "vitest";
import { overallResult } from "../../../src/cli/exit-code.ts";
import { countStatuses, type HostReport, type HostStatus } from "../../../src/report/events.ts";
import { parseBatchSpec } from "../../../src/run/batches.ts";
import { runFleet, type FleetOptions, type FleetProgress } from "../../../src/run/fleet-runner.ts";

interface H {
  name: string;
}

const hostsNamed = (n: number, prefix = "h"): H[] => Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}` }));

function report(host: string, status: HostStatus, error?: string): HostReport {
  return {
    host,
    status,
    steps: [],
    handlers: [],
    counts: countStatuses([]),
    roundTrips: 1,
    readRoundTrips: 1,
    durationMs: 0,
    ...(error ? { error } : {}),
  };
}

/** One turn of the event loop: enough for other hosts to make progress, no real waiting. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A fake runOne: `status(name)` decides the outcome; records starts, ends and the peak in flight. */
function fake(status: (name: string) => HostStatus = () => "ok", gate?: (name: string) => Promise<void>) {
  const log: string[] = [];
  let inFlight = 0;
  let peak = 0;
  const runOne = async (host: H): Promise<HostReport> => {
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    log.push(`start ${host.name}`);
    await tick();
    if (gate) await gate(host.name);
    inFlight -= 1;
    log.push(`end ${host.name}`);
    const s = status(host.name);
    return report(host.name, s, s === "failed" || s === "unreachable" ? `${host.name} broke` : undefined);
  };
  return { runOne, log, peak: () => peak };
}

const run = (options: Partial<FleetOptions<H>> & Pick<FleetOptions<H>, "hosts" | "runOne">) => runFleet<H>({ concurrency: 20, ...options });

describe("runFleet: concurrency", () => {
  it("runs every host, at most `concurrency` at a time, reports in host order", async () => {
    const f = fake();
    const result = await run({ hosts: hostsNamed(12), concurrency: 5, runOne: f.runOne });
    expect(f.peak()).toBe(5);
    expect(result.reports.map((r) => r.host)).toEqual(hostsNamed(12).map((h) => h.name));
    expect(result.reports.every((r) => r.status === "ok")).toBe(true);
    expect(result.stopped).toBeUndefined();
    expect(result.batches).toEqual([{ index: 1, hosts: hostsNamed(12).map((h) => h.name), failed: 0, status: "completed" }]);
  });

  it("hosts are independent: a slow host does not hold the others back", async () => {
    const slow = deferred();
    const f = fake(
      () => "ok",
      (name) => (name === "h0" ? slow.promise : Promise.resolve()),
    );
    const done = run({ hosts: hostsNamed(6), concurrency: 2, runOne: f.runOne });
    // Let the other five finish through the second slot while h0 is still running.
    while (!f.log.includes("end h5")) await tick();
    expect(f.log).not.toContain("end h0");
    slow.resolve();
    const result = await done;
    expect(result.reports.map((r) => r.status)).toEqual(Array(6).fill("ok"));
  });

  it("a runOne that throws is a failed host, not a crashed rollout", async () => {
    const result = await run({
      hosts: hostsNamed(2),
      runOne: async (h) => {
        if (h.name === "h1") throw new Error("boom");
        return report(h.name, "ok");
      },
    });
    expect(result.reports[1]).toMatchObject({ host: "h1", status: "failed", error: "boom" });
  });
});

describe("runFleet: rolling batches", () => {
  it("1,10%,100% over 25 hosts: batches of 1, 2, 22, each finished before the next starts", async () => {
    const f = fake();
    const result = await run({ hosts: hostsNamed(25), concurrency: 10, batches: parseBatchSpec("1,10%,100%"), runOne: f.runOne });
    expect(result.batches.map((b) => b.hosts.length)).toEqual([1, 2, 22]);
    expect(result.batches.map((b) => b.status)).toEqual(["completed", "completed", "completed"]);
    expect(f.log.slice(0, 6)).toEqual(["start h0", "end h0", "start h1", "start h2", "end h1", "end h2"]);
    expect(f.log.indexOf("start h3")).toBeGreaterThan(f.log.indexOf("end h2"));
  });

  it("a failed canary stops the rollout even without --max-fail (every host of the batch failed)", async () => {
    const f = fake((name) => (name === "h0" ? "unreachable" : "ok"));
    const result = await run({ hosts: hostsNamed(10), batches: parseBatchSpec("1,100%"), runOne: f.runOne });
    expect(result.stopped).toEqual({ reason: "every host in batch 1 failed", batch: 1 });
    expect(f.log).toEqual(["start h0", "end h0"]);
    expect(result.reports.slice(1).every((r) => r.status === "not-started")).toBe(true);
    expect(result.reports[1]?.error).toBe("not started: every host in batch 1 failed");
    expect(result.batches.map((b) => b.status)).toEqual(["completed", "not-started"]);
  });

  it("without --batch, failures do not stop anything", async () => {
    const f = fake(() => "failed");
    const result = await run({ hosts: hostsNamed(4), runOne: f.runOne });
    expect(result.stopped).toBeUndefined();
    expect(result.reports.map((r) => r.status)).toEqual(Array(4).fill("failed"));
  });
});

describe("runFleet: --max-fail", () => {
  it("a percentage of the batch: stop after the batch that crosses it, the rest not-started", async () => {
    // 20 hosts in batches 2, 6, 6, 6; in batch 2 (h2..h7), two of six fail: 33% > 25%.
    const f = fake((name) => (name === "h3" || name === "h6" ? "failed" : "ok"));
    const result = await run({
      hosts: hostsNamed(20),
      concurrency: 1,
      batches: parseBatchSpec("2,30%"),
      maxFail: { percent: 25 },
      runOne: f.runOne,
    });
    expect(result.batches.map((b) => b.hosts.length)).toEqual([2, 6, 6, 6]);
    expect(result.stopped).toEqual({ reason: "--max-fail 25%: 2 of 6 hosts in batch 2 failed (33.3%)", batch: 2 });
    // Crossed when h6 finished: h7 (same batch) is not started either.
    expect(result.reports.filter((r) => r.status !== "not-started").map((r) => r.host)).toEqual(["h0", "h1", "h2", "h3", "h4", "h5", "h6"]);
    expect(result.reports.filter((r) => r.status === "not-started")).toHaveLength(13);
    expect(result.batches.map((b) => b.status)).toEqual(["completed", "stopped", "not-started", "not-started"]);
  });

  it("a percentage not crossed lets the rollout finish", async () => {
    const f = fake((name) => (name === "h5" ? "failed" : "ok"));
    const result = await run({ hosts: hostsNamed(20), batches: parseBatchSpec("10"), maxFail: { percent: 10 }, runOne: f.runOne });
    expect(result.stopped).toBeUndefined();
    expect(result.reports.filter((r) => r.status === "not-started")).toHaveLength(0);
  });

  it("a count over the whole rollout, acted on as soon as it is crossed", async () => {
    const f = fake((name) => (["h1", "h3", "h5"].includes(name) ? "failed" : "ok"));
    const result = await run({ hosts: hostsNamed(10), concurrency: 1, maxFail: { count: 2 }, runOne: f.runOne });
    expect(result.stopped?.reason).toBe("--max-fail 2: 3 hosts failed");
    expect(result.reports.map((r) => r.status)).toEqual(["ok", "failed", "ok", "failed", "ok", "failed", ...Array(4).fill("not-started")]);
  });

  it("--max-fail 0 with batches replaces the all-failed rule: any failure stops", async () => {
    const f = fake((name) => (name === "h2" ? "failed" : "ok"));
    const result = await run({
      hosts: hostsNamed(6),
      concurrency: 1,
      batches: parseBatchSpec("3"),
      maxFail: { count: 0 },
      runOne: f.runOne,
    });
    expect(result.stopped?.reason).toBe("--max-fail 0: 1 host failed");
    expect(result.reports.map((r) => r.status)).toEqual(["ok", "ok", "failed", "not-started", "not-started", "not-started"]);
  });
});

describe("runFleet: --fail-fast", () => {
  it("starts nothing after the first failure; hosts in flight finish", async () => {
    const h0Done = deferred();
    const f = fake(
      (name) => (name === "h0" ? "failed" : "ok"),
      (name) => (name === "h0" ? Promise.resolve() : h0Done.promise),
    );
    const result = await run({
      hosts: hostsNamed(8),
      concurrency: 3,
      failFast: true,
      runOne: f.runOne,
      onProgress: (p) => {
        if (p.event === "host-end" && p.host === "h0") h0Done.resolve();
      },
    });
    expect(result.stopped).toEqual({ reason: "--fail-fast: h0 failed", batch: 1 });
    expect(result.reports.map((r) => r.status)).toEqual(["failed", "ok", "ok", ...Array(5).fill("not-started")]);
    expect(f.log.filter((l) => l.startsWith("start"))).toEqual(["start h0", "start h1", "start h2"]);
  });

  it("the exit code of a stopped rollout is 1; drift alone is 2", async () => {
    const stopped = await run({
      hosts: hostsNamed(3),
      concurrency: 1,
      failFast: true,
      runOne: fake((n) => (n === "h0" ? "unreachable" : "ok")).runOne,
    });
    expect(overallResult(stopped.reports).exitCode).toBe(1);
    const drift = await run({ hosts: hostsNamed(3), runOne: fake((n) => (n === "h1" ? "drift" : "ok")).runOne });
    expect(overallResult(drift.reports)).toEqual({ exitCode: 2, result: "drift" });
  });
});

describe("runFleet: --shard and progress", () => {
  it("runs only the shard's hosts; shards together cover the selection once", async () => {
    const hosts = hostsNamed(40, "node");
    const ran: string[] = [];
    for (let index = 1; index <= 3; index += 1) {
      const result = await run({
        hosts,
        shard: { index, count: 3 },
        runOne: async (h) => {
          ran.push(h.name);
          return report(h.name, "ok");
        },
      });
      expect(result.selected).toBe(40);
      expect(result.shard).toEqual({ index, count: 3, hosts: result.reports.length });
    }
    expect(ran.sort()).toEqual(hosts.map((h) => h.name).sort());
  });

  it("reports progress: counts, hosts in flight, the stop and the end", async () => {
    const events: FleetProgress[] = [];
    await run({
      hosts: hostsNamed(5),
      concurrency: 2,
      batches: parseBatchSpec("1,100%"),
      runOne: fake((n) => (n === "h1" ? "changed" : n === "h2" ? "failed" : "ok")).runOne,
      maxFail: { count: 0 },
      onProgress: (p) => events.push(p),
    });
    expect(events[0]).toMatchObject({ event: "batch-start", batch: 1, batches: 2, batchSize: 1, total: 5, left: 5, done: 0 });
    expect(events[1]).toMatchObject({ event: "host-start", host: "h0", inFlight: ["h0"], left: 4 });
    const stoppedAt = events.find((e) => e.event === "stopped");
    expect(stoppedAt).toMatchObject({ stopped: "--max-fail 0: 1 host failed", failed: 1, left: 0 });
    const last = events[events.length - 1];
    expect(last).toMatchObject({ event: "done", done: 4, changed: 1, failed: 1, left: 0, skipped: 1, inFlight: [] });
  });
});
