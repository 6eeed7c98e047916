/**
 * `provision run`: load the playbook (and the inventory), select the hosts, build and validate every
 * host's vars (all before any connection), run the fleet, report, and return the exit code.
 */
import { loadPlaybook } from "../playbook/load-playbook.ts";
import { mergeVars, parseVarAssignments, readVarsFile, validateVars, VarsError } from "../playbook/vars.ts";
import { runHost } from "../run/host-runner.ts";
import { jsonReport } from "../report/json-report.ts";
import type { RunArgs } from "./args.ts";
import { connectHost, isLocalTarget, loadSshTransport, type ConnectTarget } from "./connect.ts";
import { overallResult } from "./exit-code.ts";
// Fleets: inventory, selection, rollout.
import { loadInventory } from "../inventory/load-inventory.ts";
import type { InventoryHost } from "../inventory/inventory.ts";
import { selectHosts } from "../inventory/select.ts";
import { runFleet } from "../run/fleet-runner.ts";
import { loadVaultKeyring } from "../vault/index.ts";

/** Vars errors of this many hosts are listed; the rest are counted. */
const MAX_VARS_ERRORS = 10;

export async function runCommand(args: RunArgs, io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream }): Promise<number> {
  // Before the playbook (see loadSshTransport): an inventory may select SSH hosts too.
  if (args.inventory !== undefined || args.hosts.some((name) => !isLocalTarget({ name }))) await loadSshTransport();
  const playbook = await loadPlaybook(args.playbook);
  const inventory =
    args.inventory === undefined
      ? undefined
      : await loadInventory(args.inventory, { vault: await loadVaultKeyring({ passwordFiles: args.vaultPasswordFiles, vaultIds: args.vaultIds }) });
  for (const warning of inventory?.warnings ?? []) io.stderr.write(`provision: warning: ${warning}\n`);
  const selected = selectHosts(inventory, { hosts: args.hosts, groups: args.groups, limit: args.limit });
  for (const warning of selected.warnings) io.stderr.write(`provision: warning: ${warning}\n`);
  const fileVars = await Promise.all(args.varsFiles.map(readVarsFile));
  const cliVars = parseVarAssignments(args.vars);

  // Validate every host's vars before connecting anywhere: bad input touches no host.
  // Precedence: inventory (group < host) < --vars-file < --var. Every selected host is validated,
  // also those of other shards, so every shard job agrees on whether the input is valid.
  const problems: string[] = [];
  const hosts = selected.hosts.flatMap((host) => {
    try {
      return [{ host, target: connectTarget(host, args), vars: validateVars(playbook, mergeVars(host.vars, ...fileVars, cliVars), `host ${host.name}`) }];
    } catch (error) {
      if (!(error instanceof VarsError)) throw error;
      problems.push(error.message);
      return [];
    }
  });
  if (problems.length > 0) {
    const more = problems.length > MAX_VARS_ERRORS ? `\n… and ${problems.length - MAX_VARS_ERRORS} more hosts with invalid vars` : "";
    throw new VarsError(problems.slice(0, MAX_VARS_ERRORS).join("\n") + more);
  }

  // The terminal reporters (and ora) are loaded only for a terminal: --json output is for programs.
  const fleet = hosts.length > 1;
  const terminal = args.json
    ? undefined
    : new (await import("../report/terminal-reporter.ts")).TerminalReporter({ stream: io.stdout, showDiff: args.diff, stepSpinners: !fleet });
  const progress = fleet && !args.json ? new (await import("../report/fleet-progress.ts")).FleetProgressReporter({ stream: io.stdout }) : undefined;
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
        host: { name: host.name, address: host.address ?? host.name },
        connect: () => connectHost(target, args),
        mode: args.check ? "check" : "apply",
        emit: terminal?.handle,
        commandTimeoutMs: args.commandTimeoutMs,
      }),
  });
  progress?.stop();
  const reports = result.reports;
  const { exitCode, result: overall } = overallResult(reports);
  if (args.json) {
    io.stdout.write(
      jsonReport({
        playbook: playbook.name,
        mode: args.check ? "check" : "apply",
        exitCode,
        result: overall,
        hosts: reports,
        rollout: {
          selected: result.selected,
          ...(result.shard ? { shard: result.shard } : {}),
          concurrency: args.concurrency,
          batches: result.batches,
          ...(result.stopped ? { stopped: result.stopped } : {}),
        },
      }),
    );
  } else {
    terminal?.summary(reports, result.stopped ? { stopped: result.stopped.reason } : undefined);
  }
  return exitCode;
}

/** Inventory settings for the connection; --user, --port and --identity on the command line win. */
function connectTarget(host: InventoryHost, args: RunArgs): ConnectTarget {
  const identityFiles = args.identity.length ? args.identity : host.identityFile ? [host.identityFile] : undefined;
  return {
    name: host.name,
    ...(host.address !== undefined ? { address: host.address } : {}),
    ...((args.port ?? host.port) !== undefined ? { port: args.port ?? host.port } : {}),
    ...((args.user ?? host.user) !== undefined ? { user: args.user ?? host.user } : {}),
    ...(identityFiles ? { identityFiles } : {}),
    ...(host.become !== undefined ? { become: host.become } : {}),
    ...(host.becomeUser !== undefined ? { becomeUser: host.becomeUser } : {}),
    ...(host.becomeMethod !== undefined ? { becomeMethod: host.becomeMethod } : {}),
    ...(host.becomePassword !== undefined ? { becomePassword: host.becomePassword } : {}),
    ...(host.password !== undefined ? { password: host.password } : {}),
    ...(host.connection !== undefined ? { connection: host.connection } : {}),
    ...(host.sshArgs !== undefined ? { sshArgs: host.sshArgs } : {}),
  };
}
