/**
 * Reading an ssh config file as OpenSSH does before the `ssh-config` package parses it: `Include`
 * directives are expanded in place (recursively, at most 16 deep, as OpenSSH), with:
 *
 * - a relative path taken from ~/.ssh (OpenSSH's rule for the user's config), `~` expanded;
 * - wildcards `*`, `?` and `[…]` in the last path component, files matched in name order;
 *   a pattern that matches nothing is not an error (OpenSSH likewise);
 * - after an included file, the block that held the `Include` line is opened again (its `Host` or
 *   `Match` line is repeated; `Host *` at the top level), so the included file's own `Host` lines
 *   do not swallow the lines after the `Include` — OpenSSH restores the active block the same way.
 *
 * Each line of the result keeps where it came from (`file:line`), for warnings.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const MAX_INCLUDE_DEPTH = 16;

export interface ExpandedConfig {
  text: string;
  /** `file:line` of each line of `text`, "" for the lines added to reopen a block. */
  origins: string[];
  /** Includes of a file that does not exist (OpenSSH skips them silently; we say so). */
  warnings: string[];
}

/** Expand Includes of the config file `file` (already read as `text`). */
export function expandIncludes(text: string, file: string, homeDir: string, depth = 0): ExpandedConfig {
  const lines: string[] = [];
  const origins: string[] = [];
  const warnings: string[] = [];
  let block = "Host *";
  text.split(/\r?\n/).forEach((line, index) => {
    const directive = /^\s*([A-Za-z]+)(?:\s*=\s*|\s+)(.*?)\s*$/.exec(line);
    const name = directive?.[1]?.toLowerCase();
    if (name === "host" || name === "match") block = line.trim();
    if (name !== "include") {
      lines.push(line);
      origins.push(`${file}:${index + 1}`);
      return;
    }
    if (depth >= MAX_INCLUDE_DEPTH) throw new Error(`${file}:${index + 1}: Include nested more than ${MAX_INCLUDE_DEPTH} deep (a loop?)`);
    for (const pattern of splitPatterns(directive?.[2] ?? "")) {
      for (const included of matchFiles(pattern, homeDir)) {
        let body: string;
        try {
          body = readFileSync(included, "utf8");
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOENT") {
            warnings.push(`${file}:${index + 1}: Include ${included}: no such file (skipped, as OpenSSH does)`);
            continue;
          }
          throw new Error(`${file}:${index + 1}: cannot read included ssh config ${included}: ${(error as Error).message}`, {
            cause: error,
          });
        }
        const inner = expandIncludes(body, included, homeDir, depth + 1);
        lines.push(...inner.text.split("\n"));
        origins.push(...inner.origins);
        warnings.push(...inner.warnings);
        lines.push(block);
        origins.push("");
      }
    }
  });
  return { text: lines.join("\n"), origins, warnings };
}

function splitPatterns(value: string): string[] {
  return (value.match(/"[^"]*"|\S+/g) ?? []).map((word) => word.replace(/^"(.*)"$/, "$1"));
}

function matchFiles(pattern: string, homeDir: string): string[] {
  const expanded = pattern === "~" ? homeDir : pattern.startsWith("~/") ? path.join(homeDir, pattern.slice(2)) : pattern;
  const absolute = path.isAbsolute(expanded) ? expanded : path.join(homeDir, ".ssh", expanded);
  const dir = path.dirname(absolute);
  const base = path.basename(absolute);
  if (/[*?[]/.test(dir)) throw new Error(`Include ${pattern}: wildcards are supported in the file name only, not in directories`);
  if (!/[*?[]/.test(base)) return [absolute];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const regex = new RegExp(
    `^${base
      .replace(/[.+^${}()|\\]/g, "\\$&")
      .replace(/\*/g, "[^/]*")
      .replace(/\?/g, "[^/]")}$`,
  );
  return names
    .filter((name) => regex.test(name) && !(name.startsWith(".") && !base.startsWith(".")))
    .sort()
    .map((name) => path.join(dir, name));
}
