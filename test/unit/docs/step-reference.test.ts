/**
 * The README's step reference cannot rot: every value src/steps/index.ts exports has a line
 * there, linking to the file index.ts exports it from, and every line names a real export.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as steps from "../../../src/steps/index.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const readme = readFileSync(`${root}README.md`, "utf8");
const index = readFileSync(`${root}src/steps/index.ts`, "utf8");

/** name → the file index.ts exports it from (`export { a, b as c, type T } from "./x.ts"`). */
function sourcesOf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/export\s*\{([^}]*)\}\s*from\s*"\.\/([^"]+)"/g)) {
    for (const part of (m[1] ?? "").split(",")) {
      const item = part.trim();
      if (item === "" || item.startsWith("type ")) continue;
      const name = item.split(/\s+as\s+/).pop() ?? item;
      out.set(name, `src/steps/${m[2]}`);
    }
  }
  return out;
}

function referenceSection(text: string): string {
  const start = text.indexOf("\n## Step reference\n");
  if (start < 0) return "";
  const next = text.indexOf("\n## ", start + 1);
  return text.slice(start, next < 0 ? undefined : next);
}

/** `[`name`](path)` at the start of a table row or list item. */
function entries(section: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of section.matchAll(/^(?:\|\s*|-\s+)\[`([A-Za-z0-9_]+)`\]\(([^)]+)\)/gm)) out.set(m[1] as string, m[2] as string);
  return out;
}

describe("README step reference", () => {
  const section = referenceSection(readme);
  const listed = entries(section);
  const sources = sourcesOf(index);

  it("exists", () => {
    expect(section).not.toBe("");
  });

  it("the parse of index.ts finds every runtime export (so a new export style cannot slip past)", () => {
    expect([...sources.keys()].sort()).toEqual(Object.keys(steps).sort());
  });

  it.each(Object.keys(steps).sort())("lists %s, linking to its source file", (name) => {
    expect(listed.has(name), `README "## Step reference" has no line for ${name}`).toBe(true);
    expect(listed.get(name)).toBe(sources.get(name));
    expect(existsSync(`${root}${listed.get(name)}`)).toBe(true);
  });

  it("lists nothing that is not exported", () => {
    expect([...listed.keys()].filter((name) => !(name in steps))).toEqual([]);
  });

  it("the checks can fail: a reference without one step is caught", () => {
    const without = entries(section.replace(/^\| \[`debconf`\].*$/m, ""));
    expect(without.has("debconf")).toBe(false);
    expect(Object.keys(steps).filter((n) => !without.has(n))).toEqual(["debconf"]);
  });
});
