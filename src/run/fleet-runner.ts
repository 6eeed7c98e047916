/**
 * Runs a playbook over many hosts: the shard's share of the selection, in rolling batches, at most
 * `concurrency` hosts at a time, each host on its own (no lockstep between hosts: a fast host does
 * not wait for a slow one's step). A batch finishes before the next starts.
 *
 * Stopping (see fail-threshold.ts): `failFast` stops at the first failed or unreachable host;
 * `maxFail` when its threshold is crossed; without it, a batch where every host failed. To stop is
 * to start no more hosts — in-flight hosts finish, because cutting a host off mid-change is worse
 * than letting it complete — and hosts never started are reported "not-started" with the reason.
 */
import { emptyHostReport, type HostReport } from "../report/events.ts";
import { mask } from "../shell/mask.ts";
import { splitBatches, type BatchSize } from "./batches.ts";
import { mapLimit } from "./map-limit.ts";
import { thresholdCrossed, type FailThreshold } from "./fail-threshold.ts";
import { inShard, type Shard } from "./shard.ts";

export interface FleetOptions<H extends { name: string }> {
  hosts: readonly H[];
  concurrency: number;
  batches?: readonly BatchSize[];
  maxFail?: FailThreshold;
  failFast?: boolean;
  shard?: Shard;
  /** Runs one host; should not throw (a throw is recorded as a failed host). */
  runOne: (host: H) => Promise<HostReport>;
  onProgress?: (progress: FleetProgress) => void;
}

export interface FleetProgress {
  event: "batch-start" | "host-start" | "host-end" | "stopped" | "done";
  /** The host that started or ended. */
  host?: string;
  report?: HostReport;
  /** 1-based; 0 before the first batch. */
  batch: number;
  batches: number;
  /** Hosts in this batch (on batch-start). */
  batchSize?: number;
  inFlight: readonly string[];
  total: number;
  done: number;
  changed: number;
  drift: number;
  failed: number;
  /** Still to start (in-flight hosts are not counted); 0 once stopped. */
  left: number;
  /** Hosts that will never start because the rollout stopped. */
  skipped: number;
  stopped?: string;
}

export interface BatchReport {
  /** 1-based. */
  index: number;
  hosts: string[];
  failed: number;
  status: "completed" | "stopped" | "not-started";
}

export interface FleetResult {
  /** Every host of the shard, in the order given, including those never started. */
  reports: HostReport[];
  batches: BatchReport[];
  stopped?: { reason: string; batch: number };
  /** Hosts given before sharding. */
  selected: number;
  shard?: Shard & { hosts: number };
}

export function isFailure(report: HostReport): boolean {
  return report.status === "failed" || report.status === "unreachable";
}

// Long: the batches, the in-flight list, the tallies and the stop reason are the shared state of every progress event.
export async function runFleet<H extends { name: string }>(options: FleetOptions<H>): Promise<FleetResult> {
  const hosts = options.hosts.filter((host) => inShard(host.name, options.shard));
  const batches = splitBatches(hosts, options.batches);
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const reports = new Map<string, HostReport>();
  const inFlight: string[] = [];
  const tally = { done: 0, changed: 0, drift: 0, failed: 0 };
  const batchReports: BatchReport[] = batches.map((batch, i) => ({
    index: i + 1,
    hosts: batch.map((h) => h.name),
    failed: 0,
    status: "not-started",
  }));
  let stopped: { reason: string; batch: number } | undefined;
  let current = 0;

  const progress = (event: FleetProgress["event"], extra: Partial<FleetProgress> = {}): void => {
    options.onProgress?.({
      event,
      batch: current,
      batches: batches.length,
      inFlight: [...inFlight],
      total: hosts.length,
      ...tally,
      left: stopped ? 0 : hosts.length - tally.done - inFlight.length,
      skipped: stopped ? hosts.length - tally.done - inFlight.length : 0,
      ...(stopped ? { stopped: stopped.reason } : {}),
      ...extra,
    });
  };
  const stop = (reason: string): void => {
    if (stopped) return;
    stopped = { reason, batch: current };
    progress("stopped");
  };

  for (const [i, batch] of batches.entries()) {
    if (stopped) break;
    current = i + 1;
    const record = batchReports[i] as BatchReport;
    progress("batch-start", { batchSize: batch.length });
    // Hosts start in batch order; once the rollout stops, no new host starts (those running finish).
    await mapLimit(
      batch,
      concurrency,
      async (host) => {
        inFlight.push(host.name);
        progress("host-start", { host: host.name });
        const report = await runSafely(options.runOne, host);
        inFlight.splice(inFlight.indexOf(host.name), 1);
        reports.set(host.name, report);
        tally.done += 1;
        if (report.status === "changed") tally.changed += 1;
        if (report.status === "drift") tally.drift += 1;
        if (isFailure(report)) {
          tally.failed += 1;
          record.failed += 1;
        }
        progress("host-end", { host: host.name, report });
        if (isFailure(report) && options.failFast) stop(`--fail-fast: ${host.name} ${report.status}`);
        const crossed = thresholdCrossed(
          options.maxFail,
          { failedInBatch: record.failed, batchSize: batch.length, failedTotal: tally.failed },
          current,
        );
        if (crossed) stop(crossed);
      },
      { stop: () => stopped !== undefined },
    );
    const finished = batch.filter((h) => reports.has(h.name)).length;
    record.status = finished === batch.length ? "completed" : "stopped";
    const moreBatches = i < batches.length - 1;
    if (!stopped && !options.maxFail && moreBatches && batch.length > 0 && record.failed === batch.length) {
      stop(`every host in batch ${current} failed`);
    }
  }

  const result: FleetResult = {
    reports: hosts.map((host) => reports.get(host.name) ?? notStarted(host.name, stopped?.reason ?? "the rollout stopped")),
    batches: batchReports,
    selected: options.hosts.length,
    ...(stopped ? { stopped } : {}),
    ...(options.shard ? { shard: { ...options.shard, hosts: hosts.length } } : {}),
  };
  progress("done");
  return result;
}

async function runSafely<H extends { name: string }>(runOne: (host: H) => Promise<HostReport>, host: H): Promise<HostReport> {
  try {
    return await runOne(host);
  } catch (error) {
    return emptyHostReport(host.name, "failed", mask(error instanceof Error ? error.message : String(error)));
  }
}

export function notStarted(host: string, reason: string): HostReport {
  return emptyHostReport(host, "not-started", `not started: ${reason}`);
}
