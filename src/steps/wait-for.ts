/**
 * waitFor: wait, bounded, until a TCP port is listening on the host (or no longer is), or a path
 * exists (or is gone) — Ansible's `wait_for` with port/path and state started|stopped|present|absent.
 * The read probes once, now: reached is ok, so a converged host costs no wait and `--check` reports
 * "not yet" as drift without waiting. Apply waits on the host (one probe a second, at most
 * `timeoutSeconds` probes) and fails when the time is up. A port is probed with `ss -ltn` (iproute2):
 * a listening socket on any local address.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { needTool } from "../shell/read-output.ts";
import { sh, type ShellCommand } from "../shell/sh.ts";
import { filePath, parseStepParams } from "./params.ts";
import { EVERYTHING } from "../playbook/resources.ts";

const waitForParams = z
  .strictObject({
    port: z.number().int().min(1).max(65535).optional(),
    path: filePath.optional(),
    state: z.enum(["started", "stopped", "present", "absent"]).optional(),
    timeoutSeconds: z.number().int().min(1).max(3600).default(60),
    notify: z.array(z.string()).optional(),
  })
  .refine((p) => (p.port === undefined) !== (p.path === undefined), "give port or path (one of them)")
  .refine(
    (p) => !p.state || (p.port !== undefined ? ["started", "stopped"] : ["present", "absent"]).includes(p.state),
    "state: started|stopped for a port, present|absent for a path",
  );

export type WaitForParams = z.input<typeof waitForParams>;

export interface WaitForState {
  reached: boolean;
}

export function waitFor(input: WaitForParams): Step<WaitForState> {
  const p = parseStepParams("waitFor", waitForParams, input);
  const positive = p.port !== undefined ? (p.state ?? "started") === "started" : (p.state ?? "present") === "present";
  const what =
    p.port !== undefined ? `port ${p.port} ${positive ? "listening" : "closed"}` : `${p.path} ${positive ? "present" : "absent"}`;
  const probe = probeCommand(p.port, p.path, positive);
  // Without ss a port would look closed forever: say what is missing instead. The read says it
  // through the kit (requiresTools: the runner's one "ss not found on HOST" error); apply, which
  // runs only after a read that found ss, keeps its own words.
  const port = p.port !== undefined;
  const readNeeds = port ? sh`${needTool("ss")}; ` : sh``;
  const needs = port ? sh`command -v ss >/dev/null 2>&1 || { echo "ss not found (install iproute2)" >&2; exit 4; }; ` : sh``;
  return {
    kind: "wait-for",
    name: `wait for ${what}`,
    // It waits and changes nothing; what it waits for may come from any earlier change.
    provides: [],
    requires: [EVERYTHING],
    notify: p.notify,
    read: () => ({
      command: sh`${readNeeds}if ${probe}; then echo reached; else echo waiting; fi`,
      requiresTools: port ? ["ss"] : [],
      parse(result) {
        const text = result.stdout.toString("utf8").trim();
        if (result.exitCode !== 0 || (text !== "reached" && text !== "waiting")) {
          throw new ReadFailedError(`cannot probe ${what}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
        }
        return { reached: text === "reached" };
      },
    }),
    diff: (current): Change | null => (current.reached ? null : { summary: `wait up to ${p.timeoutSeconds} s (not yet)` }),
    async apply({ session }) {
      const n = p.timeoutSeconds;
      await session.runOrThrow(
        sh`${needs}i=0; while [ "$i" -lt ${n} ]; do if ${probe}; then exit 0; fi; sleep 1; i=$((i+1)); done; echo ${`timed out after ${n} s waiting for ${what}`} >&2; exit 1`,
        // The host loop is bounded by count; the session's own timeout is a little longer.
        { timeoutMs: (n + 15) * 1000 },
      );
    },
  };
}

/** A condition (exit 0 when reached): ss lists listening sockets on the port, or test -e. */
function probeCommand(port: number | undefined, path: string | undefined, positive: boolean): ShellCommand {
  const found =
    port !== undefined ? sh`[ -n "$(ss -Hltn ${`sport = :${port}`})" ]` : sh`{ [ -e ${path as string} ] || [ -L ${path as string} ]; }`;
  return positive ? found : sh`! ${found}`;
}
