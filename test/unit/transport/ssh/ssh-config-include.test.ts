/**
 * ~/.ssh/config as OpenSSH reads it: `Include` (a host defined in an included file resolves to
 * its HostName/Port, not to `name:22`), `ProxyCommand` (tokens expanded), and a warning naming
 * file:line for every directive in effect that provision does not honour.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveSshTarget, resolveSshTargetFromText } from "../../../../src/transport/ssh/ssh-config.ts";

const home = mkdtempSync(path.join(os.tmpdir(), "provision-include-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const ssh = path.join(home, ".ssh");
mkdirSync(path.join(ssh, "config.d"), { recursive: true });
const base = { homeDir: home, localUser: "tester" };

function file(name: string, text: string): string {
  const full = path.join(ssh, name);
  writeFileSync(full, text);
  return full;
}

describe("Include", () => {
  file("config.d/10-foo.conf", "Host foo\n  HostName 10.213.0.20\n  Port 2201\n  User deploy\n");
  file("config.d/20-bar.conf", "Host bar\n  HostName 10.213.0.21\n");
  file("extra", "Host baz\n  HostName 10.213.0.22\n  Include nested\n");
  file("nested", "  User nested-user\n");
  const config = file(
    "config",
    ["Host web", "  Include config.d/*.conf", "  Port 2222", "Include extra ~/.ssh/missing", "Host *", "  User fallback", ""].join("\n"),
  );

  it("resolves a host defined in an included file (relative to ~/.ssh, wildcards in name order)", () => {
    const foo = resolveSshTarget("foo", { ...base, sshConfigPath: config });
    expect(foo).toMatchObject({ hostname: "10.213.0.20", port: 2201, user: "deploy" });
    expect(resolveSshTarget("bar", { ...base, sshConfigPath: config })).toMatchObject({
      hostname: "10.213.0.21",
      port: 22,
      user: "fallback",
    });
    // Nested Include inside a Host block of an included file.
    expect(resolveSshTarget("baz", { ...base, sshConfigPath: config })).toMatchObject({ hostname: "10.213.0.22", user: "nested-user" });
  });

  it("reopens the enclosing block after an Include: the lines after it stay in their block", () => {
    // `Port 2222` follows the Include inside `Host web`; without reopening it would land in `Host bar`.
    expect(resolveSshTarget("web", { ...base, sshConfigPath: config }).port).toBe(2222);
    expect(resolveSshTarget("bar", { ...base, sshConfigPath: config }).port).toBe(22);
  });

  it("says when an included file does not exist", () => {
    const target = resolveSshTarget("other", { ...base, sshConfigPath: config });
    expect(target.warnings).toEqual([`${config}:4: Include ${path.join(ssh, "missing")}: no such file (skipped, as OpenSSH does)`]);
  });

  it("refuses an Include loop after 16 levels", () => {
    const loop = file("loop", "Include loop\n");
    expect(() => resolveSshTarget("x", { ...base, sshConfigPath: loop })).toThrow(/loop:1: Include nested more than 16 deep/);
  });
});

describe("ProxyCommand", () => {
  const text =
    "Host db\n  HostName 10.0.0.7\n  User pg\n  Port 2200\n  ProxyCommand ssh -W %h:%p -l %r bastion echo 100%% %n\n  ProxyJump ignored-jump\n";

  it("expands %h %p %r %n %% and takes precedence over the config's ProxyJump", () => {
    const target = resolveSshTargetFromText(text, "db", base);
    expect(target.proxyCommand).toBe("ssh -W 10.0.0.7:2200 -l pg bastion echo 100% db");
    expect(target.proxyJump).toEqual([]);
  });

  it("an explicit ProxyJump or ProxyCommand overrides; none disables", () => {
    expect(resolveSshTargetFromText(text, "db", { ...base, proxyJump: "jump" })).toMatchObject({ proxyJump: [{ host: "jump" }] });
    expect(resolveSshTargetFromText(text, "db", { ...base, proxyJump: "jump" }).proxyCommand).toBeUndefined();
    expect(resolveSshTargetFromText(text, "db", { ...base, proxyCommand: "nc %h %p" }).proxyCommand).toBe("nc 10.0.0.7 2200");
    expect(resolveSshTargetFromText(text, "db", { ...base, proxyCommand: "none" }).proxyCommand).toBeUndefined();
  });
});

describe("directives provision does not honour", () => {
  it("warn with file:line, once each, only where they apply to the host", () => {
    file("config.d/30-opts.conf", "Host app\n  ControlMaster auto\n  ForwardAgent yes\n");
    const config = file(
      "config-opts",
      [
        "Host other",
        "  Compression yes",
        "Host app web",
        "  HostName 10.0.0.9",
        "  ServerAliveInterval 30",
        "Include config.d/30-opts.conf",
        "Host *",
        "  ServerAliveInterval 60",
        "",
      ].join("\n"),
    );
    const target = resolveSshTarget("app", { ...base, sshConfigPath: config });
    expect(target.hostname).toBe("10.0.0.9");
    expect(target.warnings).toEqual([
      `${config}:5: ServerAliveInterval is not honoured by provision: ignored (host app)`,
      `${path.join(ssh, "config.d/30-opts.conf")}:2: ControlMaster is not honoured by provision: ignored (host app)`,
      `${path.join(ssh, "config.d/30-opts.conf")}:3: ForwardAgent is not honoured by provision: ignored (host app)`,
    ]);
    expect(resolveSshTarget("web", { ...base, sshConfigPath: config }).warnings).toEqual([
      `${config}:5: ServerAliveInterval is not honoured by provision: ignored (host web)`,
    ]);
  });

  it("honoured directives do not warn", () => {
    const target = resolveSshTargetFromText(
      "Host h\n  HostName x\n  User u\n  Port 2\n  IdentityFile k\n  HostKeyAlias a\n  StrictHostKeyChecking yes\n",
      "h",
      base,
    );
    expect(target.warnings).toEqual([]);
  });
});
