import { describe, expect, it } from "vitest";
import { encodeBatch, splitBatchOutput } from "../../../src/run/read-batch.ts";
import { MockTransport } from "../../../src/transport/mock.ts";
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
    const partial = { stdout: Buffer.from(`x\n${batch.marker} 0\n`), stderr: Buffer.from(`\n${batch.marker}\n`) };
    expect(() => splitBatchOutput(batch, { ...partial, exitCode: 255 })).toThrow(/after 1 of 2 reads/);
  });

  it("says in its header line where each fragment is (how the mock host splits it)", async () => {
    const fragments = [sh`echo ${"a b"}`, sh`if true; then\n  echo ${raw("x")}\nfi`];
    const batch = encodeBatch(fragments);
    expect(batch.command.text.split("\n")[0]).toMatch(/^# provision-batch v1 \{"marker":"provision-[0-9a-f]+","fragments":\[/);
    const mock = new MockTransport().on(/./, { stdout: "ok" });
    await mock.exec(batch.command.text);
    expect(mock.commands.map((c) => c.command)).toEqual(fragments.map((f) => f.text));
  });
});
