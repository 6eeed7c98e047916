/**
 * `provision run`: load the playbook, build and validate each host's vars (all before any
 * connection), run the hosts, report, and return the exit code.
 */
import { loadPlaybook } from "../playbook/load-playbook.ts";
import { mergeVars, parseVarAssignments, readVarsFile, validateVars } from "../playbook/vars.ts";
import { runHost } from "../run/host-runner.ts";
import { mapLimit } from "../run/map-limit.ts";
import type { HostReport } from "../report/events.ts";
import { jsonReport } from "../report/json-report.ts";
import { TerminalReporter } from "../report/terminal-reporter.ts";
import type { RunArgs } from "./args.ts";
import { connectHost } from "./connect.ts";
import { overallResult } from "./exit-code.ts";

export async function runCommand(args: RunArgs, io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream }): Promise<number> {
  const playbook = await loadPlaybook(args.playbook);
  const fileVars = await Promise.all(args.varsFiles.map(readVarsFile));
  const cliVars = parseVarAssignments(args.vars);
  // Validate every host's vars before connecting anywhere: bad input touches no host.
  const hosts = args.hosts.map((name) => ({
    name,
    vars: validateVars(playbook, mergeVars(...fileVars, cliVars), `host ${name}`),
  }));

  const terminal = new TerminalReporter({ stream: args.json ? io.stderr : io.stdout, showDiff: args.diff });
  const reports: HostReport[] = await mapLimit(hosts, args.concurrency, (host) =>
    runHost({
      playbook,
      vars: host.vars,
      host: { name: host.name, address: host.name },
      connect: () => connectHost(host.name, args),
      mode: args.check ? "check" : "apply",
      emit: args.json ? undefined : terminal.handle,
      commandTimeoutMs: args.commandTimeoutMs,
    }),
  );
  const { exitCode, result } = overallResult(reports);
  if (args.json) {
    io.stdout.write(jsonReport({ playbook: playbook.name, mode: args.check ? "check" : "apply", exitCode, result, hosts: reports }));
  } else {
    terminal.summary(reports);
  }
  return exitCode;
}
