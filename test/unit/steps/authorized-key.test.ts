/**
 * authorizedKey: the read (home, group, .ssh and file states) captured on a real Debian 12 test
 * host with `readAuthorizedKeysCommand(user, ".ssh", ".ssh/authorized_keys").text` piped to
 * `ssh root@10.213.8.10 sh` (root: the harness's key; app1: a user made with useradd -m, no .ssh;
 * nosuch: no user); keys made with `ssh-keygen -t ed25519`.
 */
import { describe, expect, it } from "vitest";
import { authorizedKey, editAuthorizedKeys, parseAuthorizedKeys, parseKeyLine } from "../../../src/steps/authorized-key.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

const ALICE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMUlZ3wNvYNTXz5FL2nAi1mMUC7X1wmesWaVPijOxS7l alice@laptop";
const BOB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGewDuUWZWMQpliVdkz85XuzHZyVSAG28FjFMjv/Bcdj bob@desk";
const HARNESS = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC1wofPpSJMrQKPx0IBO4V6sydr8Sm8y1p9EU9BkTnRL provision-testhosts";
const read = (file: string) => `home=/root\ngroup=root\nroot root 0700 directory\nroot root 0600 regular file\n${file}`;
const CAPTURED = {
  root: read(`${HARNESS}\n`),
  app1: "home=/home/app1\ngroup=app1\n@provision:absent\n@provision:absent\n",
};
const ok = (stdout: string) => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });

describe("authorizedKey: parsing", () => {
  it("reads home, group, the directory and the file", () => {
    const s = parseAuthorizedKeys(ok(CAPTURED.root), "root");
    expect(s).toMatchObject({
      home: "/root",
      group: "root",
      dir: { exists: true, type: "directory", mode: "0700" },
      file: { exists: true, mode: "0600" },
    });
    expect(s.file.content?.toString()).toBe(`${HARNESS}\n`);
    expect(parseAuthorizedKeys(ok(CAPTURED.app1), "app1")).toMatchObject({
      home: "/home/app1",
      dir: { exists: false },
      file: { exists: false },
    });
    expect(() => parseAuthorizedKeys({ ...ok(""), exitCode: 4, stderr: Buffer.from("no user nosuch\n") }, "nosuch")).toThrow(
      /no user nosuch/,
    );
  });

  it.each([
    [ALICE, { options: "", type: "ssh-ed25519", comment: "alice@laptop" }],
    [`no-pty,command="echo a b",from="10.0.0.0/8" ${BOB}`, { options: 'no-pty,command="echo a b",from="10.0.0.0/8"', comment: "bob@desk" }],
    [`command="say \\"hi there\\"" ${BOB}`, { options: 'command="say \\"hi there\\""' }],
    ["ecdsa-sha2-nistp256 AAAAE2VjZHNh", { type: "ecdsa-sha2-nistp256", comment: "" }],
  ])("%s", (line, expected) => {
    expect(parseKeyLine(line)).toMatchObject(expected);
  });

  it.each(["", "# comment", "not a key", "ssh-ed25519 not*base64"])("%j is no key", (line) => {
    expect(parseKeyLine(line)).toBeNull();
  });
});

describe("authorizedKey: edit", () => {
  const alice = parseKeyLine(ALICE)!;
  const bob = parseKeyLine(BOB)!;
  const present = { exclusive: false, state: "present" as const };
  it.each([
    ["appended", `${HARNESS}\n`, [alice], present, `${HARNESS}\n${ALICE}\n`, ["add alice@laptop"]],
    ["already there", `# keys\n${ALICE}\n`, [alice], present, `# keys\n${ALICE}\n`, []],
    [
      "options updated in place",
      `${HARNESS}\nno-pty ${ALICE}\n`,
      [alice],
      present,
      `${HARNESS}\n${ALICE}\n`,
      ["update alice@laptop (options)"],
    ],
    [
      "duplicate removed",
      `${ALICE}\n${HARNESS}\n${ALICE}\n`,
      [alice],
      present,
      `${ALICE}\n${HARNESS}\n`,
      ["remove duplicate of alice@laptop"],
    ],
    [
      "exclusive drops others, keeps comments",
      `# keys\n${HARNESS}\n${BOB}\n`,
      [alice, bob],
      { exclusive: true, state: "present" as const },
      `# keys\n${BOB}\n${ALICE}\n`,
      ["add alice@laptop", "remove 1 other key"],
    ],
    ["absent", `${ALICE}\n${HARNESS}\n`, [alice], { exclusive: false, state: "absent" as const }, `${HARNESS}\n`, ["remove alice@laptop"]],
    ["empty file", "", [alice], present, `${ALICE}\n`, ["add alice@laptop"]],
  ])("%s", (_label, before, keys, how, after, changes) => {
    expect(editAuthorizedKeys(before, keys, how)).toEqual({ text: after, changes });
  });
});

describe("authorizedKey: step", () => {
  it.each([
    ["root: add", { user: "root", key: ALICE }, CAPTURED.root, "add alice@laptop"],
    ["root: converged", { user: "root", key: HARNESS }, CAPTURED.root, null],
    ["root: exclusive", { user: "root", key: ALICE, exclusive: true }, CAPTURED.root, "add alice@laptop, remove 1 other key"],
    [
      "root: with options",
      { user: "root", key: HARNESS, options: 'from="10.213.0.0/16"' },
      CAPTURED.root,
      "update provision-testhosts (options)",
    ],
    ["app1: no .ssh, no file", { user: "app1", key: ALICE }, CAPTURED.app1, "add alice@laptop"],
    ["app1: absent when no file", { user: "app1", key: ALICE, state: "absent" as const }, CAPTURED.app1, null],
  ])("%s", (_label, params, stdout, summary) => {
    const step = authorizedKey(params);
    const change = step.diff(parseAuthorizedKeys(ok(stdout), params.user));
    expect(change?.summary ?? null).toBe(summary);
  });

  it("creates .ssh 0700 and a 0600 file owned by the user, writing the text on stdin", async () => {
    const host = mockHost("debian12")
      .on(/^u=app1/, { stdout: CAPTURED.app1 })
      .on(/^\{ mkdir -m 0700/, {});
    const { step } = await run(host, "apply", () => [authorizedKey({ user: "app1", key: ALICE })]);
    expect(step?.status, step?.error).toBe("changed");
    const sent = host.commands.find((c) => !c.batched && c.command.startsWith("{ mkdir"));
    expect(sent?.command).toMatch(
      /^\{ mkdir -m 0700 -- \/home\/app1\/\.ssh && chown -- app1:app1 \/home\/app1\/\.ssh; \} \|\| exit 1\n# provision-file write v1 \{"path":"\/home\/app1\/\.ssh\/authorized_keys","owner":"app1","group":"app1","mode":"0600"\}\nset -e;/,
    );
    expect(sent?.command).toContain("path=/home/app1/.ssh/authorized_keys");
    expect(sent?.command).toContain('chown -- app1:app1 "$tmp"');
    expect(sent?.command).toContain('chmod -- 0600 "$tmp"');
    // The content follows the `<length> <sha256>` line the host verifies it by (remote-file.ts).
    expect(sent?.stdin.toString().split("\n").slice(1).join("\n")).toBe(`${ALICE}\n`);
  });

  it("an existing file is rewritten atomically, keeping its owner and mode", async () => {
    const host = mockHost("debian12").on(/^u=root/, { stdout: CAPTURED.root });
    host.files.set("/root/.ssh/authorized_keys", { content: Buffer.from(`${HARNESS}\n`), owner: "root", group: "root", mode: "0600" });
    const { step } = await run(host, "apply", () => [authorizedKey({ user: "root", key: `${ALICE}\n${BOB}\n` })]);
    expect(step?.status, step?.error).toBe("changed");
    expect(host.files.get("/root/.ssh/authorized_keys")?.content.toString()).toBe(`${HARNESS}\n${ALICE}\n${BOB}\n`);
    expect(applied(host).every((c) => !c.includes('chown -- root:root "$tmp"') && !c.includes('chmod -- 0600 "$tmp"'))).toBe(true);
  });

  it("a missing user is a read error", async () => {
    const host = mockHost("debian12").on(/^u=nosuch/, { exitCode: 4, stderr: "no user nosuch\n" });
    const { step } = await run(host, "check", () => [authorizedKey({ user: "nosuch", key: ALICE })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("no user nosuch");
  });

  it.each([
    [{ user: "root", key: "rm -rf /" }, /key: not a public key line/],
    [{ user: "root", key: "# only a comment" }, /key: no public key given/],
    [{ user: "root", key: ALICE, options: "no-pty\nssh-rsa AAAA evil" }, /options must be one line/],
    [{ user: "root", key: ALICE, options: "no-pty ssh-rsa" }, /options: white space outside double quotes/],
    [{ user: "-root", key: ALICE }, /user: must be a user or group name/],
    [{ user: "root", key: ALICE, path: "relative" }, /path: must be an absolute path/],
    [{ user: "root", key: ALICE, exclusiv: true }, /unknown parameter/i],
  ])("refuses %j", (params, message) => {
    expect(() => authorizedKey(params as never)).toThrow(message);
  });
});
