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
import { encodeBatch, splitBatchOutput } from "../../../src/run/read-batch.ts";
import { secret } from "../../../src/shell/secret.ts";
import { joinCommands, secretStdin, sh } from "../../../src/shell/sh.ts";
import {
  fileWrite,
  parseFileState,
  pipedFileWrite,
  readFileCommand,
  readRemoteFile,
  writeRemoteFile,
} from "../../../src/transport/remote-file.ts";
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

/** The file store answers remote-file's commands by their header line, never by their shell text. */
describe("mock: file reads and writes known by their header", () => {
  const header = (text: string) => text.slice(0, text.indexOf("\n"));

  it("answers a read whose shell line changed, from the header's arguments", async () => {
    const mock = new MockTransport().file("/etc/app.conf", "a=1\n", { mode: "0640" });
    const read = readFileCommand("/etc/app.conf").text;
    const result = await mock.exec(`${header(read)}\necho any other shell`);
    expect(parseFileState(result, "/etc/app.conf")).toMatchObject({ exists: true, mode: "0640", content: Buffer.from("a=1\n") });
    // metaOnly and contentLimit come from the header too.
    const meta = await mock.exec(`${header(readFileCommand("/etc/app.conf", { metaOnly: true }).text)}\n:`);
    expect(meta.stdout.toString()).toBe("root root 0640 regular file\n");
    const digest = await mock.exec(`${header(readFileCommand("/etc/app.conf", { contentLimit: 2 }).text)}\n:`);
    expect(parseFileState(digest, "/etc/app.conf").digest).toEqual({ size: 4, sha256: sha256(Buffer.from("a=1\n")) });
    expect(mock.unmatched).toEqual([]);
  });

  it("answers every shape of read, a path holding a newline included", async () => {
    for (const path of ["/etc/a.conf", "/etc/a b\nc"]) {
      const mock = new MockTransport().file(path, "x");
      for (const options of [{}, { metaOnly: true }, { contentLimit: 0 }, { contentLimit: 1 << 20 }])
        expect(parseFileState(await mock.exec(readFileCommand(path, options).text), path).exists).toBe(true);
      expect(mock.unmatched).toEqual([]);
    }
  });

  it("does not take a command without the header for a read, nor a read joined with other shell", async () => {
    const mock = new MockTransport().file("/etc/app.conf", "a=1\n");
    const read = readFileCommand("/etc/app.conf").text;
    const shellOnly = read.slice(read.indexOf("\n") + 1);
    expect((await mock.exec(shellOnly)).exitCode).toBe(127);
    expect((await mock.exec(`${read}\necho more`)).exitCode).toBe(127);
    expect((await mock.exec(`echo before; ${read}`)).exitCode).toBe(127);
    expect(mock.unmatched).toHaveLength(3);
  });

  it("answers a read inside a read batch, and in a batch sent as a script on stdin (sh -s)", async () => {
    const mock = new MockTransport().file("/etc/app.conf", "a=1\n").on("secret-tool", { stdout: "ok\n" });
    const session = new HostSession(mock);
    const batch = encodeBatch([readFileCommand("/etc/app.conf"), sh`${secretStdin(secret("batch-S3cret"))} secret-tool`]);
    const [file, other] = splitBatchOutput(batch, await session.run(batch.command));
    expect(mock.execs.at(-1)?.command).toBe("sh -s");
    expect(parseFileState(file as never, "/etc/app.conf").content?.toString()).toBe("a=1\n");
    expect(other?.stdout.toString()).toBe("ok\n");
  });

  it("finds a write's header after other shell (mkdir -p first), owner and mode from it, and checks the stdin line", async () => {
    const mock = new MockTransport();
    const write = fileWrite("/etc/app.d/x.conf", "x=1\n", { owner: "app", group: "adm", mode: "640" });
    expect(header(write.command.text)).toBe(
      '# provision-file write v1 {"path":"/etc/app.d/x.conf","owner":"app","group":"adm","mode":"640"}',
    );
    const joined = joinCommands([sh`mkdir -p -- /etc/app.d || exit 1`, write.command, sh`systemctl daemon-reload`], "\n");
    const short = await mock.exec(joined.text, { stdin: [write.stdin[0] as Buffer, Buffer.from("x=")] });
    expect(short.exitCode).toBe(4);
    expect(mock.files.has("/etc/app.d/x.conf")).toBe(false);
    expect((await mock.exec(joined.text, { stdin: write.stdin })).exitCode).toBe(0);
    expect(mock.files.get("/etc/app.d/x.conf")).toEqual({ content: Buffer.from("x=1\n"), owner: "app", group: "adm", mode: "0640" });
  });

  it("never puts the content or its digest in a write's header; leaves a piped write (content made on the host) to fixtures", async () => {
    const write = fileWrite("/etc/k", secret("header-S3cret"));
    const digest = sha256(Buffer.from("header-S3cret"));
    expect(header(write.command.text)).toBe('# provision-file write v1 {"path":"/etc/k"}');
    expect(write.command.text).not.toContain(digest);
    const mock = new MockTransport();
    const piped = pipedFileWrite("/srv/f", "a".repeat(64));
    expect(header(piped.text)).toBe('# provision-file write-piped v1 {"path":"/srv/f"}');
    expect((await mock.exec(`curl -fsS https://example.invalid/f | { ${piped.text}\n}`)).exitCode).toBe(127);
    expect(mock.files.has("/srv/f")).toBe(false);
  });
});
