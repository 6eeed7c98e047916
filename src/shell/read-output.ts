/**
 * The kit for read output: how a read's shell frames what it prints, and the small parsers every
 * step's read and the runner's scripts share.
 *
 * - **Sections**: a line `@provision:<name>` (optionally followed by a space and a value, as in
 *   `@provision:rc 3`) starts a section; `sections()` splits the output on them. Text before the
 *   first marker is the section "". No step invents its own marker style.
 * - **key=value lines**: `keyValues()` (the first `=` splits; lines without one are ignored; a later
 *   key wins).
 * - **Tools a read requires** (`RemoteRead.requiresTools`): a tool missing on the host becomes one
 *   clear error made by the runner (`missingToolMessage`), with a hint per tool: "postconf not
 *   found on vps1: is Postfix installed?". A read finds out with the shell's own exit 127 ("sh:
 *   postconf: not found"), or, for a tool that is not its first command, with `needTool()`.
 *   In `--check`, a missing tool a pending change would provide (packages installing postfix) is
 *   `unknown`, like any failed read of a step that depends on it (src/run/pending-changes.ts).
 */
import { raw, type ShellCommand, sh } from "./sh.ts";
import type { ExecResult } from "../transport/transport.ts";

export const SECTION_PREFIX = "@provision:";

/** `echo '@provision:<name>'`: the line that starts a section (a constant name: [a-z0-9_.-]). */
export function section(name: string): ShellCommand {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`section name ${JSON.stringify(name)}: letters, digits, _ . - only`);
  return sh`echo ${raw(`${SECTION_PREFIX}${name}`)}`;
}

/** The marker text of a section, as `section()` prints it. */
export function sectionLine(name: string): string {
  return `${SECTION_PREFIX}${name}`;
}

/**
 * The value of one line when it is the marker of section `name` (`@provision:digest 12 ab…` →
 * "12 ab…", `@provision:absent` → ""), else undefined: for output read line by line or as bytes
 * (a file's content), where `sections()` on the whole text does not fit.
 */
export function sectionValue(line: string, name: string): string | undefined {
  const marker = `${SECTION_PREFIX}${name}`;
  if (line === marker) return "";
  return line.startsWith(`${marker} `) ? line.slice(marker.length + 1) : undefined;
}

export interface Section {
  /** What follows the name on the marker line (`@provision:rc 3` → "3"), "" when nothing does. */
  value: string;
  body: string;
}

/**
 * Split output on the `@provision:` markers of the given sections, expected in this order; each
 * is searched for only after the one before it, so a section holding arbitrary text (a file's
 * content) is safe as the last. The text before the first marker is the section "". A section
 * whose marker is missing is absent from the map (optional, or the read was cut short: the parser
 * says which).
 */
export function sections(text: string, names: readonly string[]): Map<string, Section> {
  const found = new Map<string, Section>();
  let name = "";
  let value = "";
  let start = 0;
  for (const next of names) {
    const marker = `${SECTION_PREFIX}${next}`;
    let at = start;
    let lineEnd = -1;
    for (;;) {
      at = text.indexOf(marker, at);
      if (at < 0) break;
      lineEnd = text.indexOf("\n", at);
      const rest = text.slice(at + marker.length, lineEnd < 0 ? undefined : lineEnd);
      if ((at === 0 || text[at - 1] === "\n") && (rest === "" || rest.startsWith(" "))) break;
      at += marker.length;
    }
    if (at < 0) continue; // an optional section (printed only when there is something to say)
    found.set(name, { value, body: text.slice(start, at) });
    name = next;
    value = text.slice(at + marker.length, lineEnd < 0 ? undefined : lineEnd).slice(1);
    start = lineEnd < 0 ? text.length : lineEnd + 1;
  }
  found.set(name, { value, body: text.slice(start) });
  return found;
}

/**
 * `key=value` lines (the first `=` splits, so values may hold `=` and spaces; a line without one is
 * ignored). A key printed twice: the later wins, or the first with `{ keep: "first" }`.
 */
export function keyValues(text: string, options: { keep?: "first" | "last" } = {}): Map<string, string> {
  const values = new Map<string, string>();
  for (const [key, list] of keyValueLists(text)) values.set(key, (options.keep === "first" ? list[0] : list.at(-1)) as string);
  return values;
}

/** `key=value` lines where a key may repeat (`has=apt-get`, `has=systemctl`): every value, in order. */
export function keyValueLists(text: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at <= 0) continue;
    const key = line.slice(0, at);
    values.set(key, [...(values.get(key) ?? []), line.slice(at + 1)]);
  }
  return values;
}

/**
 * Shell that fails the read as the shell does for a missing command (exit 127, "<tool>: not found"
 * on stderr) when `tool` is not on the host: for a required tool that is not the read's first command.
 */
export function needTool(tool: string): ShellCommand {
  return sh`command -v ${tool} >/dev/null 2>&1 || { echo ${`${tool}: not found`} >&2; exit 127; }`;
}

/** What to tell the user when a tool is missing (per tool, where we know better than "install it"). */
const TOOL_HINTS: Record<string, string> = {
  postconf: "is Postfix installed?",
  postfix: "is Postfix installed?",
  sasldblistusers2: "is Cyrus SASL installed (sasl2-bin on Debian, cyrus-sasl on RHEL)?",
  saslpasswd2: "is Cyrus SASL installed (sasl2-bin on Debian, cyrus-sasl on RHEL)?",
  openssl: "is OpenSSL installed?",
  nft: "is nftables installed?",
  iptables: "is iptables installed?",
  "iptables-save": "is iptables installed?",
  ip6tables: "is iptables installed?",
  "ip6tables-save": "is iptables installed?",
  ufw: "is ufw installed?",
  "firewall-cmd": "is firewalld installed?",
  ss: "is iproute2 installed?",
  opendkim: "is OpenDKIM installed?",
  crontab: "is cron installed (cron on Debian, cronie on RHEL)?",
};

/** The required tool the shell could not find, when the read failed because of one. */
export function missingTool(result: ExecResult, tools: readonly string[]): string | undefined {
  if (result.exitCode !== 127 || tools.length === 0) return undefined;
  const stderr = result.stderr.toString("utf8");
  return tools.find((tool) =>
    new RegExp(`(^|[\\s:/])${tool.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: (?:command )?not found`, "m").test(stderr),
  );
}

/** "postconf not found on vps1: is Postfix installed?" */
export function missingToolMessage(tool: string, host: string): string {
  return `${tool} not found on ${host}: ${TOOL_HINTS[tool] ?? `install it, or remove the step that needs it`}`;
}
