import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseJumpSpec, parseProxyJump, resolveSshTarget, resolveSshTargetFromText } from "../../../../src/transport/ssh/ssh-config.ts";

const tmp = mkdtempSync(path.join(os.tmpdir(), "provision-sshcfg-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const home = "/home/tester";
const base = { homeDir: home, localUser: "tester" };

const CONFIG = `
# global
IdentityFile ~/.ssh/global_key

Host web web.alias
  HostName 10.213.0.11
  User deploy
  Port 2222
  IdentityFile ~/.ssh/web_key
  IdentityFile /abs/%r_%h_key
  ProxyJump bastion,root@jump2:2200
  UserKnownHostsFile ~/.ssh/kh_one /etc/kh_two
  StrictHostKeyChecking accept-new

Host bastion
  HostName 10.213.0.10
  User jumper

Host loose
  StrictHostKeyChecking no

Host strict
  StrictHostKeyChecking yes

Host aliased
  HostName real.example
  HostKeyAlias pinned-name

Host wild-*
  HostName %h.internal
  User wild

Host *
  User fallback
  Port 22
`;

describe("resolveSshTargetFromText", () => {
  it("resolves an alias: HostName, User, Port, IdentityFile (~ and %tokens), ProxyJump, known hosts, accept-new", () => {
    const t = resolveSshTargetFromText(CONFIG, "web", base);
    expect(t.alias).toBe("web");
    expect(t.hostname).toBe("10.213.0.11");
    expect(t.user).toBe("deploy");
    expect(t.port).toBe(2222);
    expect(t.identityFiles).toEqual(["/home/tester/.ssh/global_key", "/home/tester/.ssh/web_key", "/abs/deploy_10.213.0.11_key"]);
    expect(t.identityFilesConfigured).toBe(true);
    expect(t.proxyJump).toEqual([{ host: "bastion" }, { host: "jump2", user: "root", port: 2200 }]);
    expect(t.userKnownHostsFiles).toEqual(["/home/tester/.ssh/kh_one", "/etc/kh_two"]);
    expect(t.globalKnownHostsFiles).toEqual(["/etc/ssh/ssh_known_hosts"]);
    expect(t.acceptNewHostKeys).toBe(true);
  });

  it("first value wins (the Host * defaults do not override the specific block)", () => {
    expect(resolveSshTargetFromText(CONFIG, "bastion", base).user).toBe("jumper");
    expect(resolveSshTargetFromText(CONFIG, "unknown-host", base)).toMatchObject({
      hostname: "unknown-host",
      user: "fallback",
      port: 22,
      proxyJump: [],
      acceptNewHostKeys: false,
      userKnownHostsFiles: ["/home/tester/.ssh/known_hosts"],
    });
  });

  it("matches any name of a multi-name Host line and wildcards, expanding %h", () => {
    expect(resolveSshTargetFromText(CONFIG, "web.alias", base).hostname).toBe("10.213.0.11");
    expect(resolveSshTargetFromText(CONFIG, "wild-one", base)).toMatchObject({ hostname: "wild-one.internal", user: "wild" });
  });

  it("explicit options win over the config", () => {
    const t = resolveSshTargetFromText(CONFIG, "web", {
      ...base,
      hostname: "10.213.0.99",
      user: "root",
      port: 22,
      identityFiles: ["/keys/mine"],
      proxyJump: "none",
      knownHostsFiles: ["/tmp/kh"],
      acceptNewHostKeys: false,
    });
    expect(t).toMatchObject({
      hostname: "10.213.0.99",
      user: "root",
      port: 22,
      identityFiles: ["/keys/mine"],
      proxyJump: [],
      userKnownHostsFiles: ["/tmp/kh"],
      globalKnownHostsFiles: [],
      acceptNewHostKeys: false,
    });
  });

  it("StrictHostKeyChecking: no → accept new keys (changed keys are still refused elsewhere); yes → refuse", () => {
    expect(resolveSshTargetFromText(CONFIG, "loose", base).acceptNewHostKeys).toBe(true);
    expect(resolveSshTargetFromText(CONFIG, "strict", base).acceptNewHostKeys).toBe(false);
  });

  it("HostKeyAlias is reported for known_hosts lookups", () => {
    expect(resolveSshTargetFromText(CONFIG, "aliased", base)).toMatchObject({ hostname: "real.example", hostKeyAlias: "pinned-name" });
  });

  it("without any config: the alias, port 22, the local user, default known_hosts", () => {
    const t = resolveSshTargetFromText("", "10.0.0.1", base);
    expect(t).toMatchObject({ hostname: "10.0.0.1", port: 22, user: "tester", identityFiles: [], identityFilesConfigured: false });
  });

  it("directive names are case-insensitive", () => {
    const t = resolveSshTargetFromText("Host x\n  hostname 1.2.3.4\n  USER bob\n  port 2022\n", "x", base);
    expect(t).toMatchObject({ hostname: "1.2.3.4", user: "bob", port: 2022 });
  });

  it("does not run Match exec (reading a config never runs a command)", () => {
    const marker = path.join(tmp, "match-exec-ran");
    const t = resolveSshTargetFromText(`Match exec "touch ${marker}"\n  User hacked\n`, "x", base);
    expect(t.user).toBe("tester");
    expect(existsSync(marker)).toBe(false);
  });

  it("rejects a bad port", () => {
    expect(() => resolveSshTargetFromText("Host x\n  Port 99999\n", "x", base)).toThrow(/port/);
  });
});

describe("resolveSshTarget (file)", () => {
  it("reads the config file given by sshConfigPath", () => {
    const file = path.join(tmp, "config");
    writeFileSync(file, CONFIG);
    expect(resolveSshTarget("web", { ...base, sshConfigPath: file }).hostname).toBe("10.213.0.11");
  });

  it("a missing explicit config file is an error; a missing default one is not", () => {
    expect(() => resolveSshTarget("web", { ...base, sshConfigPath: path.join(tmp, "nope") })).toThrow(/cannot read ssh config/);
    expect(resolveSshTarget("web", { ...base, homeDir: path.join(tmp, "empty-home") }).hostname).toBe("web");
  });

  it("sshConfigPath false reads no file", () => {
    expect(resolveSshTarget("web", { ...base, sshConfigPath: false }).hostname).toBe("web");
  });
});

describe("ProxyJump parsing", () => {
  it.each([
    ["bastion", { host: "bastion" }],
    ["root@bastion", { host: "bastion", user: "root" }],
    ["root@bastion:2222", { host: "bastion", user: "root", port: 2222 }],
    ["bastion:2222", { host: "bastion", port: 2222 }],
    ["ssh://me@bastion:2200", { host: "bastion", user: "me", port: 2200 }],
    ["[fe80::1]:2222", { host: "fe80::1", port: 2222 }],
    ["user@[::1]", { host: "::1", user: "user" }],
  ])("%s", (text, expected) => {
    expect(parseJumpSpec(text)).toEqual(expected);
  });

  it("splits a comma-separated chain, first hop first", () => {
    expect(parseProxyJump("a, b@c:23 ,d")).toEqual([{ host: "a" }, { host: "c", user: "b", port: 23 }, { host: "d" }]);
  });

  it("rejects nonsense", () => {
    expect(() => parseJumpSpec("@host")).toThrow();
    expect(() => parseJumpSpec("host:notaport")).toThrow();
  });
});
