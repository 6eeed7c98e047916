/** Command-line parsing for `provision run`, with node's own parseArgs (no dependency needed). */
import { parseArgs } from "node:util";

export interface RunArgs {
  playbook: string;
  hosts: string[];
  check: boolean;
  diff: boolean;
  json: boolean;
  vars: string[];
  varsFiles: string[];
  acceptNewHostKeys: boolean;
  knownHosts: string[];
  user?: string;
  port?: number;
  identity: string[];
  sshConfig?: string;
  concurrency: number;
  commandTimeoutMs: number;
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const USAGE = `usage: provision run <playbook.ts> --host <name> [options]

  --host NAME              host to run on (repeatable); "localhost" runs on this machine
  --check                  change nothing; report drift (exit 2 if any, 0 if none)
  --diff                   show unified diffs of text changes (secrets masked)
  --json                   print one JSON report on stdout and nothing else
  --var KEY=VALUE          set a playbook var (repeatable; later wins)
  --vars-file FILE         YAML or JSON vars (repeatable; --var wins over it)
  --accept-new-host-keys   trust and record the key of a host not yet in known_hosts
  --known-hosts FILE       known_hosts file to verify against (repeatable)
  --user NAME, --port N    SSH login user and port (default from ~/.ssh/config)
  --identity FILE          SSH private key (repeatable)
  --ssh-config FILE        ssh config file (default ~/.ssh/config)
  --concurrency N          hosts at a time (default 20)
  --timeout SECONDS        per-command timeout (default 300)

exit codes: 0 success / no drift, 2 drift found in --check, 1 error`;

export function parseRunArgs(argv: readonly string[]): RunArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        host: { type: "string", multiple: true },
        check: { type: "boolean", default: false },
        diff: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        var: { type: "string", multiple: true },
        "vars-file": { type: "string", multiple: true },
        "accept-new-host-keys": { type: "boolean", default: false },
        "known-hosts": { type: "string", multiple: true },
        user: { type: "string" },
        port: { type: "string" },
        identity: { type: "string", multiple: true },
        "ssh-config": { type: "string" },
        concurrency: { type: "string" },
        timeout: { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [playbook, ...extra] = positionals;
  if (!playbook) throw new UsageError("missing the playbook file");
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  const hosts = values.host ?? [];
  if (hosts.length === 0) throw new UsageError("no host selected: give --host NAME");
  return {
    playbook,
    hosts,
    check: values.check ?? false,
    diff: values.diff ?? false,
    json: values.json ?? false,
    vars: values.var ?? [],
    varsFiles: values["vars-file"] ?? [],
    acceptNewHostKeys: values["accept-new-host-keys"] ?? false,
    knownHosts: values["known-hosts"] ?? [],
    user: values.user,
    port: values.port === undefined ? undefined : positiveInt("--port", values.port),
    identity: values.identity ?? [],
    sshConfig: values["ssh-config"],
    concurrency: values.concurrency === undefined ? 20 : positiveInt("--concurrency", values.concurrency),
    commandTimeoutMs: (values.timeout === undefined ? 300 : positiveInt("--timeout", values.timeout)) * 1000,
  };
}

function positiveInt(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${flag} expects a positive whole number, got "${text}"`);
  return value;
}
