/**
 * Human output. On a TTY, an ora spinner shows the step in flight for each host; elsewhere
 * (CI logs, pipes) one plain line per finished step. Either way a summary closes the run.
 * Everything printed goes through `mask`.
 */
import ora, { type Ora } from "ora";
import { mask, shortenMasked } from "../shell/mask.ts";
import type { HostReport, RunEvent, StepReport } from "./events.ts";
import { indent } from "./indent.ts";

const SYMBOL: Record<StepReport["status"], string> = {
  ok: "ok",
  changed: "changed",
  "would-change": "would change",
  unknown: "unknown",
  failed: "FAILED",
  skipped: "skipped",
};

export interface TerminalOptions {
  stream: NodeJS.WriteStream;
  showDiff: boolean;
  /** Show a line for every ok step too (otherwise ok steps are counted, not listed, when quiet). */
  verbose?: boolean;
  /** Fleets: a spinner per host would fight the fleet progress spinner; off when false (default on). */
  stepSpinners?: boolean;
}

export class TerminalReporter {
  #spinners = new Map<string, Ora>();
  readonly #tty: boolean;

  constructor(readonly options: TerminalOptions) {
    // A zero-column TTY (an unsized pty) sends ora's redraw into an endless loop: treat it as no TTY.
    this.#tty = Boolean(options.stream.isTTY) && !process.env.CI && (options.stream.columns ?? 0) > 0;
  }

  handle = (event: RunEvent): void => {
    switch (event.type) {
      case "step-start":
        if (this.#tty && this.options.stepSpinners !== false) this.#spinner(event.host).start(mask(`${event.host}: ${event.name}`));
        break;
      case "step-end":
        this.#stopSpinner(event.host);
        this.#line(formatStep(event.host, event.step));
        if (this.options.showDiff && event.step.diff) this.#line(indent(event.step.diff));
        for (const output of event.step.outputs ?? []) this.#line(`${event.host}:   → ${output.label}: ${output.value}`);
        break;
      case "handler-end":
        this.#line(
          `${event.host}: handler ${event.handler.name}: ${event.handler.status}` +
            `${event.handler.reason ? ` (${event.handler.reason})` : ""}${event.handler.error ? `: ${event.handler.error}` : ""}`,
        );
        break;
      case "warning":
        this.#line(`${event.host}: warning: ${mask(event.message)}`);
        break;
      case "host-end":
        this.#stopSpinner(event.host);
        if (event.report.error) this.#line(`${event.host}: ${event.report.status.toUpperCase()}: ${event.report.error}`);
        break;
      case "host-start":
        break;
    }
  };

  /** Per-host table; with several hosts, a total line (and, if the rollout stopped, why). */
  summary(reports: readonly HostReport[], fleet?: { stopped?: string }): void {
    this.#line("");
    this.#line("summary:");
    const width = Math.max(4, ...reports.map((r) => r.host.length));
    for (const report of reports) {
      const c = report.counts;
      this.#line(
        `  ${report.host.padEnd(width)}  ${report.status.padEnd(11)} ok=${c.ok} changed=${c.changed} would-change=${c.wouldChange} ` +
          `unknown=${c.unknown} failed=${c.failed} skipped=${c.skipped}  round-trips=${report.roundTrips}  ${(report.durationMs / 1000).toFixed(1)}s` +
          (failureReason(report) ? `  — ${failureReason(report)}` : ""),
      );
    }
    if (reports.length > 1) {
      const byStatus = new Map<string, number>();
      for (const report of reports) byStatus.set(report.status, (byStatus.get(report.status) ?? 0) + 1);
      this.#line(`  total: ${reports.length} hosts — ${[...byStatus].map(([status, n]) => `${n} ${status}`).join(", ")}`);
    }
    if (fleet?.stopped) this.#line(`rollout stopped: ${fleet.stopped}`);
    // What the user must do by hand (publish a DNS record), gathered where it will be read.
    const outputs = reports.flatMap((r) => r.steps.flatMap((s) => (s.outputs ?? []).map((o) => `  ${r.host}: ${o.label}: ${o.value}`)));
    if (outputs.length > 0) {
      this.#line("");
      this.#line("to publish:");
      for (const line of outputs) this.#line(line);
    }
  }

  #spinner(host: string): Ora {
    let spinner = this.#spinners.get(host);
    if (!spinner) {
      spinner = ora({ stream: this.options.stream });
      this.#spinners.set(host, spinner);
    }
    return spinner;
  }

  #stopSpinner(host: string): void {
    this.#spinners.get(host)?.stop();
  }

  #line(text: string): void {
    this.options.stream.write(`${mask(text)}\n`);
  }
}

function formatStep(host: string, step: StepReport): string {
  const detail = step.error ?? step.summary;
  return `${host}: [${SYMBOL[step.status]}] ${step.name}${detail ? ` — ${detail}` : ""}`;
}

/** Fleets: why a host failed, was unreachable or was not started, in one line for the summary. */
export function failureReason(report: HostReport, max = 160): string | undefined {
  if (report.status !== "failed" && report.status !== "unreachable" && report.status !== "not-started") return undefined;
  const step = report.steps.find((s) => s.status === "failed");
  const handler = report.handlers.find((h) => h.status === "failed");
  const reason = report.error ?? (step ? `step "${step.name}": ${step.error ?? "failed"}` : handler?.error);
  if (!reason) return undefined;
  // Masked before the cut: a cut secret is no longer recognised by masking.
  return shortenMasked(reason.split("\n")[0] ?? "", max);
}
