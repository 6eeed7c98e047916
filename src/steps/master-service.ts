/**
 * masterService: one service entry of Postfix's master.cf (`submission/inet`, say), present with
 * exactly the given fields, command, arguments and `-o` options — or absent.
 *
 * Postfix ≥ 2.11 is read with `postconf -F` / `-P` and written with `postconf -Me` / `-MX`, so
 * Postfix's own parser and writer decide. Older Postfix (CentOS 7 ships 2.10, with no -F/-P/-Me)
 * falls back to parsing master.cf here and writing it atomically. Decisions:
 * - `-o` options are compared as a set (order-insensitive): each names a different parameter, so
 *   their order changes nothing. Options on the host that are not desired are removed: the step
 *   owns the entry, and a leftover `-o smtpd_tls_security_level=none` is exactly the drift to catch.
 * - The five flag fields compare as written ("-" is not "n": which one "-" means depends on the
 *   Postfix version, so we never guess equivalence — a one-time rewrite is the worst case).
 * - A commented-out entry (`#submission inet …`, as Debian and RHEL ship it) counts as absent. The
 *   new entry is added at the end of master.cf (where `postconf -Me` puts it; the file fallback does
 *   the same); the commented block stays as documentation.
 */
import { keyValues, section, sections } from "../shell/read-output.ts";
import { z } from "zod";
import { InvalidStepError, ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { sh } from "../shell/sh.ts";
import { writeRemoteFile } from "../transport/remote-file.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const flag = z.enum(["y", "n", "-"]);
const masterServiceParams = z.strictObject({
  service: z.string().regex(/^[^\s/#]+$/, "a service name (no spaces or slashes)"),
  type: z.enum(["inet", "unix", "unix-dgram", "fifo", "pass"]),
  private: flag.default("-"),
  unpriv: flag.default("-"),
  chroot: flag.default("-"),
  wakeup: z
    .string()
    .regex(/^(-|\d+\??)$/, "'-' or seconds, optionally with '?'")
    .default("-"),
  maxproc: z
    .string()
    .regex(/^(-|\d+)$/, "'-' or a number")
    .default("-"),
  command: z.string().regex(/^\S+$/, "the daemon name, without arguments (see args)").default("smtpd"),
  /** Arguments other than -o options (`-v`, pipe's `flags=… argv=…`). */
  args: z
    .array(
      z
        .string()
        .regex(/^[^\n{}]+$/)
        .refine((a) => a.trim() !== ""),
    )
    .default([]),
  /** `-o name=value` options; the value is literal (`$myhostname` stays as written). */
  options: z.record(z.string().regex(/^[A-Za-z0-9_]+$/, "a parameter name"), z.string().regex(/^[^\n{}]*$/)).default({}),
  state: z.enum(["present", "absent"]).default("present"),
  configDir: z.string().startsWith("/", "must be an absolute path").optional(),
  notify: z.array(z.string()).optional(),
});

export type MasterServiceParams = z.input<typeof masterServiceParams>;
type Params = z.output<typeof masterServiceParams>;

export interface MasterEntry {
  service: string;
  type: string;
  private: string;
  unpriv: string;
  chroot: string;
  wakeup: string;
  maxproc: string;
  /** The command and its non-option arguments. */
  command: string[];
  options: Map<string, string>;
}

export interface MasterServiceState {
  mailVersion: string;
  configDirectory: string;
  /** Postfix ≥ 2.11: read with -F/-P, written with -Me/-MX. */
  viaPostconf: boolean;
  /** The live entry, or null (absent or only commented out). */
  entry: MasterEntry | null;
  /** 1-based line of a commented-out `#service type …` line, for the summary. */
  commentedLine: number | null;
  /** master.cf itself (the fallback edits it). */
  masterCf: string;
}

/**
 * What diff decided: `postconf -Me` of the entry line or `postconf -MX` (Postfix ≥ 2.11), or
 * master.cf written whole with the entry edited (the fallback for older Postfix).
 */
export type MasterServicePlan =
  | { action: "postconf-set"; value: string }
  | { action: "postconf-remove" }
  | { action: "write-master-cf"; path: string; text: string };

export interface MasterServiceChange extends Change {
  plan: MasterServicePlan;
}

/** The read's sections (src/shell/read-output.ts): key=value lines, then these; master.cf last. */
const F = "master-F";
const P = "master-P";
const FILE = "master-cf";

export function masterService(input: MasterServiceParams): Step<MasterServiceState> {
  const params = parseStepParams("masterService", masterServiceParams, input);
  const key = `${params.service}/${params.type}`;
  const c = params.configDir ? sh`-c ${params.configDir} ` : sh``;
  const desired = desiredEntry(params);
  return {
    kind: "master-service",
    name: `master.cf ${key}${params.state === "absent" ? " absent" : ""}`,
    notify: params.notify,
    provides: [pathResource(`${params.configDir ?? "/etc/postfix"}/master.cf`)],
    // Not main.cf: a main.cf change does not change master.cf (only where it is, config_directory).
    requires: [pathResource(`${params.configDir ?? "/etc/postfix"}/master.cf`)],
    read: () => ({
      // -F/-P fail on Postfix < 2.11 (usage on stderr): the parser then uses master.cf instead.
      // Both parameters from one postconf (each spawn costs the host ~5 ms), split by the shell.
      command: sh`h=$(postconf ${c}mail_version config_directory) || exit $?
nl='
'
v=\${h#*mail_version = }; v=\${v%%"$nl"*}
d=\${h#*config_directory = }; d=\${d%%"$nl"*}
printf 'mail_version=%s\nconfig_directory=%s\n' "$v" "$d"
${section(F)}; postconf ${c}-F ${key} 2>/dev/null
${section(P)}; postconf ${c}-P ${key} 2>/dev/null
${section(FILE)}; cat -- "$d/master.cf"`,
      parse: (result) => parseMasterServiceState(result, params.service, params.type),
      requiresTools: ["postconf"],
    }),
    diff(current): MasterServiceChange | null {
      const label = `${current.configDirectory}/master.cf`;
      if (params.state === "absent") {
        if (!current.entry) return null;
        return { summary: `remove ${key}`, diff: { label, before: renderEntry(current.entry, true), after: "" }, plan: planFor(current) };
      }
      checkSupported(params, current);
      const parts = entryDifferences(current.entry, desired);
      if (parts.length === 0) return null;
      const commented =
        !current.entry && current.commentedLine ? ` (the commented-out entry at line ${current.commentedLine} stays a comment)` : "";
      return {
        summary: current.entry ? parts.join(", ") : `add ${key}${commented}`,
        diff: { label, before: current.entry ? renderEntry(current.entry, true) : "", after: renderEntry(desired, true) },
        plan: planFor(current),
      };
    },
    async apply({ session }, _current, change: MasterServiceChange) {
      const { plan } = change;
      if (plan.action === "write-master-cf") await writeRemoteFile(session, plan.path, plan.text);
      else await session.runOrThrow(plan.action === "postconf-remove" ? sh`postconf ${c}-MX ${key}` : sh`postconf ${c}-Me ${plan.value}`);
    },
  };

  function planFor(current: MasterServiceState): MasterServicePlan {
    const entry = params.state === "absent" ? null : desired;
    if (current.viaPostconf) return entry ? { action: "postconf-set", value: `${key}=${entryLine(entry)}` } : { action: "postconf-remove" };
    const text = editMasterCf(current.masterCf, params.service, params.type, entry);
    return { action: "write-master-cf", path: `${current.configDirectory}/master.cf`, text };
  }
}

function desiredEntry(params: Params): MasterEntry {
  return {
    service: params.service,
    type: params.type,
    private: params.private,
    unpriv: params.unpriv,
    chroot: params.chroot,
    wakeup: params.wakeup,
    maxproc: params.maxproc,
    command: [params.command, ...params.args.map((a) => a.trim())],
    options: new Map(Object.entries(params.options).map(([k, v]) => [k, v.trim()])),
  };
}

/** Values with whitespace need master.cf's `{ … }` quoting, which Postfix has had since 3.0. */
function checkSupported(params: Params, current: MasterServiceState): void {
  const spaced = [...params.args, ...Object.values(params.options)].filter((v) => /\s/.test(v.trim()));
  if (spaced.length > 0 && versionBelow(current.mailVersion, [3, 0])) {
    throw new InvalidStepError(
      `${params.service}/${params.type}: values with spaces (${spaced.join(", ")}) need Postfix ≥ 3.0; this host has ${current.mailVersion}`,
    );
  }
}

function entryDifferences(current: MasterEntry | null, desired: MasterEntry): string[] {
  if (!current) return ["add"];
  const parts: string[] = [];
  for (const field of ["private", "unpriv", "chroot", "wakeup", "maxproc"] as const) {
    if (current[field] !== desired[field]) parts.push(`${field} ${current[field]} → ${desired[field]}`);
  }
  if (current.command.join(" ") !== desired.command.join(" ")) {
    parts.push(`command '${current.command.join(" ")}' → '${desired.command.join(" ")}'`);
  }
  for (const [name, value] of desired.options) {
    const now = current.options.get(name);
    if (now === undefined) parts.push(`add -o ${name}=${value}`);
    else if (squash(now) !== squash(value)) parts.push(`-o ${name}: '${now}' → '${value}'`);
  }
  for (const name of current.options.keys()) if (!desired.options.has(name)) parts.push(`remove -o ${name}`);
  return parts;
}

export function parseMasterServiceState(result: ExecResult, service: string, type: string): MasterServiceState {
  const parts = sections(result.stdout.toString("utf8"), [F, P, FILE]);
  const fText = parts.get(F)?.body;
  const pText = parts.get(P)?.body;
  const masterCf = parts.get(FILE)?.body;
  if (result.exitCode !== 0 || fText === undefined || pText === undefined || masterCf === undefined) {
    throw new ReadFailedError(`cannot read master.cf (exit ${result.exitCode})`);
  }
  const head = keyValues(parts.get("")?.body ?? "");
  const mailVersion = head.get("mail_version") ?? "";
  const configDirectory = head.get("config_directory") ?? "/etc/postfix";
  const viaPostconf = !versionBelow(mailVersion, [2, 11]);
  const entry = viaPostconf
    ? entryFromPostconf(fText, pText, service, type)
    : (parseMasterCf(masterCf)
        .filter((e) => e.entry.service === service && e.entry.type === type)
        .at(-1)?.entry ?? null);
  return { mailVersion, configDirectory, viaPostconf, entry, commentedLine: commentedLine(masterCf, service, type), masterCf };
}

/** `postconf -F service/type` (fields, command with its args) and `-P service/type` (the -o options). */
function entryFromPostconf(fText: string, pText: string, service: string, type: string): MasterEntry | null {
  const prefix = `${service}/${type}/`;
  const pairs = (t: string) =>
    new Map(
      t.split("\n").flatMap((line) => {
        const match = /^(\S+) = ?(.*)$/.exec(line);
        return match?.[1]?.startsWith(prefix) ? [[match[1].slice(prefix.length), match[2] ?? ""] as const] : [];
      }),
    );
  const fields = pairs(fText);
  const command = fields.get("command");
  if (command === undefined) return null;
  return {
    service,
    type,
    private: fields.get("private") ?? "-",
    unpriv: fields.get("unprivileged") ?? "-",
    chroot: fields.get("chroot") ?? "-",
    wakeup: fields.get("wakeup") ?? "-",
    maxproc: fields.get("process_limit") ?? "-",
    command: splitCommand(tokens(command)).command,
    options: new Map([...pairs(pText)].map(([k, v]) => [k, v.trim()])),
  };
}

/** master.cf words; a `{ … }` group (Postfix ≥ 3.0) is one word, braces removed. */
function tokens(text: string): string[] {
  const words: string[] = [];
  for (const match of text.matchAll(/\{([^}]*)\}|(\S+)/g)) words.push(match[1] !== undefined ? match[1].trim() : (match[2] as string));
  return words;
}

function splitCommand(words: string[]): { command: string[]; options: Map<string, string> } {
  const command: string[] = [];
  const options = new Map<string, string>();
  for (let i = 0; i < words.length; i += 1) {
    const word = words[i] as string;
    const option = word === "-o" ? words[++i] : word.startsWith("-o") && word.includes("=") ? word.slice(2) : undefined;
    if (option === undefined) {
      command.push(word);
      continue;
    }
    const eq = option.indexOf("=");
    if (eq > 0) options.set(option.slice(0, eq).trim(), option.slice(eq + 1).trim());
  }
  return { command, options };
}

/** Live entries of a master.cf with their line ranges (0-based, end exclusive), as master(5) defines them. */
export function parseMasterCf(text: string): { entry: MasterEntry; start: number; end: number }[] {
  const lines = text.split("\n");
  const entries: { entry: MasterEntry; start: number; end: number }[] = [];
  let open: { words: string[]; start: number; end: number } | null = null;
  const close = () => {
    if (!open) return;
    const [service, type, priv, unpriv, chroot, wakeup, maxproc, ...rest] = open.words;
    if (service && type && maxproc !== undefined && rest.length > 0) {
      const { command, options } = splitCommand(rest);
      entries.push({
        entry: {
          service,
          type,
          private: priv ?? "-",
          unpriv: unpriv ?? "-",
          chroot: chroot ?? "-",
          wakeup: wakeup ?? "-",
          maxproc,
          command,
          options,
        },
        start: open.start,
        end: open.end,
      });
    }
    open = null;
  };
  lines.forEach((line, index) => {
    if (/^\s*(#|$)/.test(line)) return; // comments and blank lines are ignored, even inside an entry
    if (/^\s/.test(line)) {
      if (open) [open.words, open.end] = [[...open.words, ...tokens(line)], index + 1];
      return;
    }
    close();
    open = { words: tokens(line), start: index, end: index + 1 };
  });
  close();
  return entries;
}

function commentedLine(text: string, service: string, type: string): number | null {
  const pattern = new RegExp(`^#\\s*${escapeRegExp(service)}\\s+${escapeRegExp(type)}\\s`);
  const index = text.split("\n").findIndex((line) => pattern.test(line));
  return index < 0 ? null : index + 1;
}

/**
 * The fallback edit: the last live entry for service/type (the one Postfix uses) is replaced in
 * place and earlier duplicates removed; a missing entry is appended. null removes them all.
 */
export function editMasterCf(text: string, service: string, type: string, entry: MasterEntry | null): string {
  const matches = parseMasterCf(text).filter((e) => e.entry.service === service && e.entry.type === type);
  const lines = text.split("\n");
  const last = matches.at(-1);
  const replacement = entry ? renderEntry(entry, false).replace(/\n$/, "").split("\n") : [];
  if (!last) {
    if (!entry) return text;
    const body = text === "" || text.endsWith("\n") ? text : `${text}\n`;
    return `${body}${replacement.join("\n")}\n`;
  }
  for (const match of [...matches].reverse()) {
    lines.splice(match.start, match.end - match.start, ...(match === last ? replacement : []));
  }
  return lines.join("\n");
}

/** The entry as one `postconf -Me` value. */
function entryLine(entry: MasterEntry): string {
  return renderEntry(entry, false).replace(/\n\s+/g, " ").trim();
}

/** The entry as master.cf text, `-o` options on continuation lines (sorted when only shown in a diff). */
function renderEntry(entry: MasterEntry, sortOptions: boolean): string {
  const word = (w: string) => (/\s/.test(w) ? `{ ${w} }` : w);
  const head = [
    entry.service,
    entry.type,
    entry.private,
    entry.unpriv,
    entry.chroot,
    entry.wakeup,
    entry.maxproc,
    ...entry.command.map(word),
  ];
  const options = [...entry.options].sort(sortOptions ? ([a], [b]) => a.localeCompare(b) : () => 0);
  return [head.join(" "), ...options.map(([k, v]) => `  -o ${/\s/.test(v) ? `{ ${k}=${v} }` : `${k}=${v}`}`)].join("\n") + "\n";
}

function versionBelow(version: string, [major, minor]: [number, number]): boolean {
  const [a = 0, b = 0] = version.split(".").map((n) => Number.parseInt(n, 10) || 0);
  return a < major || (a === major && b < minor);
}

function squash(value: string): string {
  return value.trim().replace(/\s+/g, " ");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
