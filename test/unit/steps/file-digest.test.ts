/**
 * file with binary or large content (issue 11, 16): compared by size and sha256, never as text.
 * The read asks the host for a digest instead of the bytes (contentLimit), so a huge file is not
 * held twice; the summary says "content (binary, N bytes → M bytes)" and there is no text diff.
 * The threshold is TEXT_COMPARE_MAX_BYTES (1 MiB); these use 2 MiB.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { file, TEXT_COMPARE_MAX_BYTES } from "../../../src/steps/file.ts";
import { parseFileState, readFileCommand } from "../../../src/transport/remote-file.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

const ok = (stdout: string | Buffer) => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });
const BIG = 2 * 1024 * 1024;

describe("file: binary and large content", () => {
  it("binary content: the read asks for a digest, the change says binary with both sizes, no diff", async () => {
    const old = randomBytes(BIG);
    const desired = randomBytes(BIG + 5);
    const host = mockHost("debian12").file("/srv/blob", old);
    const step = file({ path: "/srv/blob", content: desired });
    const check = await run(host, "check", () => [step]);
    expect(check.step?.summary).toBe(`content (binary, ${BIG} bytes → ${BIG + 5} bytes)`);
    expect(check.step?.diff).toBeUndefined();
    // The host answered with a digest line, not 2 MiB of content.
    const read = host.commands.find((c) => c.batched && c.command.includes("/srv/blob"));
    expect(read?.command).toContain(`-gt 0 ]`);
    const applyRun = await run(host, "apply", () => [step]);
    expect(applyRun.step?.status).toBe("changed");
    expect(host.files.get("/srv/blob")?.content.equals(desired)).toBe(true);
    expect(applied(host).some((c) => c.includes("mv -f --"))).toBe(true);
    const again = await run(host, "apply", () => [step]);
    expect(again.step?.status).toBe("ok");
  });

  it("a small binary file is binary too (not UTF-8): no text diff of garbage", () => {
    const step = file({ path: "/srv/b", content: Buffer.from([0xff, 0xfe, 0]) });
    const change = step.diff(parseFileState(ok("root root 0644 regular file\nold text\n"), "/srv/b"));
    expect(change).toEqual({ summary: "content (binary, 9 bytes → 3 bytes)", plan: { action: "write" } });
  });

  it("a host file over the limit is never sent back, even when the desired content is small text", () => {
    const step = file({ path: "/etc/big.conf", content: "small\n" });
    const command = readFileCommand("/etc/big.conf", { contentLimit: TEXT_COMPARE_MAX_BYTES }).text;
    expect(command).toContain(`-gt ${TEXT_COMPARE_MAX_BYTES} ]`);
    const state = parseFileState(ok(`@provision:digest ${BIG} ${"a".repeat(64)}\nroot root 0644 regular file\n`), "/etc/big.conf");
    expect(state.content).toBeUndefined();
    expect(state.digest).toEqual({ size: BIG, sha256: "a".repeat(64) });
    const change = step.diff(state);
    expect(change?.summary).toBe(`content (too large to diff, ${BIG} bytes → 6 bytes)`);
    expect(change?.diff).toBeUndefined();
  });

  it("small text still gets its text diff", () => {
    const step = file({ path: "/etc/motd", content: "new\n" });
    const change = step.diff(parseFileState(ok("root root 0644 regular file\nold\n"), "/etc/motd"));
    expect(change).toEqual({
      summary: "content",
      diff: { label: "/etc/motd", before: "old\n", after: "new\n" },
      plan: { action: "write" },
    });
  });

  it("the digest read works on a real shell: content up to the limit, a digest above it", async () => {
    const { execFileSync } = await import("node:child_process");
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const { createHash } = await import("node:crypto");
    const dir = mkdtempSync(join(tmpdir(), "provision-digest-"));
    try {
      const path = join(dir, "f");
      const content = randomBytes(100);
      writeFileSync(path, content);
      const read = (limit: number) =>
        parseFileState(ok(execFileSync("/bin/sh", ["-c", readFileCommand(path, { contentLimit: limit }).text])), path);
      expect(read(100).content?.equals(content)).toBe(true);
      expect(read(99).digest).toEqual({ size: 100, sha256: createHash("sha256").update(content).digest("hex") });
      expect(read(99).owner).toBeTruthy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
