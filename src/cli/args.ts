/** Command-line parsing for `provision run`, with node's own parseArgs (no dependency needed). */
import { parseArgs } from "node:util";
import { parseBatchSpec, type BatchSize } from "../run/batches.ts";
import { parseMaxFail, type FailThreshold } from "../run/fail-threshold.ts";
import { parseShard, type Shard } from "../run/shard.ts";

export interface RunArgs {
  playbook: string;
  hosts: string[];
  check: boolean;
  diff: boolean;
  json: boolean;
  vars: string[];
  varsFiles: string[];
  acceptNewHostKeys: boolean;
  /** Run commands as root through sudo (the login user is not root). */
  become: boolean;
  knownHosts: string[];
  user?: string;
  port?: number;
  identity: string[];
  sshConfig?: string;
  concurrency: number;
  commandTimeoutMs: number;
  // Fleets (see README "Fleets").
  inventory?: string;
  groups: string[];
  limit?: string;
  batches?: BatchSize[];
  maxFail?: FailThreshold;
  failFast: boolean;
  shard?: Shard;
  // Ansible Vault (see src/vault/): password files only, never a password in argv.
  vaultPasswordFiles: string[];
  vaultIds: string[];
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const USAGE = `usage: provision run <playbook.ts> (--host NAME | -i INVENTORY --group NAME | --limit PATTERN) [options]

  --host NAME              host to run on (repeatable); "localhost" runs on this machine
  -i, --inventory FILE     inventory: TypeScript, YAML, or Ansible INI/YAML (a file or directory)
  --group NAME             every host of an inventory group (repeatable; "all" for all of them)
  --limit PATTERN          narrow the selection: web*,db:&prod:!db3 (Ansible-like)
  --check                  change nothing; report drift (exit 2 if any, 0 if none)
  --diff                   show unified diffs of text changes (secrets masked)
  --json                   print one JSON report on stdout and nothing else
  --var KEY=VALUE          set a playbook var (repeatable; later wins)
  --vars-file FILE         YAML or JSON vars (repeatable; --var wins over it)
  --accept-new-host-keys   trust and record the key of a host not yet in known_hosts
  --become                 run commands as root with sudo (password, if sudo needs one,
                           from the environment variable PROVISION_BECOME_PASSWORD)
  --known-hosts FILE       known_hosts file to verify against (repeatable)
  --user NAME, --port N    SSH login user and port (default from ~/.ssh/config)
  --identity FILE          SSH private key (repeatable)
  --ssh-config FILE        ssh config file (default ~/.ssh/config)
  --concurrency N          hosts at a time (default 20)
  --batch SIZES            rolling batches, e.g. 1,10%,100% (the last size repeats)
  --max-fail N|P%          stop when more than N hosts fail, or more than P% of a batch
  --fail-fast              stop at the first failed host (in-flight hosts finish)
  --shard I/N              run only this machine's share of the hosts (stable hash of the name)
  --timeout SECONDS        per-command timeout (default 300)
  --vault-password-file F  Ansible Vault password file (repeatable; an executable one is run)
  --vault-id LABEL@FILE    Ansible Vault password for one vault id (repeatable); or set
                           PROVISION_VAULT_PASSWORD / ANSIBLE_VAULT_PASSWORD_FILE

       provision --version   the version, and whether the engine runs from its build (dist/)

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
        become: { type: "boolean", default: false },
        "known-hosts": { type: "string", multiple: true },
        user: { type: "string" },
        port: { type: "string" },
        identity: { type: "string", multiple: true },
        "ssh-config": { type: "string" },
        concurrency: { type: "string" },
        timeout: { type: "string" },
        inventory: { type: "string", short: "i" },
        group: { type: "string", multiple: true },
        limit: { type: "string" },
        batch: { type: "string" },
        "max-fail": { type: "string" },
        "fail-fast": { type: "boolean", default: false },
        shard: { type: "string" },
        "vault-password-file": { type: "string", multiple: true },
        "vault-id": { type: "string", multiple: true },
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
  const groups = values.group ?? [];
  if (hosts.length === 0 && groups.length === 0 && values.limit === undefined) {
    throw new UsageError(
      values.inventory === undefined
        ? "no host selected: give --host NAME (or --inventory FILE with --group or --limit)"
        : "no host selected: give --host NAME, --group NAME or --limit PATTERN (--group all for the whole inventory)",
    );
  }
  if ((groups.length > 0 || values.limit !== undefined) && values.inventory === undefined && hosts.length === 0) {
    throw new UsageError(`${groups.length ? "--group" : "--limit"} needs an inventory: give --inventory FILE`);
  }
  return {
    playbook,
    hosts,
    check: values.check ?? false,
    diff: values.diff ?? false,
    json: values.json ?? false,
    vars: values.var ?? [],
    varsFiles: values["vars-file"] ?? [],
    acceptNewHostKeys: values["accept-new-host-keys"] ?? false,
    become: values.become ?? false,
    knownHosts: values["known-hosts"] ?? [],
    user: values.user,
    port: values.port === undefined ? undefined : positiveInt("--port", values.port),
    identity: values.identity ?? [],
    sshConfig: values["ssh-config"],
    concurrency: values.concurrency === undefined ? 20 : positiveInt("--concurrency", values.concurrency),
    commandTimeoutMs: (values.timeout === undefined ? 300 : positiveInt("--timeout", values.timeout)) * 1000,
    inventory: values.inventory,
    groups,
    limit: values.limit,
    batches: values.batch === undefined ? undefined : usage(() => parseBatchSpec(values.batch as string)),
    maxFail: values["max-fail"] === undefined ? undefined : usage(() => parseMaxFail(values["max-fail"] as string)),
    failFast: values["fail-fast"] ?? false,
    shard: values.shard === undefined ? undefined : usage(() => parseShard(values.shard as string)),
    vaultPasswordFiles: values["vault-password-file"] ?? [],
    vaultIds: values["vault-id"] ?? [],
  };
}

/** The fleet option parsers throw plain Errors; here they are usage errors. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function positiveInt(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${flag} expects a positive whole number, got "${text}"`);
  return value;
}
