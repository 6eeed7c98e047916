import { describe, expect, it } from "vitest";
import { FleetProgressReporter, formatProgress } from "../../../src/report/fleet-progress.ts";
import { failureReason } from "../../../src/report/terminal-reporter.ts";
import { notStarted, type FleetProgress } from "../../../src/run/fleet-runner.ts";
import { countStatuses } from "../../../src/report/events.ts";

const base: FleetProgress = {
  event: "host-end",
  batch: 2,
  batches: 3,
  inFlight: [],
  total: 40,
  done: 12,
  changed: 3,
  drift: 0,
  failed: 1,
  left: 20,
  skipped: 0,
};

describe("fleet progress", () => {
  it("shows the batch, the counts and the hosts in flight", () => {
    expect(formatProgress({ ...base, inFlight: ["a", "b", "c", "d", "e"] })).toBe(
      "batch 2/3 · 12/40 done · 3 changed · 1 failed · 20 left · in flight (5): a, b, c, d, …",
    );
    expect(formatProgress({ ...base, batches: 1, drift: 2, inFlight: [] })).toBe("12/40 done · 3 changed · 2 drift · 1 failed · 20 left");
  });

  it("off a TTY prints only batch starts and a stop, as lines", () => {
    let out = "";
    const reporter = new FleetProgressReporter({
      stream: {
        isTTY: false,
        write: (s: string) => {
          out += s;
          return true;
        },
      } as never,
      tty: false,
    });
    reporter.handle({ ...base, event: "batch-start", batchSize: 4 });
    reporter.handle(base);
    reporter.handle({ ...base, event: "stopped", stopped: "--fail-fast: web3 failed", skipped: 7 });
    reporter.handle({ ...base, event: "done" });
    expect(out).toBe("batch 2/3: 4 hosts\nrollout stopped: --fail-fast: web3 failed; 7 hosts will not be started\n");
  });

  it("gives the summary a one-line reason for failed, unreachable and not-started hosts", () => {
    expect(failureReason(notStarted("web3", "--max-fail 2: 3 hosts failed"))).toBe("not started: --max-fail 2: 3 hosts failed");
    const failed = {
      ...notStarted("web1", "x"),
      status: "failed" as const,
      error: undefined,
      steps: [
        { index: 0, name: "install postfix", kind: "package", status: "failed" as const, error: "apt-get exited 100\nmore", durationMs: 1 },
      ],
    };
    expect(failureReason(failed)).toBe('step "install postfix": apt-get exited 100');
    expect(failureReason({ ...failed, status: "ok", counts: countStatuses([]) })).toBeUndefined();
  });
});
