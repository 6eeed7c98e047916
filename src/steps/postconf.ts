/**
 * postconf: parameters of Postfix's main.cf, read and written through `postconf` itself (never by
 * parsing main.cf: Postfix's own parser decides what is set, including continuation lines).
 *
 * - One read: `postconf -n` (what is explicitly set), the host's known parameter names
 *   (`postconf -d`, names only) and the `$references` in master.cf -o values (`postconf -P`).
 * - A name the host does not know is an InvalidStepError (so the runner fails the host before
 *   anything is changed), with a did-you-mean from the host's own list.
 * - Values are compared as Postfix reads them: see `sameValue`.
 * - `null` means "not set in main.cf" (Postfix's default applies): a parameter set there is
 *   removed with `postconf -X` (Postfix ≥ 2.10) — Ansible's lineinfile `state: absent`, exact.
 * - Apply: one `postconf -e name=value …` for every changed parameter, one `postconf -X name …`
 *   for every one to remove, in one command.
 */
import { section, sections } from "../shell/read-output.ts";
import { z } from "zod";
import { InvalidStepError, ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";
import { suggest } from "./suggest.ts";
import { pathResource } from "../playbook/resources.ts";

export { damerauLevenshtein, suggest } from "./suggest.ts";

const postconfParams = z.strictObject({
  settings: z
    // Line breaks are joined as main.cf continuation lines are; a NUL cannot be in a command word,
    // and a lone CR would land in main.cf as a byte Postfix reads differently: refuse those.
    .record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/, "not a Postfix parameter name"),
      z
        .string()
        .refine((v) => !/\0|\r(?!\n)/.test(v), "must not contain a NUL byte or a lone CR")
        // `$name`, `$(…)`, `${…}` are parameter references; any other `$` (`$?`, `$(touch …`, a final
        // `$`) makes `postconf -n` fail for the whole config. A literal dollar sign is written `$$`.
        .refine(
          (v) => !/\$(?:\((?![A-Za-z0-9_]+[):?!=])|\{(?![A-Za-z0-9_]+[}:?!=])|(?![A-Za-z0-9_({]))/.test(v.replace(/\$\$/g, "")),
          "has a '$' that does not start a Postfix parameter reference (write $$ for a literal $)",
        )
        // null: not set in main.cf (the default applies); removed if it is.
        .nullable(),
    )
    .refine((s) => Object.keys(s).length > 0, "at least one setting"),
  /** Postfix config directory (`postconf -c`), for a second instance. */
  configDir: z.string().startsWith("/", "must be an absolute path").optional(),
  notify: z.array(z.string()).optional(),
});

export type PostconfParams = z.input<typeof postconfParams>;

/** What diff decided: the parameters to set (`postconf -e`) and to remove (`postconf -X`). */
export interface PostconfPlan {
  toSet: [string, string][];
  toRemove: string[];
}

export interface PostconfChange extends Change {
  plan: PostconfPlan;
}

export interface PostconfState {
  /** `postconf -n`: explicitly set parameters, values as postconf prints them. */
  set: Map<string, string>;
  /** `postconf -d` names: every parameter this host's Postfix knows (built-in and per-service). */
  known: Set<string>;
  /** Names referenced as `$name` by main.cf or master.cf values: user-defined parameters in use. */
  referenced: Set<string>;
}

/** The read's sections (src/shell/read-output.ts): `postconf -n`, then these. */
const KNOWN = "postconf-known";
const REFS = "postconf-refs";

export function postconf(input: PostconfParams): Step<PostconfState> {
  const params = parseStepParams("postconf", postconfParams, input);
  const c = params.configDir ? sh`-c ${params.configDir} ` : sh``;
  const label = params.configDir ? `${params.configDir}/main.cf` : "main.cf";
  return {
    kind: "postconf",
    name: `postconf ${stepTitle(Object.keys(params.settings))}`,
    notify: params.notify,
    provides: [pathResource(`${params.configDir ?? "/etc/postfix"}/main.cf`)],
    // The read also sees master.cf (its $references).
    requires: [
      pathResource(`${params.configDir ?? "/etc/postfix"}/main.cf`),
      pathResource(`${params.configDir ?? "/etc/postfix"}/master.cf`),
    ],
    read: () => ({
      // One fragment so the runner batches it. -P (Postfix ≥ 2.11) may be missing: its failure is ignored.
      command: sh`postconf ${c}-n || exit $?
${section(KNOWN)}
postconf ${c}-d | sed 's/ =.*//' || exit $?
${section(REFS)}
postconf ${c}-P 2>/dev/null | grep '[$]' || :`,
      parse: parsePostconfState,
      requiresTools: ["postconf"],
    }),
    diff(current): PostconfChange | null {
      checkNames(Object.keys(params.settings), current, params.settings);
      const { toSet, toRemove } = pendingEdits(params.settings, current);
      if (toSet.length === 0 && toRemove.length === 0) return null;
      const was = (name: string) => (current.set.has(name) ? `'${current.set.get(name)}'` : "(default)");
      // As postconf -n prints it (an empty value has no trailing space).
      const line = (name: string, value: string | undefined) =>
        value === undefined ? [] : [value === "" ? `${name} =` : `${name} = ${value}`];
      return {
        summary: [
          ...toSet.map(([name, value]) => `set ${name}: ${was(name)} → '${joinLines(value)}'`),
          ...toRemove.map((name) => `unset ${name}: ${was(name)} → (default)`),
        ].join("; "),
        diff: {
          label,
          // One "name = value\n" per line; nothing (not a blank line) when there is none.
          before: [...toSet.map(([name]) => name), ...toRemove]
            .flatMap((name) => line(name, current.set.get(name)))
            .map((l) => `${l}\n`)
            .join(""),
          after: toSet.map(([name, value]) => `${name} = ${joinLines(value)}\n`).join(""),
        },
        plan: { toSet, toRemove },
      };
    },
    async apply({ session }, _current, change: PostconfChange) {
      const { toSet, toRemove } = change.plan;
      const commands = [
        ...(toSet.length > 0 ? [postconfEditCommand(toSet, c)] : []),
        ...(toRemove.length > 0 ? [sh`postconf ${c}-X ${toRemove}`] : []),
      ];
      if (commands.length > 0) await session.runOrThrow(joinCommands(commands, " && "));
    },
  };
}

/** What differs: parameters to set (absent or another value) and set ones to remove (desired null). */
function pendingEdits(settings: Record<string, string | null>, current: PostconfState): PostconfPlan {
  const toSet: [string, string][] = [];
  const toRemove: string[] = [];
  for (const [name, value] of Object.entries(settings)) {
    const now = current.set.get(name);
    if (value === null) {
      if (now !== undefined) toRemove.push(name);
    } else if (now === undefined || !sameValue(name, now, value)) {
      toSet.push([name, value]);
    }
  }
  return { toSet, toRemove };
}

function stepTitle(names: string[]): string {
  return names.length <= 3 ? names.join(", ") : `${names.slice(0, 3).join(", ")} (+${names.length - 3})`;
}

/** `postconf -e` refuses multi-line input: a value written over several lines is sent as one. */
function postconfEditCommand(changed: [string, string][], c: ShellCommand): ShellCommand {
  return sh`postconf ${c}-e ${changed.map(([name, value]) => `${name}=${joinLines(value)}`)}`;
}

export function parsePostconfState(result: ExecResult): PostconfState {
  const parts = sections(result.stdout.toString("utf8"), [KNOWN, REFS]);
  const knownText = parts.get(KNOWN)?.body;
  if (result.exitCode !== 0 || knownText === undefined) throw new ReadFailedError(`postconf failed (exit ${result.exitCode})`);
  const setText = parts.get("")?.body ?? "";
  const refsText = parts.get(REFS)?.body ?? "";
  const set = new Map<string, string>();
  for (const line of setText.split("\n")) {
    const match = /^(\S+) =(?: (.*))?$/.exec(line);
    if (match?.[1]) set.set(match[1], match[2] ?? "");
  }
  const known = new Set(
    knownText
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean),
  );
  if (known.size === 0) throw new ReadFailedError("postconf -d listed no parameters");
  const referenced = new Set<string>();
  for (const value of [...set.values(), refsText]) for (const name of references(value)) referenced.add(name);
  return { set, known, referenced };
}

/**
 * Per-transport parameters (`<transport>_destination_recipient_limit`, …; see "transport_" in
 * postconf(5)). `postconf -d` lists them only for services already in master.cf, so a service the
 * same playbook adds (a masterService step that runs later) would otherwise be refused.
 */
const PER_TRANSPORT_SUFFIXES = [
  "delivery_slot_cost",
  "delivery_slot_discount",
  "delivery_slot_loan",
  "destination_concurrency_failed_cohort_limit",
  "destination_concurrency_limit",
  "destination_concurrency_negative_feedback",
  "destination_concurrency_positive_feedback",
  "destination_rate_delay",
  "destination_recipient_limit",
  "extra_recipient_limit",
  "initial_destination_concurrency",
  "minimum_delivery_slots",
  "recipient_limit",
  "recipient_refill_delay",
  "recipient_refill_limit",
  "time_limit",
  "transport_rate_delay",
];
const PER_TRANSPORT = new RegExp(`^[^_]\\S*_(?:${PER_TRANSPORT_SUFFIXES.join("|")})$`);

/**
 * A name is accepted when this host's Postfix knows it (`postconf -d`), when main.cf already sets
 * it (`postconf -n`: the admin's own parameters), when it is referenced as `$name` (a user-defined
 * parameter in use, e.g. `mua_client_restrictions` for a master.cf -o — Postfix's own rule for
 * "used"), or when it has a per-transport form. Anything else is most likely a typo that Postfix
 * would silently ignore (it only logs "unused parameter"): refuse it, before anything changes.
 */
function checkNames(names: string[], current: PostconfState, settings: Record<string, string | null>): void {
  const desiredRefs = new Set(Object.values(settings).flatMap((value) => (value === null ? [] : references(value))));
  const unknown = names.filter(
    (n) => !current.known.has(n) && !current.set.has(n) && !current.referenced.has(n) && !desiredRefs.has(n) && !PER_TRANSPORT.test(n),
  );
  if (unknown.length === 0) return;
  throw new InvalidStepError(
    unknown
      .map((name) => {
        const guess = suggest(name, current.known);
        return `unknown Postfix parameter ${name}${guess ? ` — did you mean ${guess}?` : " (not in this host's `postconf -d`)"}`;
      })
      .join("; "),
  );
}

/** `$name`, `${name}`, `$(name)` and `${name?value}`-style references. */
function references(value: string): string[] {
  return [...value.matchAll(/\$(?:\{|\()?([A-Za-z0-9_]+)/g)].map((m) => m[1] as string);
}

/**
 * Parameters whose value is free text, where commas and word boundaries are part of the value
 * (a banner, a shell command, a reject message, a character set). All others are compared as
 * Postfix parses lists: commas, spaces and line breaks are the same separator
 * ("permit_mynetworks, permit_sasl_authenticated,reject_unauth_destination" equals the same names
 * one per line). Neither expands `$variables`: `$myhostname` is compared as written.
 */
const TEXT_PARAMETER = /(?:_banner|_footer|_command|_path|_message|_reply|_expansion_filter|_delimiter|^mail_name)$/;

export function sameValue(name: string, current: string, desired: string): boolean {
  // postconf -n prints every run of whitespace (line breaks of continued lines too) as one space.
  if (TEXT_PARAMETER.test(name)) return oneLine(current) === oneLine(desired);
  return listTokens(current).join("\n") === listTokens(desired).join("\n");
}

/** Split a list on commas and whitespace, keeping `{ … }` groups (Postfix ≥ 3.0) as one token. */
export function listTokens(value: string): string[] {
  const tokens: string[] = [];
  let current = "";
  let depth = 0;
  for (const ch of value) {
    if (ch === "{") depth += 1;
    if (ch === "}") depth = Math.max(0, depth - 1);
    if (depth === 0 && /[\s,]/.test(ch)) {
      if (current) tokens.push(current);
      current = "";
      continue;
    }
    current += ch;
  }
  if (current) tokens.push(current);
  return tokens.map((t) => (t.startsWith("{") ? `{ ${oneLine(t.slice(1, -1))} }` : t));
}

function oneLine(value: string): string {
  return value.trim().replace(/\s+/g, " ");
}

/** A main.cf value continued over several lines is one line to Postfix. */
function joinLines(value: string): string {
  return value.trim().replace(/\s*\n\s*/g, " ");
}
