import { describe, expect, it } from "vitest";
import { decodeBatchScript, encodeBatch, encodeBatchOutput, splitBatchOutput } from "../../../src/run/read-batch.ts";
import { sh, raw } from "../../../src/shell/sh.ts";
import { LocalTransport } from "../../../src/transport/local.ts";

describe("read batches", () => {
  it("runs fragments in one script with real /bin/sh and splits bytes, exit codes and stderr exactly", async () => {
    const fragments = [
      sh`printf 'no newline'`,
      sh`printf '\\000\\001\\377binary\\n\\n'`,
      sh`echo out; echo err >&2; exit 7`,
      sh`cat`, // stdin is closed: must not swallow the rest of the script
      sh`printf ''`,
      sh`echo after`,
    ];
    const batch = encodeBatch(fragments);
    const local = new LocalTransport();
    const results = splitBatchOutput(batch, await local.exec("sh -s", { stdin: batch.command.text }));
    expect(results.map((r) => r.exitCode)).toEqual([0, 0, 7, 0, 0, 0]);
    expect(results[0]?.stdout.toString()).toBe("no newline");
    expect([...(results[1]?.stdout ?? [])]).toEqual([0, 1, 255, ...Buffer.from("binary\n\n")]);
    expect(results[2]?.stdout.toString()).toBe("out\n");
    expect(results[2]?.stderr.toString()).toBe("err\n");
    expect(results[3]?.stdout.length).toBe(0);
    expect(results[5]?.stdout.toString()).toBe("after\n");
  });

  it("works as a plain sh -c command line too", async () => {
    const batch = encodeBatch([sh`echo a`, sh`echo b`]);
    const results = splitBatchOutput(batch, await new LocalTransport().exec(batch.command.text));
    expect(results.map((r) => r.stdout.toString())).toEqual(["a\n", "b\n"]);
  });

  it("says how far a batch got when the script dies", () => {
    const batch = encodeBatch([sh`a`, sh`b`]);
    const partial = encodeBatchOutput(batch.marker, [{ exitCode: 0, stdout: Buffer.from("x"), stderr: Buffer.alloc(0) }]);
    expect(() => splitBatchOutput(batch, { ...partial, exitCode: 255 })).toThrow(/after 1 of 2 reads/);
  });

  it("decodes its own scripts (for the mock host)", () => {
    const fragments = [sh`echo ${"a b"}`, sh`if true; then\n  echo ${raw("x")}\nfi`];
    const batch = encodeBatch(fragments);
    expect(decodeBatchScript(batch.command.text)?.fragments).toEqual(fragments.map((f) => f.text));
  });
});
