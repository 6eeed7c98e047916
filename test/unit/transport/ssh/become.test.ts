/**
 * become_user and become_method su: the wire command (never the password), run through a real
 * /bin/sh with stand-in `su`/`sudo` functions that print what they were asked, and what the CLI
 * refuses rather than run silently as someone else.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { connectHost } from "../../../../src/cli/connect.ts";
import { parseRunArgs } from "../../../../src/cli/args.ts";
import { secret } from "../../../../src/shell/secret.ts";
import { becomeCommand, stripSuPrompt, suFailure, sudoStdin } from "../../../../src/transport/ssh/sudo.ts";
import { stdinParts } from "../../../../src/transport/transport.ts";

const result = (exitCode: number, stderr: string) => ({ exitCode, stdout: Buffer.alloc(0), stderr: Buffer.from(stderr) });

/** Run `wire` under /bin/sh where su/sudo print their arguments, then run the command as-is. */
function simulate(wire: string, stdin: string, uid = 1000): string {
  const fakes =
    `id() { if [ "$1" = -u ]; then echo ${uid}; else command id "$@"; fi; }; ` +
    `su() { printf 'su'; for a in "$@"; do printf ' [%s]' "$a"; done; echo; while [ "$1" != -c ]; do shift; done; /bin/sh -c "$2"; }; ` +
    `sudo() { printf 'sudo'; for a in "$@"; do printf ' [%s]' "$a"; done; echo; case " $* " in *" true ") return 0;; esac; while [ "$1" != -- ]; do shift; done; shift; "$@"; }; `;
  return execFileSync("/bin/sh", ["-c", fakes + wire.replace(/exec (su|sudo) /g, "$1 ")], { input: stdin }).toString();
}

describe("become wrappers", () => {
  it("su: the target user after --, the command quoted once, the password line read by su (non-root)", () => {
    const wire = becomeCommand(`printf '%s\\n' "it's"; cat`, { method: "su", user: "post gres", password: secret("pw-123-long") });
    expect(wire).not.toContain("pw-123");
    const stdin = Buffer.concat(stdinParts(sudoStdin(secret("pw-123-long"), "data line\n"))).toString();
    // The fake su does not read the password line: the command sees it, as real su would not.
    expect(simulate(wire, stdin)).toBe(
      `su [-s] [/bin/sh] [-c] [exec /bin/sh -c 'printf '\\''%s\\n'\\'' "it'\\''s"; cat'] [--] [post gres]\nit's\npw-123-long\ndata line\n`,
    );
  });

  it("su from root: the wrapper drops the password line itself (su asks nothing then)", () => {
    const wire = becomeCommand("cat", { method: "su", user: "pg", password: secret("pw-123-long") });
    expect(simulate(wire, "pw-123-long\ndata line\n", 0)).toBe("su [-s] [/bin/sh] [-c] [exec /bin/sh -c cat] [--] [pg]\ndata line\n");
  });

  it("sudo with become_user: -u USER in the probe and the command", () => {
    expect(becomeCommand("id -un", { method: "sudo", user: "postgres" })).toBe(`exec sudo -n -u postgres -- /bin/sh -c 'id -un'`);
    const wire = becomeCommand("cat", { method: "sudo", user: "postgres", password: secret("x-pass-long") });
    expect(wire).toContain(`sudo -n -u postgres true`);
    expect(simulate(wire, "x-pass-long\nrest\n")).toBe(
      "sudo [-n] [-u] [postgres] [true]\nsudo [-n] [-u] [postgres] [--] [/bin/sh] [-c] [cat]\nrest\n",
    );
    expect(becomeCommand("id", { method: "sudo", user: "root" })).toBe(`exec sudo -n -- /bin/sh -c id`);
  });

  it("strips su's prompt and explains su's own failures", () => {
    expect(stripSuPrompt(Buffer.from("Password: real stderr")).toString()).toBe("real stderr");
    expect(stripSuPrompt(Buffer.from("other")).toString()).toBe("other");
    expect(suFailure(result(1, "Password: su: Authentication failure\n"), "deploy", "root")).toBeUndefined(); // prompt stripped first
    expect(suFailure(result(1, "su: Authentication failure\n"), "deploy", "root")).toBe(
      "su from deploy to root refused the password (the become password must be root's)",
    );
    expect(
      suFailure(result(1, "su: user pg does not exist or the user entry does not contain all the required fields\n"), "deploy", "pg"),
    ).toBe("su: user pg does not exist on the host");
    expect(suFailure(result(1, "some command failed\n"), "deploy", "root")).toBeUndefined();
  });
});

describe("connections the CLI refuses instead of running as someone else", () => {
  const args = parseRunArgs(["p.ts", "--host", "x"]);
  it("an unsupported become method, connection type, or become with connection=local", async () => {
    await expect(connectHost({ name: "h1", connection: "winrm" }, args)).rejects.toThrow(
      "h1: ansible_connection=winrm is not supported (ssh and local are)",
    );
    await expect(connectHost({ name: "h2", connection: "local", become: true }, args)).rejects.toThrow(
      /h2: become with ansible_connection=local is not supported/,
    );
    await expect(connectHost({ name: "h3", address: "127.0.0.1", port: 1, become: true, becomeMethod: "doas" }, args)).rejects.toThrow(
      "h3: ansible_become_method=doas is not supported (sudo and su are)",
    );
  });

  it("ansible_connection=local runs here whatever the host's name", async () => {
    const t = await connectHost({ name: "db.example.com", connection: "local" }, args);
    expect((await t.exec("echo here")).stdout.toString()).toBe("here\n");
    await t.close();
  });
});
