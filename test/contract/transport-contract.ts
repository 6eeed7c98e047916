/**
 * The contract every Transport must pass (Kysely-style shared driver test): exit codes, separate
 * stdout/stderr, stdin, binary data both ways, multi-megabyte payloads, no trimming, timeouts that
 * leave the transport usable, concurrency, and atomic file writes through remote-file.
 *
 *   transportContract("local", async () => new LocalTransport());
 *
 * The file tests use a temp directory made on the host with mktemp and removed afterwards.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostSession } from "../../src/transport/host-session.ts";
import { writeRemoteFile } from "../../src/transport/remote-file.ts";
import { TransportError, type Transport } from "../../src/transport/transport.ts";

export interface ContractOptions {
  /** Run the writeRemoteFile tests (default true). */
  supportsFiles?: boolean;
  /** Per-test timeout for the heavy tests (default 60 s). */
  slowTestTimeoutMs?: number;
}

const MiB = 1024 * 1024;

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** What `seq 1 n` prints. */
function seqOutput(n: number): Buffer {
  const parts: string[] = [];
  for (let i = 1; i <= n; i += 1) parts.push(`${i}\n`);
  return Buffer.from(parts.join(""), "latin1");
}

/** A printf format that prints the bytes 0..255 in order (octal escapes are POSIX). */
function allBytesPrintfFormat(): string {
  let format = "";
  for (let i = 0; i < 256; i += 1) format += `\\${i.toString(8).padStart(3, "0")}`;
  return format;
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

export function transportContract(name: string, make: () => Promise<Transport>, opts: ContractOptions = {}): void {
  const slow = opts.slowTestTimeoutMs ?? 60_000;

  describe(`Transport contract: ${name}`, () => {
    let transport: Transport;

    beforeAll(async () => {
      transport = await make();
    }, 60_000);

    afterAll(async () => {
      await transport?.close();
    });

    it("reports exit codes 0, 1 and 42 without throwing", async () => {
      expect((await transport.exec("true")).exitCode).toBe(0);
      expect((await transport.exec("false")).exitCode).toBe(1);
      expect((await transport.exec("exit 42")).exitCode).toBe(42);
    });

    it("reports death by signal as 128+N", async () => {
      expect((await transport.exec("kill -TERM $$")).exitCode).toBe(143);
    });

    it("keeps stdout and stderr apart", async () => {
      const result = await transport.exec("echo out; echo err >&2; echo out2");
      expect(result.stdout.toString()).toBe("out\nout2\n");
      expect(result.stderr.toString()).toBe("err\n");
      expect(Buffer.isBuffer(result.stdout)).toBe(true);
      expect(Buffer.isBuffer(result.stderr)).toBe(true);
    });

    it("passes stdin through (string and Buffer), and an empty stdin", async () => {
      expect((await transport.exec("cat", { stdin: "hello\nworld" })).stdout.toString()).toBe("hello\nworld");
      expect((await transport.exec("cat", { stdin: Buffer.from("bytes\n") })).stdout.toString()).toBe("bytes\n");
      expect((await transport.exec("cat")).stdout.length).toBe(0);
      // A command that ignores its stdin is fine too.
      expect((await transport.exec("echo ignored", { stdin: "x".repeat(100_000) })).stdout.toString()).toBe("ignored\n");
    });

    it("round-trips all 256 byte values, NUL included, through stdin and stdout", async () => {
      const viaCat = await transport.exec("cat", { stdin: ALL_BYTES });
      expect(viaCat.stdout.equals(ALL_BYTES)).toBe(true);
      const hostToUs = await transport.exec(`printf '${allBytesPrintfFormat()}'`);
      expect(hostToUs.stdout.equals(ALL_BYTES)).toBe(true);
      const usToHost = await transport.exec("od -An -v -tx1 | tr -d ' \\n'", { stdin: ALL_BYTES });
      expect(usToHost.stdout.toString()).toBe(ALL_BYTES.toString("hex"));
    });

    it(
      "returns a 5 MiB stdout intact",
      async () => {
        const expected = seqOutput(800_000).subarray(0, 5 * MiB);
        const result = await transport.exec(`seq 1 800000 | head -c ${5 * MiB}`);
        expect(result.exitCode).toBe(0);
        expect(result.stdout.length).toBe(5 * MiB);
        expect(sha256(result.stdout)).toBe(sha256(expected));
      },
      slow,
    );

    it(
      "delivers a 5 MiB binary stdin intact (and back)",
      async () => {
        const data = randomBytes(5 * MiB);
        const onHost = await transport.exec("sha256sum | cut -d' ' -f1", { stdin: data });
        expect(onHost.stdout.toString()).toBe(`${sha256(data)}\n`);
        const echoed = await transport.exec("cat", { stdin: data });
        expect(echoed.stdout.length).toBe(data.length);
        expect(sha256(echoed.stdout)).toBe(sha256(data));
      },
      slow,
    );

    it("never trims trailing newlines or whitespace", async () => {
      const result = await transport.exec("printf 'a\\n\\n  \\n\\t'; printf ' \\n\\n' >&2");
      expect(result.stdout.toString()).toBe("a\n\n  \n\t");
      expect(result.stderr.toString()).toBe(" \n\n");
      expect((await transport.exec("printf '\\n\\n\\n'")).stdout.toString()).toBe("\n\n\n");
    });

    it(
      "times out a command with TransportError kind 'timeout' and stays usable",
      async () => {
        const started = Date.now();
        const error = await transport.exec("sleep 5", { timeoutMs: 300 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        const elapsed = Date.now() - started;
        expect(error).toBeInstanceOf(TransportError);
        expect((error as TransportError).kind).toBe("timeout");
        expect((error as TransportError).host).toBe(transport.host);
        expect((error as TransportError).message).toContain(transport.host);
        expect(elapsed).toBeLessThan(3_000);
        const after = await transport.exec("echo still here");
        expect(after.stdout.toString()).toBe("still here\n");
      },
      slow,
    );

    it(
      "runs 20 concurrent commands, each with its own result",
      async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            transport.exec(`read line; echo "$line:${i}"; echo e${i} >&2; exit ${i % 7}`, { stdin: `in${i}\n` }),
          ),
        );
        results.forEach((result, i) => {
          expect(result.stdout.toString()).toBe(`in${i}:${i}\n`);
          expect(result.stderr.toString()).toBe(`e${i}\n`);
          expect(result.exitCode).toBe(i % 7);
        });
      },
      slow,
    );

    describe.skipIf(opts.supportsFiles === false)("atomic file write (remote-file)", () => {
      let dir = "";
      let session: HostSession;

      // biome-ignore lint/suspicious/noDuplicateTestHooks: its own describe (describe.skipIf, which Biome does not recognise as one)
      beforeAll(async () => {
        session = new HostSession(transport);
        const made = await transport.exec("mktemp -d /tmp/provision-contract.XXXXXX");
        expect(made.exitCode).toBe(0);
        dir = made.stdout.toString().trim();
        expect(dir).toMatch(/^\/tmp\/provision-contract\.\w+$/);
      });

      // biome-ignore lint/suspicious/noDuplicateTestHooks: its own describe (describe.skipIf)
      afterAll(async () => {
        if (dir) await transport.exec(`rm -rf -- '${dir}'`);
      });

      it("replaces a file keeping its mode (0640) and owner, leaving no temp file", async () => {
        const path = `${dir}/config.cf`;
        const isRoot = (await transport.exec("id -u")).stdout.toString().trim() === "0";
        const owner = isRoot ? "nobody" : (await transport.exec("id -un")).stdout.toString().trim();
        const setup = await transport.exec(
          `printf 'old\\n' > '${path}' && chmod 0640 '${path}'` + (isRoot ? ` && chown nobody '${path}'` : ""),
        );
        expect(setup.exitCode).toBe(0);

        const content = Buffer.concat([Buffer.from("new content\n\n"), ALL_BYTES]);
        await writeRemoteFile(session, path, content);

        const stat = await transport.exec(`stat -c '%a %U' '${path}'`);
        expect(stat.stdout.toString()).toBe(`640 ${owner}\n`);
        const back = await transport.exec(`cat '${path}'`);
        expect(back.stdout.equals(content)).toBe(true);
        const listing = await transport.exec(`ls -A '${dir}'`);
        expect(listing.stdout.toString()).toBe("config.cf\n");
      });

      it("creates a new file (0644 by default) atomically", async () => {
        const path = `${dir}/fresh.txt`;
        await writeRemoteFile(session, path, "fresh\n");
        expect((await transport.exec(`stat -c '%a' '${path}'; cat '${path}'`)).stdout.toString()).toBe("644\nfresh\n");
        expect((await transport.exec(`ls -A '${dir}' | grep -c '^\\.provision-' || true`)).stdout.toString()).toBe("0\n");
      });
    });
  });
}
