/**
 * Writes on a real POSIX shell (this machine's /bin/sh through LocalTransport, in a temp dir):
 * - content cut short (as when the controller dies mid-stream) never replaces the file;
 * - file names up to 255 bytes can be written, and the temp name stays bounded;
 * - one path's cleanup never removes another path's temp file in the same directory;
 * - an owner value can never become a chown option, and is refused by every step that takes one;
 * - a script sent on stdin (`sh -s`) that is cut short runs nothing at all.
 * (issue 11, defects 1, 5, 12)
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sh } from "../../../src/shell/sh.ts";
import { directory } from "../../../src/steps/directory.ts";
import { file } from "../../../src/steps/file.ts";
import { line } from "../../../src/steps/line.ts";
import { ownerMode } from "../../../src/steps/owner-mode.ts";
import { sasldbUser } from "../../../src/steps/sasldb-user.ts";
import { secret } from "../../../src/shell/secret.ts";
import { CommandError, HostSession, LONG_COMMAND_BYTES } from "../../../src/transport/host-session.ts";
import { LocalTransport } from "../../../src/transport/local.ts";
import { fileWrite, tempStem, writeHeader, writeRemoteFile, WRITE_UNVERIFIED_EXIT } from "../../../src/transport/remote-file.ts";
import { stdinParts, type ExecOptions, type Transport } from "../../../src/transport/transport.ts";

const dir = mkdtempSync(join(tmpdir(), "provision-verified-write-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A transport whose stdin is cut after `keep` bytes: what the host sees when the controller dies mid-stream. */
function cutStdin(inner: Transport, keep: number): Transport {
  return reshapeStdin(inner, (stdin) => stdin.subarray(0, keep));
}

/** A transport that changes the stdin a command receives. */
function reshapeStdin(inner: Transport, reshape: (stdin: Buffer) => Buffer): Transport {
  return {
    host: inner.host,
    exec: (command: string, options: ExecOptions = {}) =>
      inner.exec(command, {
        ...options,
        ...(options.stdin !== undefined ? { stdin: reshape(Buffer.concat(stdinParts(options.stdin))) } : {}),
      }),
    close: () => inner.close(),
  };
}

describe("a write whose input is cut short", () => {
  // The stdin of a write is a `<length> <sha256>` header line, then the content: cut anywhere in
  // either (nothing at all, mid-header, right after it, mid-content, one byte short).
  const content = Buffer.alloc(100_000, "x");
  const header = writeHeader(content).length;
  it.each([0, 30, header, header + 1, header + 4096, header + 99_999])(
    "keeping %i bytes of stdin: the old file stays, no temp file is left, the error says why",
    async (keep) => {
      const path = join(dir, `cut-${keep}.conf`);
      writeFileSync(path, "old content\n");
      const session = new HostSession(cutStdin(new LocalTransport(), keep));
      const error = await writeRemoteFile(session, path, content).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CommandError);
      expect((error as CommandError).result.exitCode).toBe(WRITE_UNVERIFIED_EXIT);
      const received = Math.max(0, keep - header);
      expect((error as CommandError).message).toMatch(
        new RegExp(`left unchanged: received ${received} of (100000|\\?) bytes \\(the input was cut short\\)`),
      );
      // Cause first; the script itself is not in the message (only its first line, to recognise it).
      expect((error as CommandError).message.split("\n")[0]).toMatch(/command failed with exit code 4: provision: /);
      expect((error as CommandError).message).not.toContain("mv -f");
      expect((error as CommandError).detail()).toContain("mv -f");
      expect(readFileSync(path, "utf8")).toBe("old content\n");
      expect(readdirSync(dir).filter((name) => name.startsWith(".provision-"))).toEqual([]);
    },
  );

  it("the expected length and digest travel on stdin, never in the command (argv)", () => {
    const secretBearing = "password=hunter22\n";
    const write = fileWrite("/etc/app.conf", secretBearing);
    const digest = writeHeader(Buffer.from(secretBearing)).toString().trim().split(" ")[1] as string;
    expect(write.command.text).not.toContain(digest);
    expect(Buffer.concat(write.stdin).toString()).toBe(`${Buffer.byteLength(secretBearing)} ${digest}\n${secretBearing}`);
  });

  it("the same bytes in another order (same length, wrong digest) are refused too", async () => {
    const path = join(dir, "corrupt.conf");
    writeFileSync(path, "old\n");
    const session = new HostSession(new LocalTransport());
    const write = fileWrite(path, "abcd");
    const header = writeHeader(Buffer.from("abcd"));
    const result = await session.run(write.command, { stdin: Buffer.concat([header, Buffer.from("dcba")]) });
    expect(result.exitCode).toBe(WRITE_UNVERIFIED_EXIT);
    expect(result.stderr.toString()).toContain("sha256 differs");
    expect(readFileSync(path, "utf8")).toBe("old\n");
  });

  it("whole content is written (binary, every byte value)", async () => {
    const path = join(dir, "whole.bin");
    const content = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await writeRemoteFile(new HostSession(new LocalTransport()), path, content);
    expect(readFileSync(path).equals(content)).toBe(true);
  });
});

describe("hosts without sha256sum", () => {
  /** A PATH with only the tools named (symlinks to this machine's), as on a minimal host. */
  function minimalPath(tools: string[]): string {
    const bin = mkdtempSync(join(dir, "bin-"));
    for (const tool of tools) {
      const found = execFileSync("/bin/sh", ["-c", `command -v ${tool}`])
        .toString()
        .trim();
      symlinkSync(found, join(bin, tool));
    }
    return bin;
  }
  const BASE_TOOLS = ["cat", "wc", "tr", "mktemp", "rm", "chmod", "chown", "stat", "mv"];
  const write = (bin: string, path: string, content: string) => {
    const write = fileWrite(path, content);
    return spawnSync("/bin/sh", ["-c", write.command.text], { input: Buffer.concat(write.stdin), env: { PATH: bin } });
  };

  it("falls back to openssl", () => {
    const path = join(dir, "via-openssl.conf");
    writeFileSync(path, "old\n");
    const result = write(minimalPath([...BASE_TOOLS, "openssl"]), path, "new\n");
    expect(result.status, result.stderr.toString()).toBe(0);
    expect(readFileSync(path, "utf8")).toBe("new\n");
  });

  it("with neither sha256sum nor openssl: refuses, leaves the file, and says what is missing", () => {
    const path = join(dir, "no-digest.conf");
    writeFileSync(path, "old\n");
    const result = write(minimalPath(BASE_TOOLS), path, "new\n");
    expect(result.status).toBe(WRITE_UNVERIFIED_EXIT);
    expect(result.stderr.toString()).toContain("left unchanged: cannot verify what arrived (the host has neither sha256sum nor openssl)");
    expect(readFileSync(path, "utf8")).toBe("old\n");
  });
});

describe("temp file names", () => {
  it("a file name of 255 bytes can be written (the temp name is bounded)", async () => {
    const name = `${"é".repeat(100)}${"n".repeat(55)}`; // 255 bytes in UTF-8
    expect(Buffer.byteLength(name)).toBe(255);
    expect(Buffer.byteLength(tempStem(name)) + ".XXXXXX".length).toBeLessThanOrEqual(64);
    const path = join(dir, name);
    await writeRemoteFile(new HostSession(new LocalTransport()), path, "long name\n");
    expect(readFileSync(path, "utf8")).toBe("long name\n");
  });

  it("writing one path never removes the temp file of another path in the same directory", async () => {
    const sub = mkdtempSync(join(dir, "pair-"));
    // What a write of `a.b` in progress (or killed) has: its temp file, in the old naming and the new.
    const theirs = [".provision-a.b.Q1w2E3", `${tempStem("a.b")}.Q1w2E3`];
    for (const name of theirs) writeFileSync(join(sub, name), "partial");
    await writeRemoteFile(new HostSession(new LocalTransport()), join(sub, "a"), "a\n");
    for (const name of theirs) expect(existsSync(join(sub, name)), name).toBe(true);
    // Its own leftover (a killed write of `a`) is removed.
    writeFileSync(join(sub, `${tempStem("a")}.Z9x8C7`), "partial");
    await writeRemoteFile(new HostSession(new LocalTransport()), join(sub, "a"), "a2\n");
    expect(existsSync(join(sub, `${tempStem("a")}.Z9x8C7`))).toBe(false);
  });
});

describe("owner and group are names, never options", () => {
  const hostile = ["--reference=/etc/shadow", "-R", "root:adm", "a b", "", "root\n"];

  it.each(hostile)("every step that takes an owner refuses %j, naming the step and field", (owner) => {
    const attempts: [string, () => unknown][] = [
      ["file", () => file({ path: "/etc/x", content: "", owner })],
      ["directory", () => directory({ path: "/etc/x", group: owner })],
      ["ownerMode", () => ownerMode({ path: "/etc/x", owner })],
      ["line", () => line({ path: "/etc/x", line: "a", owner })],
      ["sasldbUser", () => sasldbUser({ user: "u", realm: "r", password: secret("p-long-enough"), group: owner })],
    ];
    for (const [kind, attempt] of attempts) {
      expect(attempt, kind).toThrow(new RegExp(`^${kind}: invalid parameters: (owner|group): must be a user or group name`));
    }
  });

  it("accepts names and numeric ids", () => {
    expect(() => file({ path: "/etc/x", content: "", owner: "postfix", group: "1000" })).not.toThrow();
    expect(() => directory({ path: "/etc/x", owner: "www-data", group: "domain_users" })).not.toThrow();
  });

  it("the write ends chown's options: a value reaching it anyway is a user name that does not exist", async () => {
    const path = join(dir, "owned.conf");
    writeFileSync(path, "old\n");
    const session = new HostSession(new LocalTransport());
    const write = fileWrite(path, "new\n", { owner: "--reference=/etc/passwd" });
    expect(write.command.text).toMatch(/^chown -- '?--reference=\/etc\/passwd'? "\$tmp"$/m);
    const result = await session.run(write.command, { stdin: write.stdin });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.toString()).toMatch(/invalid user/);
    expect(readFileSync(path, "utf8")).toBe("old\n");
  });
});

describe("a script on stdin cut short", () => {
  it("runs nothing: neither its complete first lines nor a last line cut mid-word", async () => {
    const first = join(dir, "script-first");
    const cutName = join(dir, "script-last-cut-here");
    // Long enough to travel as `sh -s` (a script on stdin), not as an argument.
    const padding = `: ${"p".repeat(LONG_COMMAND_BYTES)}`;
    const command = sh`touch -- ${first}
${padding}
touch -- ${cutName}.complete`;
    const text = command.text;
    // Cut right after the last file's name and close its quote: what arrives ends in
    // `touch -- '/…/script-last-cut-here'`, a complete command naming the wrong file.
    const session = new HostSession(
      reshapeStdin(new LocalTransport(), (stdin) => Buffer.concat([stdin.subarray(0, stdin.indexOf(".complete")), Buffer.from("'\n")])),
    );
    expect(text.length).toBeGreaterThan(LONG_COMMAND_BYTES);
    const result = await session.run(command);
    expect(result.exitCode).not.toBe(0);
    expect(existsSync(first), "a complete first line ran").toBe(false);
    expect(existsSync(cutName), "the cut last line ran").toBe(false);
  });
});

describe("the mode of a replaced file", () => {
  it("is the mode asked for at once: a new key is never world-readable, not even for a moment", () => {
    const command = fileWrite("/etc/ssl/private/mail.key", "key", { mode: "0600" }).command.text;
    // The old file's mode is never copied onto the temp file when a mode is given, nor 0644 for a new one.
    expect(command).not.toContain('chmod -- "$(stat -c %a -- "$path")" "$tmp"');
    expect(command).not.toContain('chmod 0644 "$tmp"');
    expect(command).toMatch(/^chmod -- '?0600'? "\$tmp"$/m);
  });

  it("a world-readable file replaced with mode 0600 gets 0600 (and keeps its owner)", async () => {
    const path = join(dir, "was-public.key");
    writeFileSync(path, "old\n", { mode: 0o644 });
    await writeRemoteFile(new HostSession(new LocalTransport()), path, "new key\n", { mode: "0600" });
    expect(readFileSync(path, "utf8")).toBe("new key\n");
    expect((statSync(path).mode & 0o777).toString(8)).toBe("600");
  });
});
