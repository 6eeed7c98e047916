/**
 * The mock transport honours the same contract as the real ones (test/contract/): results, not
 * exceptions, for non-zero exits; bytes intact both ways; typed timeouts that leave it usable;
 * concurrency; atomic writes that keep mode and owner. It has no shell, so the contract's cases are
 * expressed as fixtures here rather than as shell commands.
 */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HostSession } from "../../../src/transport/host-session.ts";
import { MockTransport } from "../../../src/transport/mock.ts";
import { readRemoteFile, writeRemoteFile } from "../../../src/transport/remote-file.ts";
import { TransportError } from "../../../src/transport/transport.ts";

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

function echoHost(): MockTransport {
  return new MockTransport("mock1")
    .on(/^exit (\d+)$/, (command) => ({ exitCode: Number(command.split(" ")[1]) }))
    .on(/^cat$/, (_command, stdin) => ({ stdout: stdin }))
    .on("both", { stdout: "out\n", stderr: "err\n" })
    .on("slow", { stdout: "late\n", delayMs: 2_000 });
}

describe("Transport contract: mock", () => {
  it("reports exit codes without throwing", async () => {
    const mock = echoHost();
    for (const code of [0, 1, 42]) expect((await mock.exec(`exit ${code}`)).exitCode).toBe(code);
  });

  it("keeps stdout and stderr apart, as Buffers", async () => {
    const result = await echoHost().exec("both");
    expect(result.stdout.toString()).toBe("out\n");
    expect(result.stderr.toString()).toBe("err\n");
    expect(Buffer.isBuffer(result.stdout)).toBe(true);
  });

  it("passes all 256 byte values and 5 MiB through stdin and stdout, and records them", async () => {
    const mock = echoHost();
    expect((await mock.exec("cat", { stdin: ALL_BYTES })).stdout.equals(ALL_BYTES)).toBe(true);
    const big = randomBytes(5 * 1024 * 1024);
    expect(sha256((await mock.exec("cat", { stdin: big })).stdout)).toBe(sha256(big));
    expect(mock.execs.map((e) => e.stdin.length)).toEqual([256, big.length]);
  });

  it("times out with TransportError kind 'timeout' naming the host, and stays usable", async () => {
    const mock = echoHost();
    const started = Date.now();
    const error = await mock.exec("slow", { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).kind).toBe("timeout");
    expect((error as TransportError).message).toContain("mock1");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await mock.exec("exit 0")).exitCode).toBe(0);
  });

  it("answers concurrent commands each with its own result", async () => {
    const mock = echoHost();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => mock.exec("cat", { stdin: `in${i}` })));
    for (const [i, result] of results.entries()) expect(result.stdout.toString()).toBe(`in${i}`);
  });

  it("answers a command no fixture matches with 127, and lists it", async () => {
    const mock = echoHost();
    const result = await mock.exec("frobnicate --now");
    expect(result.exitCode).toBe(127);
    expect(mock.unmatched).toEqual(["frobnicate --now"]);
  });

  it("writes files atomically through remote-file, keeping mode and owner", async () => {
    const mock = echoHost().file("/etc/app.conf", "old\n", { owner: "postfix", group: "sasl", mode: "0640" });
    const session = new HostSession(mock);
    await writeRemoteFile(session, "/etc/app.conf", ALL_BYTES);
    const state = await readRemoteFile(session, "/etc/app.conf");
    expect(state).toMatchObject({ exists: true, owner: "postfix", group: "sasl", mode: "0640" });
    expect(state.content?.equals(ALL_BYTES)).toBe(true);
    await writeRemoteFile(session, "/etc/new.conf", "x", { mode: "0600", owner: "root", group: "root" });
    expect(mock.files.get("/etc/new.conf")).toMatchObject({ mode: "0600", owner: "root" });
    expect((await readRemoteFile(session, "/etc/absent")).exists).toBe(false);
  });

  it("fails every exec after close, as a lost connection", async () => {
    const mock = echoHost();
    await mock.close();
    await expect(mock.exec("exit 0")).rejects.toMatchObject({ kind: "lost" });
  });
});
