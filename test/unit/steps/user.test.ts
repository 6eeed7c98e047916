/**
 * user and group: read outputs captured on a real Debian 12 test host (shadow-utils, the same
 * tools and formats on RHEL) → diff; plan → the one command apply sends.
 *
 * Captured with: `npx tsx` printing `readUserCommand(name[, secret(hash)]).text` piped to
 * `ssh root@10.213.8.10 sh`, after `useradd -m -u 2001 -s /bin/sh -c "App user" -G sudo,adm app1`
 * and `printf "app1:%s\n" "$(openssl passwd -6 -salt abc s3cret)" | chpasswd -e`; groups with
 * `readGroupCommand(name).text` the same way.
 */
import { describe, expect, it } from "vitest";
import { user, parseUserState, type UserParams } from "../../../src/steps/user.ts";
import { group, parseGroupState } from "../../../src/steps/group.ts";
import { secret } from "../../../src/shell/secret.ts";
import { quote } from "../../../src/shell/quote.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

const ok = (stdout: string) => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });

const HASH = "$6$abc$Qciy6P8ZI4.BUgLFaLq4ucJ/kaRX8v1UyAM81WBAsuW.zwYw31yCKomfTgHAlZwPGi/aFdo83BhJQPQYtp74M0";
const CAPTURED = {
  deploy: "passwd=deploy:x:1000:1000::/home/deploy:/bin/bash\ngroup=deploy\ngroups=deploy\n",
  absent: "absent\n",
  app1Mismatch: "passwd=app1:x:2001:2001:App user:/home/app1:/bin/sh\ngroup=app1\ngroups=app1 adm sudo\npassword=mismatch\n",
  app1Match: "passwd=app1:x:2001:2001:App user:/home/app1:/bin/sh\ngroup=app1\ngroups=app1 adm sudo\npassword=match\n",
};

describe("user: parse", () => {
  it("reads the passwd entry, primary and supplementary groups, and the password comparison", () => {
    expect(parseUserState(ok(CAPTURED.app1Match), "app1")).toEqual({
      exists: true,
      uid: 2001,
      group: "app1",
      groups: ["adm", "sudo"],
      comment: "App user",
      home: "/home/app1",
      shell: "/bin/sh",
      password: "match",
    });
    expect(parseUserState(ok(CAPTURED.deploy), "deploy")).toMatchObject({ groups: [], password: "unchecked", comment: "" });
    expect(parseUserState(ok(CAPTURED.absent), "nosuch")).toEqual({ exists: false });
    expect(() => parseUserState({ ...ok(""), exitCode: 1, stderr: Buffer.from("boom") }, "x")).toThrow(/cannot read user x: boom/);
    expect(() => parseUserState(ok("passwd=other:x:1:1::/:/bin/sh\ngroup=g\n"), "x")).toThrow(/cannot parse/);
  });
});

describe("user: diff", () => {
  const pw = secret(HASH);
  it.each([
    ["absent → create", {}, CAPTURED.absent, "create"],
    [
      "absent → create with all",
      { uid: 2001, groups: ["sudo"], shell: "/bin/sh", system: true, password: pw },
      CAPTURED.absent,
      "create (uid 2001, groups sudo, shell /bin/sh, system, password hash)",
    ],
    ["converged", { uid: 2001, shell: "/bin/sh", groups: ["sudo", "adm"], password: pw }, CAPTURED.app1Match, null],
    ["groups exact: one extra, one missing", { groups: ["sudo", "www-data"] }, CAPTURED.app1Match, "add to www-data, remove from adm"],
    ["groups append: only missing", { groups: ["www-data"], append: true }, CAPTURED.app1Match, "add to www-data"],
    ["groups append: nothing missing", { groups: ["adm"], append: true }, CAPTURED.app1Match, null],
    ["empty groups removes all", { groups: [] }, CAPTURED.app1Match, "remove from adm,sudo"],
    [
      "uid, shell, home, comment",
      { uid: 2002, shell: "/bin/bash", home: "/srv/app1", comment: "x" },
      CAPTURED.app1Match,
      'uid 2001 → 2002, shell /bin/sh → /bin/bash, home /home/app1 → /srv/app1, comment "App user" → "x"',
    ],
    ["password differs (never shown)", { password: pw }, CAPTURED.app1Mismatch, "password hash differs"],
    ["primary group", { group: "adm" }, CAPTURED.app1Match, "group app1 → adm"],
    ["absent wanted, present", { state: "absent", remove: true }, CAPTURED.app1Match, "remove user app1 and its home"],
    ["absent wanted, absent", { state: "absent" }, CAPTURED.absent, null],
  ] as const)("%s", (_label, params, stdout, summary) => {
    const step = user({ name: "app1", ...params } as UserParams);
    expect(step.diff(parseUserState(ok(stdout), "app1"))?.summary ?? null).toBe(summary);
  });
});

describe("user: apply", () => {
  const cases = [
    {
      label: "create with everything, password on stdin through chpasswd -e",
      params: { name: "app1", uid: 2001, groups: ["sudo", "adm"], shell: "/bin/sh", comment: "App user", password: secret(HASH) },
      read: CAPTURED.absent,
      command: `useradd -u 2001 -G sudo,adm -s /bin/sh -c 'App user' -m -- app1 && printf '%s' ${quote(`app1:${HASH}`)} | chpasswd -e`,
    },
    {
      label: "create a system user without home",
      params: { name: "svc", system: true, createHome: false },
      read: CAPTURED.absent,
      command: "useradd -r -M -- svc",
    },
    { label: "exact groups", params: { name: "app1", groups: ["sudo"] }, read: CAPTURED.app1Match, command: "usermod -G sudo -- app1" },
    {
      label: "appended groups",
      params: { name: "app1", groups: ["www-data"], append: true },
      read: CAPTURED.app1Match,
      command: "usermod -a -G www-data -- app1",
    },
    {
      label: "only the password",
      params: { name: "app1", password: secret(HASH) },
      read: CAPTURED.app1Mismatch,
      command: `printf '%s' ${quote(`app1:${HASH}`)} | chpasswd -e`,
    },
    { label: "remove", params: { name: "app1", state: "absent" as const }, read: CAPTURED.app1Match, command: "userdel -- app1" },
    {
      label: "remove with home",
      params: { name: "app1", state: "absent" as const, remove: true },
      read: CAPTURED.app1Match,
      command: "userdel -r -- app1",
    },
  ];
  it.each(cases)("$label", async ({ params, read, command }) => {
    const host = mockHost("debian12")
      .on(/^u=/, { stdout: read })
      .on(/^(useradd|usermod|userdel|printf) /, {});
    const { step } = await run(host, "apply", () => [user(params)]);
    expect(step?.status, step?.error).toBe("changed");
    expect(applied(host)).toEqual([command]);
  });

  it("the hash never reaches argv, a report or an event; it travels only in a script on stdin", async () => {
    for (const read of [CAPTURED.absent, CAPTURED.app1Mismatch]) {
      for (const mode of ["check", "apply"] as const) {
        const host = mockHost("debian12")
          .on(/^u=/, { stdout: read })
          .on(/^(useradd|printf) /, {});
        const { report, events } = await run(host, mode, () => [user({ name: "app1", password: secret(HASH) })]);
        expect(report.steps[0]?.status).toBe(mode === "apply" ? "changed" : "would-change");
        for (const exec of host.execs) {
          expect(exec.command).not.toContain(HASH);
          if (exec.stdin.includes(HASH)) expect(exec.command).toBe("sh -s");
        }
        expect(host.execs.some((e) => e.stdin.includes(HASH))).toBe(true);
        expect(JSON.stringify({ report, events })).not.toContain(HASH);
      }
    }
  });

  it("a failing chpasswd is reported with the hash masked", async () => {
    const host = mockHost("debian12")
      .on(/^u=/, { stdout: CAPTURED.app1Mismatch })
      .on(/^printf/, { exitCode: 1, stderr: "chpasswd: line 1: user 'app1' does not exist\n" });
    const { report } = await run(host, "apply", () => [user({ name: "app1", password: secret(HASH) })]);
    expect(report.steps[0]?.status).toBe("failed");
    expect(report.steps[0]?.error).toContain("printf '%s' *** | chpasswd -e");
    expect(JSON.stringify(report)).not.toContain(HASH);
  });

  it("reads the password comparison on the host, from a builtin printf", async () => {
    const host = mockHost("debian12").on(/^u=/, { stdout: CAPTURED.app1Match });
    await run(host, "check", () => [user({ name: "app1", password: secret(HASH) })]);
    const read = host.commands.find((c) => c.batched)?.command ?? "";
    expect(read).toContain(`want=$(printf '%s' ${quote(HASH)} | cat)`);
    expect(read).toContain('if [ "$want" = "$have" ]; then echo password=match; else echo password=mismatch; fi');
  });

  it.each([
    [{ name: "-rf" }, /name: must be a user or group name/],
    [{ name: "a b" }, /name: must be a user or group name/],
    [{ name: "x".repeat(33) }, /name: must be at most 32/],
    [{ name: "app", shell: "/bin/sh:0" }, /shell: must not contain ':'/],
    [{ name: "app", home: "/home/a\nroot::0:0::/:/bin/sh" }, /home: must not contain ':', a line break/],
    [{ name: "app", comment: "a:b" }, /comment: must not contain ':'/],
    [{ name: "app", groups: ["sudo,root"] }, /groups.0: must be a user or group name/],
    [{ name: "app", password: HASH }, /password: must be a secret/],
    [{ name: "app", password: secret("x\nroot:$6$y") }, /password: must be a crypt\(3\) hash/],
    [{ name: "app", uid: -1 }, /uid:/],
    [{ name: "app", shel: "/bin/sh" }, /unknown parameter/i],
  ])("refuses hostile or wrong params %j", (params, message) => {
    expect(() => user(params as never)).toThrow(message);
  });

  it("stores a hostile comment exactly as one quoted argv word", async () => {
    const comment = "x'; touch /tmp/pwned; echo '$(id)`id`";
    const host = mockHost("debian12")
      .on(/^u=/, { stdout: CAPTURED.absent })
      .on(/^useradd /, {});
    await run(host, "apply", () => [user({ name: "app1", comment })]);
    expect(applied(host)).toEqual([`useradd -c ${quote(comment)} -m -- app1`]);
  });
});

describe("group", () => {
  // Captured: readGroupCommand("sudo") after useradd -G sudo,adm app1; "nosuch" → getent exit 2.
  it.each([
    ["absent → create", { name: "app" }, "absent\n", "create"],
    ["absent → create with gid, system", { name: "app", gid: 901, system: true }, "absent\n", "create (gid 901, system)"],
    ["converged", { name: "sudo", gid: 27 }, "sudo:x:27:app1\n", null],
    ["gid differs", { name: "sudo", gid: 28 }, "sudo:x:27:app1\n", "gid 27 → 28"],
    ["remove", { name: "sudo", state: "absent" }, "sudo:x:27:app1\n", "remove group sudo"],
    ["absent, converged", { name: "app", state: "absent" }, "absent\n", null],
  ] as const)("%s", (_label, params, stdout, summary) => {
    expect(group(params).diff(parseGroupState(ok(stdout), params.name))?.summary ?? null).toBe(summary);
  });

  it("parses members", () => {
    expect(parseGroupState(ok("sudo:x:27:app1,deploy\n"), "sudo")).toEqual({ exists: true, gid: 27, members: ["app1", "deploy"] });
  });

  it.each([
    [{ name: "app", gid: 901, system: true }, "absent\n", "groupadd -g 901 -r -- app"],
    [{ name: "app" }, "absent\n", "groupadd -- app"],
    [{ name: "sudo", gid: 28 }, "sudo:x:27:\n", "groupmod -g 28 -- sudo"],
    [{ name: "sudo", state: "absent" as const }, "sudo:x:27:\n", "groupdel -- sudo"],
  ])("%j applies %j as one command", async (params, read, command) => {
    const host = mockHost("rocky9")
      .on(/getent group/, { stdout: read })
      .on(/^group(add|mod|del) /, {});
    const { step } = await run(host, "apply", () => [group(params)]);
    expect(step?.status, step?.error).toBe("changed");
    expect(applied(host)).toEqual([command]);
  });

  it("refuses a hostile name", () => {
    expect(() => group({ name: "-g0" })).toThrow(/name: must be a user or group name/);
    expect(() => group({ name: "a\nb" })).toThrow(/name: must be a user or group name/);
  });
});
