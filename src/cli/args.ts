/** Command-line parsing for `provision run`; the host selection and connection flags are shared (options.ts). */
import { parseBatchSpec, type BatchSize } from "../run/batches.ts";
import { parseMaxFail, type FailThreshold } from "../run/fail-threshold.ts";
import { parseShard, type Shard } from "../run/shard.ts";
import type { StepSelection } from "../playbook/tags.ts";
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

export { UsageError } from "./options.ts";

export interface RunArgs extends SelectionArgs, ConnectionArgs {
  playbook: string;
  check: boolean;
  diff: boolean;
  json: boolean;
  vars: string[];
  varsFiles: string[];
  // Fleets (see README "Fleets").
  batches?: BatchSize[];
  maxFail?: FailThreshold;
  failFast: boolean;
  shard?: Shard;
  /** A shard (or selection) with no host is not an error. */
  allowEmpty: boolean;
  /** Print the hosts the run would touch (no connection) / each host's steps and handlers (facts only). */
  listHosts: boolean;
  listSteps: boolean;
  /** --tags / --skip-tags / --start-at (see src/playbook/tags.ts). */
  selection: StepSelection;
}

export const RUN_USAGE = `usage: provision run <playbook.ts> (--host NAME | -i INVENTORY --group NAME | --limit PATTERN) [options]

${SELECTION_USAGE}
  --check                  change nothing; report drift (exit 2 if any, 0 if none)
  --diff                   show unified diffs of text changes (secrets masked)
  --json                   print one JSON report on stdout and nothing else
  --var KEY=VALUE          set a playbook var (repeatable; later wins; a dotted key sets a
                           nested field). The value is converted to what the playbook's schema
                           expects: true/false/yes/no for a boolean, 25 for a number, YAML flow
                           [25, 587] or {fromEnv: NAME} for a list or object. Unknown names are
                           refused. Not for secrets: argv is visible to every user in ps
  --vars-file FILE         YAML or JSON vars (repeatable; --var wins over it)
${CONNECTION_USAGE}
  --batch SIZES            rolling batches, e.g. 1,10%,100% (the last size repeats)
  --max-fail N|P%          stop when more than N hosts fail, or more than P% of a batch
  --fail-fast              stop at the first failed host (in-flight hosts finish); = --max-fail 0
  --shard I/N              run only this machine's share of the hosts (stable hash of the name)
  --allow-empty            a shard or selection with no host exits 0 (default: an error)
  --list-hosts             print the hosts this run would touch (in order; contacts none)
  --list-steps             per host, the steps and handlers it would run there (built from
                           its facts: one read-only round trip; nothing is read or changed)
  --tags A,B               run only the steps tagged A or B (and \`always\`); others are skipped
  --skip-tags C            never run the steps tagged C (repeatable, comma-separated, as --tags)
  --start-at NAME          skip the steps before the first named NAME (\`*\` matches anything)

examples:
  provision run playbooks/mail.ts --host vps1 --vars-file mail.yml --check --diff
  provision run site.ts -i inventory/hosts.ini --group web --var http_port=8080 --var tls=false
  provision run site.ts -i prod.ini -i extra.yml --limit 'web*:!web03' --batch 1,100% --max-fail 2

exit codes: 0 success / no drift, 2 drift found in --check, 1 error`;

/** The top-level usage: every verb. */
export const USAGE = `usage: provision <command> [options]

commands:
  run <playbook.ts>      converge hosts to a playbook (--check: report drift, change nothing;
                         --list-hosts, --list-steps: what it would touch)
  exec <command…>        run one shell command on the selected hosts (Ansible ad-hoc -m shell)
  facts                  the facts playbooks get, per host (Ansible -m setup)
  inventory              an inventory as provision reads it: --list, --graph, --host NAME
  check-playbook <file>  type-check a playbook and validate vars, without connecting
  report merge <f.json>… merge the --json reports of a rollout's shards: one report, one exit code

examples:
  provision run playbooks/mail.ts --host vps1 --vars-file mail.yml --check --diff
  provision exec -i hosts.ini --group web -- uptime
  provision facts -i hosts.ini --group all --json
  provision inventory -i hosts.ini --graph

  provision <command> --help   options and examples of one command
  provision --version          the version, and whether the engine runs from its build (dist/)

exit codes: 0 success / no drift, 2 drift found in --check, 1 error`;

const RUN_OPTIONS = {
  ...SELECTION_OPTIONS,
  ...CONNECTION_OPTIONS,
  ...HELP_OPTION,
  check: { type: "boolean", default: false },
  diff: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  var: { type: "string", multiple: true },
  "vars-file": { type: "string", multiple: true },
  batch: { type: "string" },
  "max-fail": { type: "string" },
  "fail-fast": { type: "boolean", default: false },
  shard: { type: "string" },
  "allow-empty": { type: "boolean", default: false },
  "list-hosts": { type: "boolean", default: false },
  "list-steps": { type: "boolean", default: false },
  tags: { type: "string", multiple: true },
  "skip-tags": { type: "string", multiple: true },
  "start-at": { type: "string" },
} as const;

/** `--help` is not an error: the caller prints RUN_USAGE and exits 0. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

export function parseRunArgs(argv: readonly string[]): RunArgs {
  const { values, positionals } = parseVerbArgs("run", argv, RUN_OPTIONS);
  const [playbook, ...extra] = positionals;
  if (!playbook) throw new UsageError("missing the playbook file", "run");
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`, "run");
  const selection = parseSelection("run", values);
  const connection = parseConnection("run", values);
  if (values["fail-fast"] === true && values["max-fail"] !== undefined) {
    throw new UsageError("--fail-fast and --max-fail both say when to stop: give one (--fail-fast is --max-fail 0)", "run");
  }
  if (values["list-hosts"] === true && values["list-steps"] === true)
    throw new UsageError("give one of --list-hosts and --list-steps", "run");
  const text = (name: string) => values[name] as string | undefined;
  return {
    playbook,
    ...selection,
    ...connection,
    check: values.check === true,
    diff: values.diff === true,
    json: values.json === true,
    vars: (values.var as string[] | undefined) ?? [],
    varsFiles: (values["vars-file"] as string[] | undefined) ?? [],
    ...(text("batch") !== undefined ? { batches: usage(() => parseBatchSpec(text("batch") as string)) } : {}),
    ...(text("max-fail") !== undefined ? { maxFail: usage(() => parseMaxFail(text("max-fail") as string)) } : {}),
    failFast: values["fail-fast"] === true,
    ...(text("shard") !== undefined ? { shard: usage(() => parseShard(text("shard") as string)) } : {}),
    allowEmpty: values["allow-empty"] === true,
    listHosts: values["list-hosts"] === true,
    listSteps: values["list-steps"] === true,
    selection: stepSelection(values),
  };
}

/** `--tags a,b --tags c` → [a, b, c], as Ansible reads them. */
function stepSelection(values: Record<string, unknown>): StepSelection {
  const list = (name: string) =>
    ((values[name] as string[] | undefined) ?? [])
      .flatMap((v) => v.split(","))
      .map((v) => v.trim())
      .filter(Boolean);
  const tags = list("tags");
  const skipTags = list("skip-tags");
  const startAt = values["start-at"] as string | undefined;
  if (startAt !== undefined && startAt.trim() === "") throw new UsageError("--start-at needs a step name", "run");
  return { ...(tags.length ? { tags } : {}), ...(skipTags.length ? { skipTags } : {}), ...(startAt !== undefined ? { startAt } : {}) };
}

/** The fleet option parsers throw plain Errors; here they are usage errors. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message, "run");
  }
}
