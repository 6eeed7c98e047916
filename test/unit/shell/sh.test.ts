import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { quote } from "../../../src/shell/quote.ts";
import { raw, secretStdin, sh } from "../../../src/shell/sh.ts";
import { secret } from "../../../src/shell/secret.ts";

/** Run a command with dash (Debian's /bin/sh) and return what `printf '%s\n' "$@"`-style echo sees. */
function dashWords(command: string): string[] {
  const out = execFileSync("/bin/sh", ["-c", `set -- ${command}; for w in "$@"; do printf '%s\\0' "$w"; done`]);
  return out.toString("utf8").split("\0").slice(0, -1);
}

const HOSTILE = [
  "plain",
  "with space",
  "it's",
  `"double"`,
  "$(touch /tmp/pwned)",
  "`id`",
  "a;b",
  "a && b",
  "line\nbreak",
  "-rf",
  "*",
  "~root",
  "$HOME",
  "back\\slash",
  "ünïcödé ✓",
  "",
  "'",
  "''",
  "a'b'c",
];

describe("quote / sh", () => {
  it.each(HOSTILE)("passes %j through /bin/sh as exactly one word", (value) => {
    expect(dashWords(quote(value))).toEqual([value]);
  });

  it("quotes every interpolation and splices arrays as several words", () => {
    const command = sh`postconf -e ${["a=1 2", "b=$x"]} ${"c;d"}`;
    expect(command.text).toBe(`postconf -e 'a=1 2' 'b=$x' 'c;d'`);
    expect(dashWords(sh`${["a=1 2", "b=$x"]} ${"c;d"}`.text)).toEqual(["a=1 2", "b=$x", "c;d"]);
  });

  it("refuses NUL, which no argv can carry", () => {
    expect(() => quote("a\0b")).toThrow(/NUL/);
  });

  it("splices raw fragments and nested commands as they are", () => {
    expect(sh`a ${raw("| b")} ${sh`c ${"d e"}`}`.text).toBe(`a | b c 'd e'`);
  });

  it("never lets a secret become an argument", () => {
    const password = secret("hunter2-argv");
    expect(() => sh`saslpasswd2 ${password as never}`).toThrow(/secret cannot be a command argument/);
  });

  it("pipes a secret with builtin printf and masks it in the display form", () => {
    const password = secret("hunter2-pipe");
    const command = sh`${secretStdin(password)} saslpasswd2 -p -c ${"bob"}`;
    expect(command.hasSecret).toBe(true);
    expect(command.text).toBe(`printf '%s' hunter2-pipe | saslpasswd2 -p -c bob`);
    expect(command.display).toBe(`printf '%s' *** | saslpasswd2 -p -c bob`);
    expect(String(command)).not.toContain("hunter2");
    expect(JSON.stringify({ command })).not.toContain("hunter2");
  });
});
