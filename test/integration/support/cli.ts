/**
 * The provision CLI spawned as a user would run it, pointed at test hosts: the fleet's key and
 * known_hosts, root login. Returns exit code, stdout, stderr (and the parsed JSON with --json).
 */
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { assertNoSecrets } from "../../support/secret-canary.ts";
import { testFleet } from "./fleet.ts";
import { type FleetSshOptions, hostCliArgs, sshCliArgs } from "../../support/cli-connection-args.ts";

export const REPO = resolve(import.meta.dirname, "../../..");

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function provisionCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise<CliRun>((done) => {
    execFile(
      "node",
      [join(REPO, "bin/provision.js"), ...args],
      { cwd: REPO, timeout: options.timeoutMs ?? 240_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CI: "1", ...options.env } },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  }).then((run) => {
    // Suite-wide: no run of the CLI in any integration test may print a configured secret.
    assertNoSecrets(`provision ${args.slice(0, 2).join(" ")} output`, `${run.stdout}\n${run.stderr}`);
    return run;
  });
}

/** The CLI's connection flags for this suite's fleet, for runs that select hosts by inventory (`-i`). */
export function fleetSshArgs(options: FleetSshOptions = {}): string[] {
  return sshCliArgs(testFleet(), options);
}

/** `--host <address>… --user root` and the fleet's key, known_hosts and no ssh_config: the CLI pointed at test hosts. */
export function fleetCliArgs(hosts: string | readonly string[], options: FleetSshOptions & { user?: string } = {}): string[] {
  return hostCliArgs(testFleet(), hosts, options);
}

/** `provision run <playbook> --host <address>` with the fleet's credentials (root, verified keys). */
export function runOnTestHost(playbook: string, address: string, extra: string[] = [], options: { env?: NodeJS.ProcessEnv } = {}) {
  return provisionCli(["run", playbook, ...fleetCliArgs(address), ...extra], options);
}

export interface JsonStep {
  name: string;
  kind: string;
  status: string;
  summary?: string;
  diff?: string;
  error?: string;
}

export interface JsonHost {
  host: string;
  status: string;
  steps: JsonStep[];
  handlers: { name: string; status: string }[];
  counts: Record<string, number>;
  roundTrips: number;
  readRoundTrips: number;
  error?: string;
}

export function parseReport(run: CliRun): { exitCode: number; result: string; hosts: JsonHost[] } {
  try {
    return JSON.parse(run.stdout);
  } catch {
    throw new Error(`not a JSON report (exit ${run.code}):\n${run.stdout.slice(0, 2000)}\n${run.stderr.slice(-2000)}`);
  }
}

/** Names of the steps that are not ok (would-change, unknown, changed, failed). */
export function driftedSteps(host: JsonHost): string[] {
  return host.steps.filter((s) => s.status !== "ok").map((s) => s.name);
}
