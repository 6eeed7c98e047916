/**
 * `provision exec <command…>` — Ansible's ad-hoc `ansible HOSTS -m shell -a CMD`: one shell
 * command on every selected host (same selection as `run`), `--concurrency` at a time. Each host's
 * output is printed as one block when it finishes (never interleaved), labelled with the host and
 * its exit code; `--json` prints one document instead. Exit 1 if any host failed (non-zero exit,
 * unreachable, timed out).
 *
 * `--secret-env NAME` passes this machine's environment variable NAME to the command as $NAME:
 * the value travels in the script on stdin (never in an argv) and is masked in every line printed.
 */
import { quote } from "../shell/quote.ts";
import { mask, maskDeep } from "../shell/mask.ts";
import { secret, type Secret } from "../shell/secret.ts";
import { raw, sh, ShellCommand } from "../shell/sh.ts";
import { eachHost, type Connector, type HostOutcome } from "./each-host.ts";
import { EXIT_ERROR, EXIT_OK } from "./exit-code.ts";
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  HELP_OPTION,
  parseConnection,
  parseSelection,
  parseVerbArgs,
  SELECTION_OPTIONS,
  SELECTION_USAGE,
  UsageError,
  type ConnectionArgs,
  type SelectionArgs,
} from "./options.ts";
import { selectedHosts } from "./selected-hosts.ts";
import { watchCommands } from "./verbose.ts";

export interface ExecArgs extends SelectionArgs, ConnectionArgs {
  command: string;
  json: boolean;
  secretEnv: string[];
}

export const EXEC_USAGE = `usage: provision exec (--host NAME | -i INVENTORY --group NAME | --limit PATTERN) [options] [--] <command…>

Runs one shell command (with the host's /bin/sh) on every selected host and prints each host's
stdout, stderr and exit code. Exit 1 if it failed anywhere (non-zero exit, unreachable, timeout).

${SELECTION_USAGE}
  --json                   one JSON document: per host, stdout, stderr, exit code, duration
  --secret-env NAME        pass this machine's environment variable NAME to the command as $NAME
                           (repeatable): sent on stdin, never in argv, masked in all output
${CONNECTION_USAGE}

examples:
  provision exec --host vps1 -- uptime
  provision exec -i hosts.ini --group web --become -- systemctl is-active nginx
  provision exec -i hosts.ini --limit 'db*' --json -- 'df -h /var | tail -1'
  DB_PASSWORD=… provision exec --host db1 --secret-env DB_PASSWORD -- 'mysql -uroot -p"$DB_PASSWORD" -e "select 1"'`;

const EXEC_OPTIONS = {
  ...SELECTION_OPTIONS,
  ...CONNECTION_OPTIONS,
  ...HELP_OPTION,
  json: { type: "boolean", default: false },
  "secret-env": { type: "string", multiple: true },
} as const;

export function parseExecArgs(argv: readonly string[]): ExecArgs {
  const { values, positionals } = parseVerbArgs("exec", argv, EXEC_OPTIONS);
  if (positionals.length === 0 || positionals.join(" ").trim() === "") throw new UsageError("missing the command to run", "exec");
  const secretEnv = (values["secret-env"] as string[] | undefined) ?? [];
  for (const name of secretEnv) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new UsageError(`--secret-env ${JSON.stringify(name)}: not an environment variable name`, "exec");
  }
  return {
    ...parseSelection("exec", values),
    ...parseConnection("exec", values),
    // Words after the flags are joined as ssh does: `provision exec --host a -- ls -l /etc`.
    command: positionals.join(" "),
    json: values.json === true,
    secretEnv,
  };
}

interface ExecOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function execCommand(
  args: ExecArgs,
  io: { stdout: { write(text: string): unknown }; stderr: { write(text: string): unknown } },
  connect?: Connector,
): Promise<number> {
  const secrets = readSecretEnv(args.secretEnv);
  const command = execScript(args.command, secrets);
  const { hosts } = await selectedHosts(args, io.stderr);
  const stopWatching = watchCommands(args.verbosity, io.stderr);
  let outcomes: HostOutcome<ExecOutput>[];
  try {
    outcomes = await eachHost(
      hosts,
      args,
      async (session) => {
        const result = await session.run(command);
        return { exitCode: result.exitCode, stdout: mask(result.stdout.toString("utf8")), stderr: mask(result.stderr.toString("utf8")) };
      },
      args.json ? undefined : (outcome) => void io.stdout.write(formatOutcome(outcome)),
      connect,
    );
  } finally {
    stopWatching();
  }
  const failed = outcomes.filter((o) => o.status !== "ok" || o.value.exitCode !== 0);
  if (args.json) {
    io.stdout.write(
      `${JSON.stringify(maskDeep({ command: command.display, exitCode: failed.length ? EXIT_ERROR : EXIT_OK, hosts: outcomes.map(jsonHost) }), null, 2)}\n`,
    );
  } else {
    io.stdout.write(summary(outcomes, failed.length));
  }
  return failed.length > 0 ? EXIT_ERROR : EXIT_OK;
}

function readSecretEnv(names: readonly string[]): Map<string, Secret> {
  const secrets = new Map<string, Secret>();
  for (const name of names) {
    const value = process.env[name];
    if (!value) throw new UsageError(`--secret-env ${name}: the environment variable is not set or empty`, "exec");
    secrets.set(name, secret(value));
  }
  return secrets;
}

/**
 * The user's command is shell syntax they wrote: spliced as is. Secrets become exported shell
 * variables in front of it; a command holding one goes to the host as a script on stdin
 * (HostSession), so the command itself gets /dev/null as stdin, not the rest of its own script.
 */
export function execScript(command: string, secrets: ReadonlyMap<string, Secret>): ShellCommand {
  if (secrets.size === 0) return sh`${raw(command)}`;
  const assignments = [...secrets].map(([name, value]) => ({
    text: `${name}=${quote(value.reveal())}; export ${name}`,
    display: `${name}=***; export ${name}`,
  }));
  const body = `{\n${command}\n} </dev/null`;
  return new ShellCommand(
    [...assignments.map((a) => a.text), body].join("\n"),
    [...assignments.map((a) => a.display), body].join("\n"),
    true,
  );
}

function formatOutcome(outcome: HostOutcome<ExecOutput>): string {
  const took = `${(outcome.durationMs / 1000).toFixed(2)} s`;
  if (outcome.status !== "ok") return `=== ${outcome.host}: ${outcome.status} (${took})\n${outcome.error}\n\n`;
  const { exitCode, stdout, stderr } = outcome.value;
  let text = `=== ${outcome.host}: exit ${exitCode}${exitCode === 0 ? "" : " (failed)"} (${took})\n`;
  if (stdout) text += `--- stdout\n${withNewline(stdout)}`;
  if (stderr) text += `--- stderr\n${withNewline(stderr)}`;
  return `${text}\n`;
}

function withNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

function summary(outcomes: readonly HostOutcome<ExecOutput>[], failed: number): string {
  const unreachable = outcomes.filter((o) => o.status === "unreachable").length;
  const nonZero = outcomes.filter((o) => o.status === "ok" && o.value.exitCode !== 0).length;
  const errors = outcomes.filter((o) => o.status === "failed").length;
  const parts = [
    `${outcomes.length - failed} ok`,
    `${nonZero} non-zero exit`,
    `${unreachable} unreachable`,
    ...(errors ? [`${errors} failed (timeout or error)`] : []),
  ];
  return `${outcomes.length} host${outcomes.length === 1 ? "" : "s"}: ${parts.join(", ")}\n`;
}

function jsonHost(outcome: HostOutcome<ExecOutput>) {
  const durationMs = Math.round(outcome.durationMs);
  if (outcome.status !== "ok") return { host: outcome.host, status: outcome.status, error: outcome.error, durationMs };
  return { host: outcome.host, status: outcome.value.exitCode === 0 ? "ok" : "failed", ...outcome.value, durationMs };
}
