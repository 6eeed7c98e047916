import { describe, expect, it } from "vitest";
import { sasldbUser, type SasldbUserParams } from "../../../src/steps/sasldb-user.ts";
import { groupMember } from "../../../src/steps/group-member.ts";
import { secret } from "../../../src/shell/secret.ts";
import { quote } from "../../../src/shell/quote.ts";
import { applied, mockHost, run, type Distro } from "./system-hosts.ts";

const PASSWORD = "Tr0ub4dor&3 'quoted' $HOME";
const base = { user: "alice", realm: "mail.example.org", password: secret(PASSWORD) };
const DEBIAN = { ...base, group: "sasl", mode: "0640", chrootCopy: "/var/spool/postfix/etc/sasldb2" };
const SET = `printf '%s' '${PASSWORD.replace(/'/g, `'\\''`)}' | saslpasswd2 -p -c -u mail.example.org -f /etc/sasldb2 -- alice`;
const COPY =
  "mkdir -p -- /var/spool/postfix/etc && cp -p -- /etc/sasldb2 /var/spool/postfix/etc/sasldb2.provision-tmp && mv -f -- /var/spool/postfix/etc/sasldb2.provision-tmp /var/spool/postfix/etc/sasldb2";

const cases: { title: string; distro: Distro; params: SasldbUserParams; read: string; summary: string | null; commands: string[] }[] = [
  {
    title: "debian: converged (password matches, copy identical)",
    distro: "debian12",
    params: DEBIAN,
    read: "db=root sasl 0640\ncopy=root sasl 0640\nuser=present\npassword=match\n",
    summary: null,
    commands: [],
  },
  {
    title: "debian: no db yet → add, set group/mode, copy into the chroot",
    distro: "debian12",
    params: DEBIAN,
    read: "db=absent\n",
    summary: "add alice@mail.example.org, group → sasl, mode → 0640, sync chroot copy /var/spool/postfix/etc/sasldb2",
    commands: [`${SET} && chown -- :sasl /etc/sasldb2 && chmod -- 0640 /etc/sasldb2 && ${COPY}`],
  },
  {
    title: "debian: password changed → reset, copy again",
    distro: "debian12",
    params: DEBIAN,
    read: "db=root sasl 0640\ncopy=root sasl 0640\nuser=present\npassword=mismatch\n",
    summary: "reset password of alice@mail.example.org (stored password differs), sync chroot copy /var/spool/postfix/etc/sasldb2",
    commands: [`${SET} && ${COPY}`],
  },
  {
    title: "debian: only the chroot copy differs",
    distro: "debian12",
    params: DEBIAN,
    read: "db=root sasl 0640\ncopy=differs\nuser=present\npassword=match\n",
    summary: "sync chroot copy /var/spool/postfix/etc/sasldb2",
    commands: [COPY],
  },
  {
    title: "debian: db mode drifted",
    distro: "debian12",
    params: DEBIAN,
    read: "db=root sasl 0660\ncopy=root sasl 0660\nuser=present\npassword=match\n",
    summary: "mode 0660 → 0640, sync chroot copy /var/spool/postfix/etc/sasldb2",
    commands: ["chown -- :sasl /etc/sasldb2 && chmod -- 0640 /etc/sasldb2 && " + COPY],
  },
  {
    title: "centos 7 (the seed): chown postfix, no chroot",
    distro: "centos7",
    params: { ...base, owner: "postfix" },
    read: "db=root root 0640\nuser=absent\n",
    summary: "add alice@mail.example.org, owner root → postfix",
    commands: [`${SET} && chown -- postfix /etc/sasldb2`],
  },
  {
    title: "rocky 9: absent removes the user",
    distro: "rocky9",
    params: { ...base, state: "absent" },
    read: "db=root root 0640\nuser=present\npassword=match\n",
    summary: "remove alice@mail.example.org",
    commands: ["saslpasswd2 -d -u mail.example.org -f /etc/sasldb2 -- alice"],
  },
  {
    title: "absent and no db → ok",
    distro: "rocky9",
    params: { ...base, state: "absent" },
    read: "db=absent\n",
    summary: null,
    commands: [],
  },
  {
    title: "on-create: a present user is converged without a compare",
    distro: "rocky9",
    params: { ...base, passwordCheck: "on-create" },
    read: "db=root root 0640\nuser=present\n",
    summary: null,
    commands: [],
  },
];

describe("sasldbUser", () => {
  it.each(cases)("$title", async (c) => {
    const check = mockHost(c.distro).on(/^db=/, { stdout: c.read });
    const checked = await run(check, "check", () => [sasldbUser(c.params)]);
    expect(checked.step?.summary).toBe(c.summary ?? undefined);
    expect(checked.step?.status).toBe(c.summary ? "would-change" : "ok");
    expect(applied(check)).toEqual([]);

    const host = mockHost(c.distro)
      .on(/^(printf|saslpasswd2|chown|chmod|mkdir)/, { exitCode: 0 })
      .on(/^db=/, { stdout: c.read });
    const result = await run(host, "apply", () => [sasldbUser(c.params)]);
    expect(result.step?.status).toBe(c.summary ? "changed" : "ok");
    expect(applied(host)).toEqual(c.commands);
  });

  it("an uncomparable db fails the read and says what to install", async () => {
    const host = mockHost("rocky9").on(/^db=/, { stdout: "db=root root 0640\nuser=present\npassword=unverifiable\n" });
    const { step } = await run(host, "check", () => [sasldbUser(base)]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("neither db_dump");
    expect(step?.error).toContain('passwordCheck: "on-create"');
  });

  it("compares on the host: the expected password reaches it only inside a builtin printf, in a script on stdin", async () => {
    const host = mockHost("debian12").on(/^db=/, { stdout: "db=root sasl 0640\nuser=present\npassword=match\n" });
    await run(host, "check", () => [sasldbUser(DEBIAN)]);
    const read = host.commands.find((c) => c.batched)?.command ?? "";
    expect(read).toContain("want=$(printf '%s' ");
    expect(read).toContain("| od -A n -t x1 -v | tr -d ' \\n')");
    // The key is user\0realm\0userPassword, in hex as db_dump prints it.
    expect(read).toContain(Buffer.from("alice\0mail.example.org\0userPassword").toString("hex"));
    expect(read).toContain('if [ "$have" = "$want" ]; then pw=match; else pw=mismatch; fi');
  });

  it("the password never appears in argv, nor in any event or report", async () => {
    const cases = ["db=absent\n", "db=root sasl 0640\ncopy=differs\nuser=present\npassword=mismatch\n"];
    for (const read of cases) {
      for (const mode of ["check", "apply"] as const) {
        const host = mockHost("debian12")
          .on(/^(printf|saslpasswd2|chown|chmod|mkdir)/, { exitCode: 0 })
          .on(/^db=/, { stdout: read });
        const { report, events } = await run(host, mode, () => [sasldbUser(DEBIAN), groupMember({ user: "postfix", group: "sasl" })]);
        for (const exec of host.execs) {
          expect(exec.command).not.toContain(PASSWORD);
          expect(exec.command).not.toContain(quote(PASSWORD));
          if (exec.stdin.includes(quote(PASSWORD))) expect(exec.command).toBe("sh -s");
        }
        // It did travel: inside the stdin of `sh -s` (read in both modes; in apply also the fresh
        // read under the host lock, and saslpasswd2).
        expect(host.execs.filter((e) => e.stdin.includes(quote(PASSWORD))).length).toBe(mode === "apply" ? 3 : 1);
        const everything = JSON.stringify({ report, events });
        expect(everything).not.toContain(PASSWORD);
        expect(everything).not.toContain(Buffer.from(PASSWORD).toString("hex"));
      }
    }
  });

  it("a failing saslpasswd2 is reported with the secret masked", async () => {
    const host = mockHost("debian12")
      .on(/^printf/, { exitCode: 1, stderr: "saslpasswd2: generic failure\n" })
      .on(/^db=/, { stdout: "db=absent\n" });
    const { report } = await run(host, "apply", () => [sasldbUser(DEBIAN)]);
    expect(report.steps[0]?.status).toBe("failed");
    expect(report.steps[0]?.error).toContain("printf '%s' *** | saslpasswd2");
    expect(JSON.stringify(report)).not.toContain(PASSWORD);
  });

  it("refuses a plain string as password", () => {
    expect(() => sasldbUser({ ...base, password: "plain" as never })).toThrow(/must be a secret/);
  });
});

describe("groupMember", () => {
  it.each([
    { groups: "postfix\n", summary: "add postfix to sasl", commands: ["usermod -a -G sasl -- postfix"] },
    { groups: "postfix sasl\n", summary: null, commands: [] },
  ])("$summary", async ({ groups, summary, commands }) => {
    const host = mockHost("debian12")
      .on(/^usermod/, { exitCode: 0 })
      .on(/^getent group sasl/, { stdout: groups });
    const { step } = await run(host, "apply", () => [groupMember({ user: "postfix", group: "sasl" })]);
    expect(step?.summary).toBe(summary ?? undefined);
    expect(applied(host)).toEqual(commands);
  });

  it("a missing group is a read error", async () => {
    const host = mockHost("debian12").on(/^getent group sasl/, { exitCode: 4, stderr: "no group sasl\n" });
    const { step } = await run(host, "check", () => [groupMember({ user: "postfix", group: "sasl" })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("no group sasl");
  });
});
