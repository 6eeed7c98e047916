import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { secret } from "../../../../src/shell/secret.ts";
import { sudoCommand, sudoFailure, sudoStdin } from "../../../../src/transport/ssh/sudo.ts";
import { stdinParts, type Stdin } from "../../../../src/transport/transport.ts";

const result = (exitCode: number, stderr: string) => ({ exitCode, stdout: Buffer.alloc(0), stderr: Buffer.from(stderr) });

describe("sudo wrapping", () => {
  it("without a password: exec sudo -n -- /bin/sh -c <quoted command>", () => {
    expect(sudoCommand("echo 'hi' && id -u", false)).toBe(`exec sudo -n -- /bin/sh -c 'echo '\\''hi'\\'' && id -u'`);
  });

  it("the wrapped command survives quoting: /bin/sh sees the original text", () => {
    const command = `printf '%s\\n' "$HOME" 'it'\\''s' \`echo x\` $((1+1)); echo "a  b"`;
    const wrapped = sudoCommand(command, false);
    const inner = wrapped.slice("exec sudo -n -- /bin/sh -c ".length);
    // Let a real POSIX shell unquote the argument and hand it back.
    const seen = execFileSync("/bin/sh", ["-c", `printf '%s' ${inner}`]).toString();
    expect(seen).toBe(command);
  });

  it("with a password: the password is never in the command line, only on stdin", () => {
    const password = secret("s3cr3t-sudo-pw");
    const command = sudoCommand("cat > /etc/x", true);
    expect(command).not.toContain("s3cr3t-sudo-pw");
    expect(command).toContain("sudo -n true");
    expect(command).toContain("-k -S -p ''");
    expect(command.endsWith(`exec sudo "$@" -- /bin/sh -c 'cat > /etc/x'`)).toBe(true);
    const bytes = (stdin: Stdin) => Buffer.concat(stdinParts(stdin));
    const stdin = bytes(sudoStdin(password, Buffer.from([0, 1, 2, 10, 255])));
    expect(stdin.equals(Buffer.concat([Buffer.from("s3cr3t-sudo-pw\n"), Buffer.from([0, 1, 2, 10, 255])]))).toBe(true);
    expect(bytes(sudoStdin(password, undefined)).toString()).toBe("s3cr3t-sudo-pw\n");
    expect(bytes(sudoStdin(undefined, "data")).toString()).toBe("data");
  });

  it("with a timeout backstop: runs the command under timeout -s KILL, still quoted exactly once", () => {
    const command = `printf '%s|' "it's" "$0"; echo`;
    const wire = sudoCommand(command, false, 2.3);
    expect(wire).toContain("timeout -s KILL 3");
    const fakeSudo = `sudo() { while [ "$1" != "--" ]; do shift; done; shift; "$@"; }`;
    const out = execFileSync("/bin/sh", ["-c", `${fakeSudo}; ${wire.replace(/^exec /, "")}`]).toString();
    expect(out).toBe("it's|/bin/sh|\n");
  });

  it("refuses a password with a newline (it would split into two lines of stdin)", () => {
    expect(() => sudoStdin(secret("sudo-pw-a\nsudo-pw-b"), "x")).toThrow(/newline/);
  });

  it("the wrapper's shell part: drops exactly the password line when sudo needs none", () => {
    // Simulate the host with a fake `sudo` on PATH: `sudo -n true` succeeds, then it runs the command.
    const fakeSudo = `sudo() { if [ "$1 $2" = "-n true" ]; then return 0; fi; while [ "$1" != "--" ]; do shift; done; shift; "$@"; }`;
    const wire = sudoCommand("cat", true).replace("exec sudo", "sudo");
    const out = execFileSync("/bin/sh", ["-c", `${fakeSudo}; ${wire}`], {
      input: Buffer.concat([Buffer.from("pw\n"), Buffer.from("line1\nline2\n\0end")]),
    });
    expect(out.equals(Buffer.from("line1\nline2\n\0end"))).toBe(true);
  });
});

describe("sudoFailure", () => {
  it("explains a missing password, naming the user and what to configure", () => {
    const message = sudoFailure(result(1, "sudo: a password is required\n"), "deploy2");
    expect(message).toMatch(/deploy2/);
    expect(message).toMatch(/become\.password/);
    expect(sudoFailure(result(1, "sudo: a terminal is required to read the password; either use…\n"), "u")).toMatch(/password/);
  });

  it("explains a wrong password and a missing sudoers rule", () => {
    expect(sudoFailure(result(1, "Sorry, try again.\nsudo: 1 incorrect password attempt\n"), "u")).toMatch(/wrong/);
    expect(sudoFailure(result(1, "Sorry, try again.\nsudo: no password was provided\nsudo: 1 incorrect password attempt\n"), "u")).toMatch(
      /wrong/,
    );
    expect(sudoFailure(result(1, "u is not in the sudoers file.  This incident will be reported.\n"), "u")).toMatch(/sudoers/);
    expect(sudoFailure(result(127, "sh: 1: sudo: not found\n"), "u")).toMatch(/not installed/);
  });

  it("leaves the command's own failures alone", () => {
    expect(sudoFailure(result(1, "grep: nothing\n"), "u")).toBeUndefined();
    expect(sudoFailure(result(2, "sudo: a password is required\n"), "u")).toBeUndefined();
    expect(sudoFailure(result(0, ""), "u")).toBeUndefined();
  });
});
