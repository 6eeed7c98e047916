/**
 * The captured reads in fixtures/ are stored with the command that produced them
 * (test/support/captured-read.ts): a step whose read command changed fails loudly instead of
 * parsing what the host printed for the old command.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { postconf } from "../../../src/steps/postconf.ts";
import { CapturedReadChangedError, capturedRead, loadCaptured } from "../../support/captured-read.ts";

const FIXTURES = join(import.meta.dirname, "fixtures");
const FRESH = join(FIXTURES, "debian12-postconf-read.fresh.txt");

describe("captured reads", () => {
  it("every captured read (fixtures/*-read.*.txt) carries its command, exit code and stderr", () => {
    const reads = readdirSync(FIXTURES).filter((name) => /-read\..*\.txt$/.test(name));
    expect(reads.length).toBeGreaterThan(10);
    for (const name of reads) expect(loadCaptured(join(FIXTURES, name)).command, name).not.toBe("");
  });

  it("the step's current read command is the captured one: the output is fed as captured", () => {
    const captured = capturedRead(FRESH, postconf({ settings: { biff: "no" } }).read());
    expect(captured.result.exitCode).toBe(0);
    expect(captured.result.stdout.toString("utf8")).toBe(captured.stdout);
    expect(captured.stdout).toMatch(/^alias_database = /);
  });

  it("a changed read command fails loudly: re-capture the fixture", () => {
    const changed = postconf({ settings: { biff: "no" }, configDir: "/etc/postfix-out" }).read();
    expect(() => capturedRead(FRESH, changed)).toThrow(CapturedReadChangedError);
    expect(() => capturedRead(FRESH, changed)).toThrow(
      /^the read of postconf changed: re-capture fixture .*debian12-postconf-read\.fresh\.txt\ncaptured: "postconf -n/,
    );
  });
});
