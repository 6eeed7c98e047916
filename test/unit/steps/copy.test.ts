/**
 * copy. The host reads are captured on a real Debian 12 test host: `readTreeCommand(dest).text`
 * piped to `ssh root@host sh`, for a tree made by
 *   mkdir -p "/srv/cap/sub dir"; printf 'hello\n' > /srv/cap/a.txt; printf x > "/srv/cap/sub dir/q'uote<NL>nl";
 *   ln -sf /etc/hosts /srv/cap/link; : > /srv/cap/empty; chmod 600 /srv/cap/a.txt; chown nobody /srv/cap/empty
 * debian12-copy-read.tree.txt is dest /srv/cap, debian12-copy-read.file.txt dest /srv/cap/a.txt
 * (stored base64 with their command; re-capture with test/support/capture-read.ts)
 * (NUL-separated: find -printf, then sha256sum -z). A missing dest printed "@provision:absent\n", exit 0.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { copy } from "../../../src/steps/copy.ts";
import { parseHostTree, readTreeCommand } from "../../../src/steps/copy-tree.ts";
import { applied, mockHost, run } from "./system-hosts.ts";
import { capturedRead } from "../../support/captured-read.ts";

const ok = (stdout: Buffer | string) => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });
/**
 * The output captured on the host (fixtures/debian12-copy-read.<name>.txt, base64: it is NUL-separated),
 * after asserting that copy's real read of `dest` still sends the captured command.
 */
const captured = (name: "tree" | "file", dest: string) =>
  capturedRead(new URL(`fixtures/debian12-copy-read.${name}.txt`, import.meta.url), copy({ src, dest }).read()).result.stdout;
const TREE = () => parseHostTree(ok(captured("tree", "/srv/cap")), "/srv/cap");
const QUOTE = "sub dir/q'uote\nnl";

let src: string;
beforeEach(() => {
  src = mkdtempSync(join(tmpdir(), "copy-test-"));
  // The same tree as on the host, minus the symlink.
  mkdirSync(join(src, "sub dir"));
  writeFileSync(join(src, "a.txt"), "hello\n");
  writeFileSync(join(src, QUOTE), "x");
  writeFileSync(join(src, "empty"), "");
});
afterEach(() => rmSync(src, { recursive: true, force: true }));

describe("copy: reading the host's tree", () => {
  it("parses every entry, names with spaces, quotes and newlines included, with its digest", () => {
    const tree = TREE();
    expect([...(tree?.keys() ?? [])].sort()).toEqual(["", "a.txt", "empty", "link", "sub dir", QUOTE]);
    expect(tree?.get("a.txt")).toEqual({
      type: "f",
      owner: "root",
      group: "root",
      mode: "0600",
      size: 6,
      sha256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
    });
    expect(tree?.get(QUOTE)?.sha256).toBe("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
    expect(tree?.get("empty")?.owner).toBe("nobody");
    expect(tree?.get("link")?.type).toBe("l");
    expect(tree?.get("")?.type).toBe("d");
  });

  it("parses a single file as the root entry, and a missing dest as null", () => {
    const file = parseHostTree(ok(captured("file", "/srv/cap/a.txt")), "/srv/cap/a.txt");
    expect([...(file?.entries() ?? [])]).toEqual([["", expect.objectContaining({ type: "f", mode: "0600", size: 6 })]]);
    expect(parseHostTree(ok("@provision:absent\n"), "/srv/cap")).toBeNull();
  });

  it("fails on a listing cut short, and on a failed read", () => {
    const cut = captured("tree", "/srv/cap").subarray(0, 40);
    expect(() => parseHostTree(ok(cut), "/srv/cap")).toThrow(/cut short/);
    expect(() =>
      parseHostTree({ exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from("find: Permission denied") }, "/srv/cap"),
    ).toThrow(/Permission denied/);
  });

  it("quotes a hostile dest in the one read command", () => {
    expect(readTreeCommand("/srv/a b'c\n-d").text).toContain("find '/srv/a b'\\''c\n-d' -printf");
  });
});

describe("copy: diff", () => {
  it("names only what differs: the symlink's place is not the source's business without delete", () => {
    expect(copy({ src, dest: "/srv/cap" }).diff(TREE())).toBeNull();
  });

  it("names a content change, a mode change, a new file and a new directory", () => {
    writeFileSync(join(src, "a.txt"), "hello!\n");
    mkdirSync(join(src, "new"));
    writeFileSync(join(src, "new", "f"), "f");
    const change = copy({ src, dest: "/srv/cap", mode: "0644" }).diff(TREE());
    // a.txt is 0600 on the host: its mode travels with the write; the others are 0644 already.
    expect(change?.summary).toBe("create directory new, content a.txt, create new/f");
  });

  it("with owner and delete: the owner that differs and the extra symlink", () => {
    const change = copy({ src, dest: "/srv/cap", owner: "root", delete: true }).diff(TREE());
    expect(change?.summary).toBe("delete link, empty: owner nobody → root");
  });

  it("creates everything when dest is absent", () => {
    expect(copy({ src, dest: "/srv/cap", dirMode: "750" }).diff(null)?.summary).toBe(
      `create directory, create directory "sub dir", create a.txt, create empty, create ${JSON.stringify(QUOTE)}`,
    );
  });

  it("a single file: content and mode, named without a path", () => {
    const one = join(src, "a.txt");
    const tree = parseHostTree(ok(captured("file", "/srv/cap/a.txt")), "/srv/cap/a.txt");
    expect(copy({ src: one, dest: "/srv/cap/a.txt" }).diff(tree)).toBeNull();
    expect(copy({ src: one, dest: "/srv/cap/a.txt", mode: "644" }).diff(tree)?.summary).toBe("mode 0600 → 0644");
    writeFileSync(one, "other\n");
    expect(copy({ src: one, dest: "/srv/cap/a.txt" }).diff(tree)?.summary).toBe("content");
  });

  it("refuses to replace a type that differs (a directory where the source has a file)", () => {
    rmSync(join(src, "sub dir"), { recursive: true });
    writeFileSync(join(src, "sub dir"), "now a file");
    expect(() => copy({ src, dest: "/srv/cap" }).diff(TREE())).toThrow(
      /"\/srv\/cap\/sub dir" is a directory on the host, but the source has a file/,
    );
  });

  it.each([
    ["a symlink in the source", () => symlinkSync("/etc/hosts", join(src, "l")), {}, /is a symlink/],
    ["a missing source", () => rmSync(src, { recursive: true }), {}, /cannot be read on the controller/],
    ["delete for a single file", () => undefined, { file: true, delete: true }, /dirMode and delete apply to a directory/],
    ["a relative dest", () => undefined, { dest: "srv" }, /dest: must be an absolute path/],
    ["a bad mode", () => undefined, { mode: "u+x" }, /mode: must be an octal mode/],
    ["an owner that is an option", () => undefined, { owner: "--reference=/etc/shadow" }, /owner: must be a user or group name/],
  ])("refuses %s", (_what, prepare, extra, message) => {
    prepare();
    const { file, ...rest } = extra as { file?: boolean };
    expect(() => copy({ src: file ? join(src, "a.txt") : src, dest: "/srv/cap", ...rest } as never)).toThrow(message);
  });
});

describe("copy: apply", () => {
  it("deletes, creates directories, writes each changed file through the verified writer, then fixes metadata", async () => {
    writeFileSync(join(src, "a.txt"), "hello!\n");
    mkdirSync(join(src, "-new dir"));
    writeFileSync(join(src, "-new dir", "f"), "f");
    const host = mockHost("debian12")
      .on(/^(rm|mkdir|chown|chmod|set -e)/, {})
      .on(/^if \[ -e \/srv\/cap \]/, { stdout: captured("tree", "/srv/cap") });
    const { step } = await run(host, "apply", () => [copy({ src, dest: "/srv/cap", owner: "root", dirMode: "0750", delete: true })]);
    expect(step?.status, step?.error).toBe("changed");
    const commands = applied(host);
    expect(commands[0]).toBe("rm -rf -- /srv/cap/link");
    expect(commands[1]).toBe(
      "mkdir -p -- '/srv/cap/-new dir' && chown -h -- root '/srv/cap/-new dir' && chmod -- 0750 '/srv/cap/-new dir'",
    );
    expect(commands[2]).toContain("path='/srv/cap/-new dir/f'\n");
    expect(commands[3]).toContain("path=/srv/cap/a.txt\n");
    expect(commands[3]).toContain('chown -- root "$tmp"');
    // The existing directories (0755) get dirMode; the file owned by nobody gets its owner.
    expect(commands[4]).toBe("chmod -- 0750 /srv/cap && chown -h -- root /srv/cap/empty && chmod -- 0750 '/srv/cap/sub dir'");
    expect(commands).toHaveLength(5);
    const write = host.commands.find((c) => c.command.includes("path=/srv/cap/a.txt"));
    expect(write?.stdin.toString()).toBe(`7 ${sha("hello!\n")}\nhello!\n`);
  });

  it("--check sends nothing after the read", async () => {
    writeFileSync(join(src, "a.txt"), "hello!\n");
    const host = mockHost("debian12").on(/^if \[ -e \/srv\/cap \]/, { stdout: captured("tree", "/srv/cap") });
    const { step } = await run(host, "check", () => [copy({ src, dest: "/srv/cap" })]);
    expect(step?.status).toBe("would-change");
    expect(step?.summary).toBe("content a.txt");
    expect(applied(host)).toEqual([]);
  });
});

function sha(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
