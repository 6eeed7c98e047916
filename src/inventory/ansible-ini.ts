/**
 * Ansible's INI inventory, read as it is:
 *
 * ```ini
 * mail.example.com                      # before any section: group "ungrouped"
 * [web]
 * web[01:10].example.com ansible_user=deploy
 * web11.example.com:2222 motd="hello world" weight=3
 * [web:vars]
 * http_port=80
 * [prod:children]
 * web
 * ```
 *
 * Comments start with `#` or `;` at the start of a line, or with ` #` after a value (Ansible keeps
 * that text in a [group:vars] value; here it is a comment). Values:
 * quoted (`"…"` / `'…'`) are strings; unquoted ones are numbers when they look like one (no
 * leading zero, so a mode like 0644 stays a string), booleans for true/false/True/False,
 * JSON for `[…]`/`{…}` that parse, else strings. Ansible's literal_eval is close to this, but
 * turns `x="1"` on a host line into the number 1; here quotes always mean a string.
 * Every error names the file and line.
 */
import { expandHostRange } from "./host-range.ts";
import { splitHostPort } from "./host-port.ts";
import { InventoryError, located } from "./inventory.ts";
import type { InventoryBuilder } from "./inventory-builder.ts";
import { isUnsafeVarKey } from "../playbook/vars.ts";

type SectionKind = "hosts" | "children" | "vars";

const SECTION = /^\[([^\s:\]]+)(?::([^\]]*))?\]\s*(?:[#;].*)?$/;
const GROUP_NAME = /^[^\s:[\]=#;]+$/;

// Long: a line-by-line INI parser; the section state (group, kind, groups defined) is shared by every line.
export function addAnsibleIni(builder: InventoryBuilder, file: string, text: string): void {
  let group = "ungrouped";
  let kind: SectionKind = "hosts";
  /** `[x:vars]` for a group no section defines is an error, reported at its header. */
  const varsSections: { group: string; line: number }[] = [];
  // Groups from earlier files of an inventory directory count as defined.
  const defined = new Set<string>(["all", "ungrouped", ...builder.groupNames]);
  // A declaration (not an arrow) so that TypeScript narrows after a call to it.
  function fail(line: number, message: string): never {
    throw new InventoryError(located(file, line, message));
  }

  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;

    if (line.startsWith("[")) {
      const match = SECTION.exec(line);
      if (!match) fail(lineNo, `invalid section header ${JSON.stringify(line)} (expected [group], [group:children] or [group:vars])`);
      const [, name = "", suffix] = match;
      if (suffix !== undefined && suffix !== "children" && suffix !== "vars") {
        fail(lineNo, `unknown section type ":${suffix}" in ${line} (expected :children or :vars)`);
      }
      group = name;
      kind = suffix === undefined ? "hosts" : suffix;
      if (kind === "vars") varsSections.push({ group, line: lineNo });
      else {
        defined.add(group);
        builder.group(group);
      }
      continue;
    }

    if (kind === "children") {
      const child = stripComment(line).trim();
      if (!GROUP_NAME.test(child)) fail(lineNo, `invalid group name ${JSON.stringify(child)} in [${group}:children]`);
      try {
        builder.child(group, child);
      } catch (error) {
        fail(lineNo, (error as Error).message.replace(/^.*?: /, ""));
      }
      defined.add(child);
      continue;
    }

    if (kind === "vars") {
      const assignment = parseAssignment(stripComment(line));
      if (!assignment) fail(lineNo, `expected key=value in [${group}:vars], got ${JSON.stringify(line)}`);
      builder.groupVars(group, { [assignment.key]: assignment.value }, located(file, lineNo, "").replace(/: $/, ""));
      continue;
    }

    // A host line: PATTERN[:PORT] key=value …
    let tokens: Token[];
    try {
      tokens = tokenize(line);
    } catch (error) {
      fail(lineNo, (error as Error).message);
    }
    const [first, ...rest] = tokens;
    if (!first) continue;
    const vars: Record<string, unknown> = {};
    for (const token of rest) {
      const eq = token.text.indexOf("=");
      if (eq <= 0) fail(lineNo, `expected key=value after the host name, got ${JSON.stringify(token.raw)}`);
      const rawEq = token.raw.indexOf("=");
      const rawValue = token.raw.slice(rawEq + 1);
      const value = token.text.slice(eq + 1);
      const key = token.text.slice(0, eq);
      // `vars["__proto__"] = "x"` would be silently ignored (or set the prototype): say so instead.
      if (isUnsafeVarKey(key)) fail(lineNo, `the key ${JSON.stringify(key)} is not allowed in vars`);
      vars[key] = /^["']/.test(rawValue) ? value : scalar(value);
    }
    let names: string[];
    try {
      const { host, port } = splitHostPort(first.text);
      if (port !== undefined) vars.ansible_port ??= port;
      names = expandHostRange(host);
    } catch (error) {
      fail(lineNo, (error as Error).message);
    }
    for (const name of names) builder.host(name, group, vars, located(file, lineNo, "").replace(/: $/, ""));
  }

  for (const { group: name, line } of varsSections) {
    if (!defined.has(name)) fail(line, `[${name}:vars] is for a group that no section defines`);
  }
}

interface Token {
  /** With quotes removed and escapes applied. */
  text: string;
  /** As written. */
  raw: string;
}

/** Split a host line into words, shell-like: quotes group, backslash escapes, ` #` starts a comment. */
function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i] as string)) i += 1;
    if (i >= line.length || line[i] === "#") break;
    const start = i;
    let text = "";
    while (i < line.length && !/\s/.test(line[i] as string)) {
      const c = line[i] as string;
      if (c === '"' || c === "'") {
        const close = findClose(line, i + 1, c);
        if (close < 0) throw new Error(`unterminated ${c} quote`);
        const inner = line.slice(i + 1, close);
        text += c === '"' ? inner.replace(/\\(["\\$`])/g, "$1") : inner;
        i = close + 1;
      } else if (c === "\\" && i + 1 < line.length) {
        text += line[i + 1];
        i += 2;
      } else {
        text += c;
        i += 1;
      }
    }
    tokens.push({ text, raw: line.slice(start, i) });
  }
  return tokens;
}

function findClose(line: string, from: number, quote: string): number {
  for (let i = from; i < line.length; i += 1) {
    if (line[i] === "\\" && quote === '"') i += 1;
    else if (line[i] === quote) return i;
  }
  return -1;
}

/** `key = value` in a :vars section; the value is the rest of the line, unquoted if quoted. */
function parseAssignment(line: string): { key: string; value: unknown } | undefined {
  const eq = line.indexOf("=");
  if (eq <= 0) return undefined;
  const key = line.slice(0, eq).trim();
  if (!/^[A-Za-z_][\w.-]*$/.test(key)) return undefined;
  const text = line.slice(eq + 1).trim();
  const quoted = /^(["'])(.*)\1$/s.exec(text);
  if (quoted) return { key, value: quoted[1] === '"' ? (quoted[2] as string).replace(/\\(["\\])/g, "$1") : quoted[2] };
  return { key, value: scalar(text) };
}

/** Drop a trailing ` #comment` that is outside quotes. */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quote) {
      if (c === "\\" && quote === '"') i += 1;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1] as string))) return line.slice(0, i).trimEnd();
  }
  return line;
}

/** An unquoted INI value: number, boolean, JSON list/object, or the string itself. */
export function scalar(text: string): unknown {
  if (/^-?(0|[1-9]\d*)$/.test(text)) return Number(text);
  if (/^-?(0|[1-9]\d*)\.\d+$/.test(text)) return Number(text);
  if (text === "true" || text === "True") return true;
  if (text === "false" || text === "False") return false;
  if (/^[[{]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}
