/**
 * `provision run`: load the playbook (and the inventory), select the hosts, build and validate every
 * host's vars (all before any login: the first hosts' handshakes run meanwhile, early-connections.ts),
 * run the fleet, report, and return the exit code.
 */
import { loadPlaybook } from "../playbook/load-playbook.ts";
import { playbookInputsDigest } from "../playbook/playbook-inputs.ts";
import {
  checkKnownVars,
  mergeVars,
  parseVarAssignments,
  readVarsFile,
  secretAssignments,
  validateVars,
  VarsError,
} from "../playbook/vars.ts";
import { runHost } from "../run/host-runner.ts";
import type { Playbook } from "../playbook/playbook.ts";
import { filePlanCache, planCacheDir, planCacheKey } from "../run/plan-cache.ts";
import { resolve } from "node:path";
import { jsonReport, type RunReport } from "../report/json-report.ts";
import type { HostReport } from "../report/events.ts";
import type { RunArgs } from "./args.ts";
import { connectTargetOf } from "./connect.ts";
import { EarlyConnections } from "./early-connections.ts";
import { limitPreconnections } from "../transport/ssh/preconnected.ts";
import { EXIT_ERROR, EXIT_OK, overallResult } from "./exit-code.ts";
import { selectedHosts } from "./selected-hosts.ts";
import { watchCommands } from "./verbose.ts";
import { listHosts, listSteps } from "./list-run.ts";
// Fleets: rollout.
import { runFleet, type FleetResult } from "../run/fleet-runner.ts";

/** Vars errors of this many hosts are listed; the rest are counted. */
const MAX_VARS_ERRORS = 10;

export async function runCommand(args: RunArgs, io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream }): Promise<number> {
  // Selection first: it loads the SSH transport before the playbook when needed (see loadSshTransport).
  const selected = await selectedHosts(args, io.stderr);
  // The next run with this selection pre-connects to the hosts this one starts at once.
  limitPreconnections(args.concurrency);
  // The first hosts' SSH handshakes run while the playbook loads; their logins wait for valid input.
  const early = new EarlyConnections(
    {
      targets: selected.hosts.map(connectTargetOf),
      concurrency: args.concurrency,
      eligible: !args.listHosts && !args.listSteps && !args.batches && !args.shard,
      acceptNewHostKeys: args.acceptNewHostKeys,
    },
    args,
  );
  try {
    return await runSelected(args, selected, early, io);
  } finally {
    await early.close();
  }
}

async function runSelected(
  args: RunArgs,
  selected: Awaited<ReturnType<typeof selectedHosts>>,
  early: EarlyConnections,
  io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream },
): Promise<number> {
  const playbook = await loadPlaybook(args.playbook);
  if (args.listHosts) return listHosts(playbook, selected.hosts, args, io);
  const hosts = await hostsWithVars(playbook, selected, args, io.stderr);
  if (args.listSteps) return listSteps(playbook, hosts, args, io);
  early.open();

  // The terminal reporters (and ora) are loaded only for a terminal: --json output is for programs.
  const fleet = hosts.length > 1;
  const terminal = args.json
    ? undefined
    : new (await import("../report/terminal-reporter.ts")).TerminalReporter({
        stream: io.stdout,
        showDiff: args.diff,
        stepSpinners: !fleet,
      });
  const progress =
    fleet && !args.json ? new (await import("../report/fleet-progress.ts")).FleetProgressReporter({ stream: io.stdout }) : undefined;
  // The plan cache (facts of the last run, per host): a converged run is 1 round trip after connect.
  // Keyed on the playbook and its local imports (from the compile cache when it loaded the playbook).
  const playbookPath = resolve(args.playbook);
  const playbookContent = process.env.PROVISION_PLAN_CACHE === "off" ? undefined : await playbookInputsDigest(playbookPath);
  const plans = planCacheDir();
  const stopWatching = watchCommands(args.verbosity, io.stderr);
  const result = await runFleet({
    hosts: hosts.map((h) => ({ ...h, name: h.host.name })),
    concurrency: args.concurrency,
    batches: args.batches,
    maxFail: args.maxFail,
    failFast: args.failFast,
    shard: args.shard,
    onProgress: progress?.handle,
    runOne: ({ host, target, vars }) =>
      runHost({
        playbook,
        vars,
        // The runner replaces the address with the one the transport really connected to.
        host: { name: host.name, address: host.address ?? host.name },
        ...(playbookContent && {
          planCache: filePlanCache(
            plans,
            planCacheKey({
              playbookPath,
              playbookContent,
              playbookName: playbook.name,
              vars,
              host: { name: host.name, address: host.address ?? host.name },
            }),
          ),
        }),
        connect: () => early.take(target),
        mode: args.check ? "check" : "apply",
        selection: args.selection,
        emit: terminal?.handle,
        commandTimeoutMs: args.commandTimeoutMs,
      }),
  });
  stopWatching();
  progress?.stop();
  const reports = result.reports;
  const empty = emptyShard(args, hosts.length, reports.length, io.stderr);
  const { exitCode, result: overall } = empty ?? overallResult(reports);
  if (args.json) {
    io.stdout.write(runJson(playbook.name, args, exitCode, overall, result));
  } else if (!empty) {
    terminal?.summary(reports, result.stopped ? { stopped: result.stopped.reason } : undefined);
  }
  if (reports.some(refusedStepParameters)) {
    // tsx only strips types: what tsc would have caught is found only when the steps are built.
    io.stderr.write(
      `provision: hint: \`provision check-playbook ${args.playbook}\` type-checks every step's parameters without connecting\n`,
    );
  }
  return exitCode;
}

/**
 * Every selected host with its vars, validated before any connection (bad input touches no host).
 * Precedence: inventory (group < host) < --vars-file < --var. Every selected host is validated,
 * also those of other shards, so every shard job agrees on whether the input is valid.
 */
async function hostsWithVars(
  playbook: Playbook,
  selected: Awaited<ReturnType<typeof selectedHosts>>,
  args: RunArgs,
  stderr: { write(text: string): unknown },
) {
  const fileVars = await Promise.all(args.varsFiles.map((file) => readVarsFile(file, selected.vault)));
  for (const [i, vars] of fileVars.entries()) checkKnownVars(playbook, vars, `--vars-file ${args.varsFiles[i]}`);
  const cliVars = parseVarAssignments(args.vars, playbook.vars);
  checkKnownVars(playbook, cliVars, "--var");
  for (const name of secretAssignments(args.vars, playbook.vars)) {
    stderr.write(
      `provision: warning: --var ${name} puts a secret on the command line, where ps shows it to every user of this machine; ` +
        `give it in a vars file as { fromEnv: NAME } or { fromFile: path }, or as --var '${name}={fromEnv: NAME}'\n`,
    );
  }

  const problems: string[] = [];
  const hosts = selected.hosts.flatMap((host) => {
    try {
      return [
        {
          host,
          target: connectTargetOf(host),
          vars: validateVars(playbook, mergeVars(host.vars, ...fileVars, cliVars), `host ${host.name}`),
        },
      ];
    } catch (error) {
      if (!(error instanceof VarsError)) throw error;
      // validateVars names the host itself; a merge error (a __proto__ key in the inventory) does not.
      problems.push(error.message.startsWith("playbook ") ? error.message : `host ${host.name}: ${error.message}`);
      return [];
    }
  });
  if (problems.length > 0) {
    const more = problems.length > MAX_VARS_ERRORS ? `\n… and ${problems.length - MAX_VARS_ERRORS} more hosts with invalid vars` : "";
    throw new VarsError(problems.slice(0, MAX_VARS_ERRORS).join("\n") + more);
  }
  return hosts;
}

/** The --json report: every host's report and how the rollout went. */
function runJson(playbook: string, args: RunArgs, exitCode: number, result: RunReport["result"], fleet: FleetResult): string {
  return jsonReport({
    playbook,
    mode: args.check ? "check" : "apply",
    exitCode,
    result,
    hosts: fleet.reports,
    rollout: {
      selected: fleet.selected,
      ...(fleet.shard ? { shard: fleet.shard } : {}),
      concurrency: args.concurrency,
      batches: fleet.batches,
      ...(fleet.stopped ? { stopped: fleet.stopped } : {}),
    },
  });
}

function refusedStepParameters(report: HostReport): boolean {
  return [report.error, ...report.steps.map((step) => step.error)].some((error) => error?.includes(": invalid parameters: "));
}

/**
 * A shard that holds none of the selected hosts ran nothing: said on stderr, and an error unless
 * --allow-empty (a CI job whose shard is empty by mistake must not pass as a clean run).
 */
function emptyShard(args: RunArgs, selected: number, ran: number, stderr: { write(text: string): unknown }) {
  if (ran > 0 || !args.shard) return undefined;
  const shard = `--shard ${args.shard.index}/${args.shard.count}`;
  stderr.write(
    `provision: ${shard} holds none of the ${selected} selected host${selected === 1 ? "" : "s"}: nothing was run` +
      (args.allowEmpty ? " (--allow-empty)\n" : "; --allow-empty makes this exit 0\n"),
  );
  return args.allowEmpty ? { exitCode: EXIT_OK, result: "ok" as const } : { exitCode: EXIT_ERROR, result: "failed" as const };
}
