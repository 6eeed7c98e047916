/**
 * What every verb that talks to hosts shares: how hosts are selected (`--host`, `--group`,
 * `--limit`, `-i`) and how they are reached (SSH options, `--become`, `--timeout`). Parsed with
 * node's own parseArgs (no dependency needed); a mistyped flag is answered with the closest one.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { closest } from "./suggest.ts";

export class UsageError extends Error {
  override readonly name = "UsageError";
  /** The verb whose usage to print with the error (undefined: the top-level usage). */
  constructor(
    message: string,
    readonly verb?: string,
  ) {
    super(message);
  }
}

export interface SelectionArgs {
  hosts: string[];
  /** Every `-i`, in order: Ansible merges repeated inventories, later files winning. */
  inventories: string[];
  groups: string[];
  limit?: string;
  /** Ansible Vault (see src/vault/): password files only, never a password in argv. */
  vaultPasswordFiles: string[];
  vaultIds: string[];
}

export interface ConnectionArgs {
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
  /** -v: every command sent (masked) with its duration and exit code; -vv adds ssh2's debug output. */
  verbosity: number;
}

/**
 * Node's timers take a signed 32-bit millisecond count; above it they fire after 1 ms (with a
 * warning), which would time out every command at once.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function maxTimeoutSeconds(): number {
  return Math.floor(MAX_TIMER_MS / 1000);
}
type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

export const SELECTION_OPTIONS = {
  host: { type: "string", multiple: true },
  inventory: { type: "string", short: "i", multiple: true },
  group: { type: "string", multiple: true },
  limit: { type: "string" },
  "vault-password-file": { type: "string", multiple: true },
  "vault-id": { type: "string", multiple: true },
} as const satisfies OptionSpecs;

export const CONNECTION_OPTIONS = {
  "accept-new-host-keys": { type: "boolean", default: false },
  become: { type: "boolean", default: false },
  "known-hosts": { type: "string", multiple: true },
  user: { type: "string" },
  port: { type: "string" },
  identity: { type: "string", multiple: true },
  "ssh-config": { type: "string" },
  concurrency: { type: "string" },
  timeout: { type: "string" },
  verbose: { type: "boolean", short: "v", multiple: true },
} as const satisfies OptionSpecs;

export const HELP_OPTION = { help: { type: "boolean", short: "h", default: false } } as const satisfies OptionSpecs;

export const SELECTION_USAGE = `  --host NAME              host to run on (repeatable); "localhost" runs on this machine;
                           an ~/.ssh/config alias is resolved as \`ssh NAME\` would
  -i, --inventory FILE     inventory: TypeScript, YAML, or Ansible INI/YAML (a file or directory;
                           repeatable: merged in order, later files win, as in Ansible)
  --group NAME             every host of an inventory group (repeatable; "all" for all of them)
  --limit PATTERN          narrow the selection: web*,db:&prod:!db3 (Ansible-like)
  --vault-password-file F  Ansible Vault password file (repeatable; an executable one is run)
  --vault-id LABEL@FILE    Ansible Vault password for one vault id (repeatable); or set
                           PROVISION_VAULT_PASSWORD / ANSIBLE_VAULT_PASSWORD_FILE`;

export const CONNECTION_USAGE = `  --accept-new-host-keys   trust and record the key of a host not yet in known_hosts
  --become                 run commands as root with sudo (password, if sudo needs one,
                           from the environment variable PROVISION_BECOME_PASSWORD)
  --known-hosts FILE       known_hosts file to verify against (repeatable)
  --user NAME, --port N    SSH login user and port (default from ~/.ssh/config)
  --identity FILE          SSH private key (repeatable)
  --ssh-config FILE        ssh config file (default ~/.ssh/config)
  --concurrency N          hosts at a time (default 20)
  --timeout SECONDS        per-command timeout (default 300, at most ${maxTimeoutSeconds()})
  -v, -vv                  print every command sent (masked) with its duration and exit code,
                           on stderr; -vv adds the SSH protocol's debug output (masked)`;

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** parseArgs with every error a UsageError for `verb`, and an unknown flag answered with the closest known one. */
export function parseVerbArgs(verb: string, argv: readonly string[], options: OptionSpecs): { values: Values; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
    if (unknown) {
      const names = Object.entries(options).flatMap(([name, spec]) => [`--${name}`, ...(spec.short ? [`-${spec.short}`] : [])]);
      const suggestion = closest(unknown, names);
      throw new UsageError(`unknown option ${unknown}${suggestion ? ` (did you mean ${suggestion}?)` : ""}`, verb);
    }
    throw new UsageError(message, verb);
  }
}

export function parseSelection(verb: string, values: Values): SelectionArgs {
  const hosts = nonEmpty(verb, "--host", strings(values.host));
  const inventories = nonEmpty(verb, "--inventory", strings(values.inventory));
  const groups = nonEmpty(verb, "--group", strings(values.group));
  const limit = typeof values.limit === "string" ? (nonEmpty(verb, "--limit", [values.limit])[0] as string) : undefined;
  if (hosts.length === 0 && groups.length === 0 && limit === undefined) {
    throw new UsageError(
      inventories.length === 0
        ? "no host selected: give --host NAME (or --inventory FILE with --group or --limit)"
        : "no host selected: give --host NAME, --group NAME or --limit PATTERN (--group all for the whole inventory)",
      verb,
    );
  }
  if ((groups.length > 0 || limit !== undefined) && inventories.length === 0 && hosts.length === 0) {
    throw new UsageError(`${groups.length ? "--group" : "--limit"} needs an inventory: give --inventory FILE`, verb);
  }
  return {
    hosts,
    inventories,
    groups,
    ...(limit !== undefined ? { limit } : {}),
    vaultPasswordFiles: nonEmpty(verb, "--vault-password-file", strings(values["vault-password-file"])),
    vaultIds: nonEmpty(verb, "--vault-id", strings(values["vault-id"])),
  };
}

export function parseConnection(verb: string, values: Values): ConnectionArgs {
  const user = typeof values.user === "string" ? (nonEmpty(verb, "--user", [values.user])[0] as string) : undefined;
  const port = typeof values.port === "string" ? positiveInt(verb, "--port", values.port, 65535) : undefined;
  const sshConfig =
    typeof values["ssh-config"] === "string" ? (nonEmpty(verb, "--ssh-config", [values["ssh-config"]])[0] as string) : undefined;
  return {
    acceptNewHostKeys: values["accept-new-host-keys"] === true,
    become: values.become === true,
    knownHosts: nonEmpty(verb, "--known-hosts", strings(values["known-hosts"])),
    ...(user !== undefined ? { user } : {}),
    ...(port !== undefined ? { port } : {}),
    identity: nonEmpty(verb, "--identity", strings(values.identity)),
    ...(sshConfig !== undefined ? { sshConfig } : {}),
    concurrency: typeof values.concurrency === "string" ? positiveInt(verb, "--concurrency", values.concurrency) : 20,
    commandTimeoutMs:
      typeof values.timeout === "string" ? positiveInt(verb, "--timeout", values.timeout, maxTimeoutSeconds()) * 1000 : 300_000,
    verbosity: Array.isArray(values.verbose) ? values.verbose.length : 0,
  };
}

function strings(value: Values[string]): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
}

/** `--host=` (or `--host ""`) is a mistake, not a name: an empty host would mean this machine to ssh2. */
function nonEmpty(verb: string, flag: string, values: string[]): string[] {
  if (values.some((value) => value.trim() === "")) throw new UsageError(`${flag} needs a value, got an empty one`, verb);
  return values;
}

export function positiveInt(verb: string, flag: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError(`${flag} expects a positive whole number, got "${text}"`, verb);
  }
  if (value > max) throw new UsageError(`${flag} ${text} is too large: at most ${max}`, verb);
  return value;
}
