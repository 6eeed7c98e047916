/**
 * The pure half of hostile values (the host half: test/integration/reliability-hostile.test.ts):
 * quoting round-trips every value through this machine's real /bin/sh byte-exact, or refuses it
 * (NUL); the step schemas refuse, naming the field, exactly the values they cannot store; the
 * pure text edits keep a hostile line as one line.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { quote } from "../../../src/shell/quote.ts";
import { sh } from "../../../src/shell/sh.ts";
import { InvalidStepError } from "../../../src/playbook/step.ts";
import { configKeys, file, line, postconf } from "../../../src/steps/index.ts";
import { editLine, splitLines } from "../../../src/steps/line.ts";
import { editConfigKeys } from "../../../src/steps/config-keys.ts";
import { hostileValues } from "../../support/hostile-values.ts";

const VALUES = hostileValues("unit");

describe(`hostile values (${VALUES.length}), pure parts`, () => {
  it("quote(): /bin/sh prints every value back byte-exact (one round trip for all), NUL refused", () => {
    const ok = VALUES.filter((v) => !v.includes("\0") && v.length < 10_000);
    const script = ok.map((v) => sh`printf '%s\\0' ${v}`.text).join("\n");
    const r = spawnSync("/bin/sh", ["-c", script], { timeout: 20_000, maxBuffer: 16 * 1024 * 1024 });
    expect(r.status, r.stderr.toString()).toBe(0);
    const out = r.stdout.toString("utf8").split("\0").slice(0, -1);
    expect(out).toEqual(ok);
    for (const v of VALUES.filter((x) => x.includes("\0"))) expect(() => quote(v)).toThrow(/NUL/);
  });

  it("the long value travels too (as one word)", () => {
    const long = VALUES.find((v) => v.length > 50_000) as string;
    const r = spawnSync("/bin/sh", ["-s"], { input: sh`printf '%s' ${long} | wc -c`.text, timeout: 20_000 });
    expect(r.stdout.toString().trim()).toBe(String(long.length));
  });

  it("file: refuses NUL, '', '.', '..' and a trailing '/' in a path, naming `path`; takes any content", () => {
    for (const v of VALUES) expect(() => file({ path: "/tmp/x", content: v })).not.toThrow();
    for (const bad of ["/tmp/a\0b", "/tmp/", "/tmp/.", "/tmp/..", "/", "relative"]) {
      expect(() => file({ path: bad, content: "" }), bad).toThrow(InvalidStepError);
      expect(() => file({ path: bad, content: "" }), bad).toThrow(/^file: invalid parameters: path: must /);
    }
  });

  it("line / configKeys: a value with a line break is refused naming the field; others stay one line", () => {
    for (const v of VALUES) {
      if (v.includes("\n")) {
        expect(() => line({ path: "/tmp/x", line: v }), JSON.stringify(v)).toThrow(/^line: invalid parameters: line: /);
        expect(() => configKeys({ path: "/tmp/x", settings: { k: v } })).toThrow(/^configKeys: invalid parameters: settings\.k: /);
        continue;
      }
      const edited = editLine("a\nb\n", { line: v, state: "present" });
      expect(splitLines(edited)).toEqual(["a", "b", v]);
      expect(editLine(edited, { line: v, state: "present" })).toBe(edited);
      const kv = editConfigKeys("x = 1\n", { k: v }, { separator: " = ", comment: "#" });
      expect(splitLines(kv)).toEqual(["x = 1", `k = ${v.trim()}`]);
      expect(editConfigKeys(kv, { k: v }, { separator: " = ", comment: "#" })).toBe(kv);
    }
  });

  it("postconf: refuses NUL, a lone CR and a stray $ naming the setting; takes the rest", () => {
    for (const v of VALUES) {
      const refused =
        /\0|\r(?!\n)/.test(v) ||
        /\$(?:\((?![A-Za-z0-9_]+[):?!=])|\{(?![A-Za-z0-9_]+[}:?!=])|(?![A-Za-z0-9_({]))/.test(v.replace(/\$\$/g, ""));
      if (refused) expect(() => postconf({ settings: { smtpd_banner: v } })).toThrow(/settings\.smtpd_banner: (must not contain|has a)/);
      else expect(() => postconf({ settings: { smtpd_banner: v } }), JSON.stringify(v)).not.toThrow();
    }
    expect(() => postconf({ settings: { smtpd_banner: "$myhostname ESMTP ${mail_name} $(x) $${literal" } })).not.toThrow();
    expect(() => postconf({ settings: { smtpd_banner: "$(touch /tmp/x)" } })).toThrow(/does not start a Postfix parameter reference/);
  });
});
