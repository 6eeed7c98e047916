/** `provision run` flags that used to be accepted and then misbehave (issue 11). */
import { describe, expect, it } from "vitest";
import { parseRunArgs, UsageError } from "../../../src/cli/args.ts";
import { maxTimeoutSeconds } from "../../../src/cli/options.ts";

const run = (...flags: string[]) => parseRunArgs(["site.ts", ...flags]);

describe("--timeout", () => {
  it("is bounded by what a Node timer can hold (2^31-1 ms), and a larger value is refused clearly", () => {
    expect(maxTimeoutSeconds()).toBe(2147483);
    expect(run("--host", "a", "--timeout", "2147483").commandTimeoutMs).toBe(2147483000);
    // Node clamps a longer timer to 1 ms: every command would time out at once.
    expect(() => run("--host", "a", "--timeout", "2147484")).toThrow(UsageError);
    expect(() => run("--host", "a", "--timeout", "2147484")).toThrow("--timeout 2147484 is too large: at most 2147483");
    expect(() => run("--host", "a", "--timeout", "1e9")).toThrow(/--timeout expects a positive whole number/);
  });
});

describe("host selection", () => {
  it("refuses an empty --host (ssh2 would connect to 127.0.0.1), and empty --group, -i or --limit", () => {
    expect(() => run("--host=")).toThrow("--host needs a value, got an empty one");
    expect(() => run("--host", " ")).toThrow("--host needs a value");
    expect(() => run("--host", "a", "--host", "")).toThrow("--host needs a value");
    expect(() => run("-i", "", "--group", "all")).toThrow("--inventory needs a value");
    expect(() => run("-i", "inv", "--group=")).toThrow("--group needs a value");
    expect(() => run("-i", "inv", "--limit=")).toThrow("--limit needs a value");
  });

  it("keeps every -i, in order (they are merged, as Ansible does)", () => {
    expect(run("-i", "a.ini", "-i", "b.yml", "--group", "all").inventories).toEqual(["a.ini", "b.yml"]);
    expect(run("--inventory", "a.ini", "--group", "all").inventories).toEqual(["a.ini"]);
  });
});

describe("rollout flags", () => {
  it("refuses --fail-fast with --max-fail (two answers to when to stop)", () => {
    expect(() => run("--host", "a", "--fail-fast", "--max-fail", "5")).toThrow(/--fail-fast and --max-fail both say when to stop/);
    expect(run("--host", "a", "--fail-fast").failFast).toBe(true);
    expect(run("--host", "a", "--max-fail", "5").maxFail).toEqual({ count: 5 });
  });

  it("takes --allow-empty", () => {
    expect(run("--host", "a").allowEmpty).toBe(false);
    expect(run("--host", "a", "--allow-empty").allowEmpty).toBe(true);
  });
});

describe("mistyped flags", () => {
  it("suggest the closest one", () => {
    expect(() => run("--host", "a", "--chek")).toThrow("unknown option --chek (did you mean --check?)");
    expect(() => run("--host", "a", "--max-fial", "1")).toThrow("(did you mean --max-fail?)");
    expect(() => run("--host", "a", "--zzzzzzzz")).toThrow(/^unknown option --zzzzzzzz$/);
  });
});
