/**
 * `provision facts` — Ansible's `ansible HOSTS -m setup`, for provision's facts: gathered from each
 * selected host in one round trip (the same script a run starts with), printed as a table or, with
 * `--json`, as one document keyed by host. Exit 1 if a host could not be reached or read.
 *
 * The facts come from FACT_SOURCES: the built-in ones now; custom facts (another issue) are one
 * more source there, each a (command, parser) pair run in the same way and reported under its name.
 */
import { factsCommand, parseFacts, type Facts } from "../facts/facts.ts";
import { maskDeep } from "../shell/mask.ts";
import type { ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";
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
import { gatherFacts } from "../facts/custom-facts.ts";
import { loadPlaybook } from "../playbook/load-playbook.ts";

export interface FactsArgs extends SelectionArgs, ConnectionArgs {
  json: boolean;
  /** A playbook whose custom facts (`facts: { name: fact(...) }`) are gathered too. */
  playbook?: string;
}

/** A named set of facts: one command and a pure parser of its output. */
export interface FactSource<T = unknown> {
  name: string;
  command: ShellCommand;
  parse(result: ExecResult): T;
}

export const FACT_SOURCES: readonly FactSource[] = [{ name: "builtin", command: factsCommand, parse: parseFacts }];

export const FACTS_USAGE = `usage: provision facts (--host NAME | -i INVENTORY --group NAME | --limit PATTERN) [options]

Gathers the facts playbooks get (OS family, distro and version, package and service manager, uid,
architecture, distro paths) from every selected host, in one round trip per host.

${SELECTION_USAGE}
  --playbook FILE          also the playbook's custom facts (its \`facts: { name: fact(…) }\`),
                           gathered in the same round trip as a run gathers them
  --json                   one JSON document: { hosts: { NAME: { builtin: {...}, custom: {...} } }, errors }
${CONNECTION_USAGE}

examples:
  provision facts --host vps1
  provision facts -i inventory/hosts.ini --group all --json | jq '.hosts[].builtin.version'
  provision facts --host vps1 --playbook site.ts`;

const FACTS_OPTIONS = {
  ...SELECTION_OPTIONS,
  ...CONNECTION_OPTIONS,
  ...HELP_OPTION,
  json: { type: "boolean", default: false },
  playbook: { type: "string" },
} as const;

export function parseFactsArgs(argv: readonly string[]): FactsArgs {
  const { values, positionals } = parseVerbArgs("facts", argv, FACTS_OPTIONS);
  if (positionals.length > 0) throw new UsageError(`unexpected arguments: ${positionals.join(" ")}`, "facts");
  const playbook = typeof values.playbook === "string" && values.playbook !== "" ? { playbook: values.playbook } : {};
  return { ...parseSelection("facts", values), ...parseConnection("facts", values), json: values.json === true, ...playbook };
}

type HostFacts = Record<string, unknown>;

export async function factsCommandRun(
  args: FactsArgs,
  io: { stdout: { write(text: string): unknown }; stderr: { write(text: string): unknown } },
  connect?: Connector,
): Promise<number> {
  const { hosts } = await selectedHosts(args, io.stderr);
  const custom = args.playbook === undefined ? undefined : ((await loadPlaybook(args.playbook)).facts ?? {});
  const stopWatching = watchCommands(args.verbosity, io.stderr);
  let outcomes: HostOutcome<HostFacts>[];
  try {
    outcomes = await eachHost(
      hosts,
      args,
      async (session) => {
        if (custom) {
          // One round trip, exactly as a run gathers them (src/facts/custom-facts.ts).
          const gather = gatherFacts(custom);
          const { custom: values, ...builtin } = gather.parse(await session.run(gather.command));
          return { builtin, custom: values };
        }
        const facts: HostFacts = {};
        for (const source of FACT_SOURCES) facts[source.name] = source.parse(await session.run(source.command));
        return facts;
      },
      undefined,
      connect,
    );
  } finally {
    stopWatching();
  }
  const failed = outcomes.filter((o) => o.status !== "ok");
  if (args.json) {
    const document = {
      hosts: Object.fromEntries(outcomes.flatMap((o) => (o.status === "ok" ? [[o.host, o.value]] : []))),
      errors: Object.fromEntries(outcomes.flatMap((o) => (o.status === "ok" ? [] : [[o.host, { status: o.status, error: o.error }]]))),
    };
    io.stdout.write(`${JSON.stringify(maskDeep(document), null, 2)}\n`);
  } else {
    io.stdout.write(factsTable(outcomes));
  }
  return failed.length > 0 ? EXIT_ERROR : EXIT_OK;
}

const COLUMNS: [string, (f: Facts) => string][] = [
  ["hostname", (f) => f.hostname],
  ["os", (f) => f.osFamily],
  ["distro", (f) => `${f.distro} ${f.version}`.trim()],
  ["arch", (f) => f.arch],
  ["packages", (f) => f.packageManager],
  ["services", (f) => f.serviceManager],
  ["uid", (f) => String(f.uid)],
];

/** One line per host, aligned columns; an unreachable host's line says why instead. */
export function factsTable(outcomes: readonly HostOutcome<HostFacts>[]): string {
  // A playbook's custom facts: one column each, the value as JSON.
  const customNames = [
    ...new Set(
      outcomes.flatMap((o) => (o.status === "ok" ? Object.keys((o.value.custom as Record<string, unknown> | undefined) ?? {}) : [])),
    ),
  ];
  const customCells = (f: HostFacts) =>
    customNames.map((name) => JSON.stringify((f.custom as Record<string, unknown> | undefined)?.[name]) ?? "");
  const header = ["host", ...COLUMNS.map(([name]) => name), ...customNames];
  const rows = outcomes.flatMap((o) =>
    o.status === "ok" ? [[o.host, ...COLUMNS.map(([, cell]) => cell(o.value.builtin as Facts)), ...customCells(o.value)]] : [],
  );
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => (row[i] ?? "").length)));
  const lines = outcomes.map((o) => {
    if (o.status !== "ok") return `${o.host.padEnd(widths[0] ?? 0)}  ${o.status}: ${o.error}`;
    return align([o.host, ...COLUMNS.map(([, cell]) => cell(o.value.builtin as Facts)), ...customCells(o.value)], widths);
  });
  return `${[align(header, widths), ...lines].join("\n")}\n`;
}

function align(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, i) => cell.padEnd(widths[i] ?? 0))
    .join("  ")
    .trimEnd();
}
