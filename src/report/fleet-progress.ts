/**
 * Fleet progress. On a sized TTY (and not under CI) one ora spinner shows the batch, the counts (done /
 * changed / failed / left) and the hosts in flight; it shares the stream with the terminal
 * reporter's lines (ora clears and redraws around them). Everywhere, batch starts and a stopped
 * rollout are printed as lines, so CI logs show them too.
 */
import ora, { type Ora } from "ora";
import { mask } from "../shell/mask.ts";
import type { FleetProgress } from "../run/fleet-runner.ts";

export interface FleetProgressOptions {
  stream: NodeJS.WriteStream;
  /** Default: the stream is a TTY and CI is not set. */
  tty?: boolean;
  /** Host names shown in flight before "…" (default 4). */
  showInFlight?: number;
}

export class FleetProgressReporter {
  #spinner: Ora | undefined;
  readonly #tty: boolean;

  constructor(readonly options: FleetProgressOptions) {
    // A TTY of zero columns (a pty nobody sized: `script`, `docker -t` in CI) sends ora's redraw into
    // an endless loop; treat it as no TTY.
    this.#tty = options.tty ?? (Boolean(options.stream.isTTY) && !process.env.CI && (options.stream.columns ?? 0) > 0);
  }

  handle = (progress: FleetProgress): void => {
    switch (progress.event) {
      case "batch-start":
        if (progress.batches > 1)
          this.#line(
            `batch ${progress.batch}/${progress.batches}: ${progress.batchSize ?? "?"} host${progress.batchSize === 1 ? "" : "s"}`,
          );
        break;
      case "stopped":
        this.#line(
          `rollout stopped: ${progress.stopped}; ${progress.skipped} host${progress.skipped === 1 ? "" : "s"} will not be started`,
        );
        break;
      case "done":
        this.stop();
        return;
      default:
        break;
    }
    if (this.#tty) {
      this.#spinner ??= ora({ stream: this.options.stream }).start();
      this.#spinner.text = mask(formatProgress(progress, this.options.showInFlight ?? 4));
    }
  };

  stop(): void {
    this.#spinner?.stop();
    this.#spinner = undefined;
  }

  #line(text: string): void {
    this.options.stream.write(`${mask(text)}\n`);
  }
}

export function formatProgress(p: FleetProgress, show = 4): string {
  const batch = p.batches > 1 ? `batch ${p.batch}/${p.batches} · ` : "";
  const changed = p.drift > 0 ? `${p.changed} changed · ${p.drift} drift` : `${p.changed} changed`;
  const names = p.inFlight.slice(0, show).join(", ") + (p.inFlight.length > show ? ", …" : "");
  const flight = p.inFlight.length ? ` · in flight (${p.inFlight.length}): ${names}` : "";
  return `${batch}${p.done}/${p.total} done · ${changed} · ${p.failed} failed · ${p.left} left${flight}`;
}
