/**
 * hostname and timezone. Reads captured on a real Debian 12 test host (th01): the steps' read
 * commands (`hostname({ name }).read().command.text`, `readTimezoneCommand(zoneinfo).text`)
 * piped to `ssh root@10.213.8.10 sh`.
 */
import { describe, expect, it } from "vitest";
import { hostname, parseHostnameState } from "../../../src/steps/hostname.ts";
import { parseTimezoneState, timezone } from "../../../src/steps/timezone.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

/** What a verified write wrote: the stdin after its `<length> <sha256>` header line (remote-file.ts). */
const written = (stdin: Buffer | undefined) => stdin?.subarray(stdin.indexOf(10) + 1).toString();

const ok = (stdout: string) => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });
const HOST = "live=th01\nroot root 0644 regular file\nth01\n";
const TZ = {
  berlin: "link=/usr/share/zoneinfo/Etc/UTC\nzone=yes\nfile=yes\nEtc/UTC\n",
  unknown: "link=/usr/share/zoneinfo/Etc/UTC\nzone=no\nfile=yes\nEtc/UTC\n",
};

describe("hostname", () => {
  it.each([
    ["converged", "th01", HOST, null],
    ["both differ", "mail.example.org", HOST, "/etc/hostname: th01 → mail.example.org, live th01 → mail.example.org"],
    ["only live differs", "th01", HOST.replace("live=th01", "live=other"), "live other → th01"],
    ["no file", "th01", "live=th01\n@provision:absent\n", "/etc/hostname: (none) → th01"],
  ])("%s", (_label, name, stdout, summary) => {
    expect(hostname({ name }).diff(parseHostnameState(ok(stdout)))?.summary ?? null).toBe(summary);
  });

  it("writes the file atomically at the top level, then sets the live name", async () => {
    const host = mockHost("debian12")
      .on(/^printf 'live=/, { stdout: HOST })
      .on(/^# provision-file write v1 /, {});
    await run(host, "apply", () => [hostname({ name: "mail.example.org" })]);
    const [script] = applied(host);
    expect(
      script?.startsWith(
        '# provision-file write v1 {"path":"/etc/hostname","mode":"0644"}\nset -e; umask 077; dir=/etc; path=/etc/hostname\n',
      ),
    ).toBe(true);
    expect(script?.endsWith("trap - EXIT\nhostname -- mail.example.org")).toBe(true);
    // The content follows the `<length> <sha256>` line the host verifies it by (remote-file.ts).
    expect(written(host.commands.find((c) => c.command === script)?.stdin)).toBe("mail.example.org\n");
  });

  it.each(["-rf", "a_b", "a..b", "x".repeat(64), "a;reboot", "a\nb"])("refuses %j", (name) => {
    expect(() => hostname({ name })).toThrow(/name: must be/);
  });
});

describe("timezone", () => {
  it.each([
    [
      "UTC → Berlin",
      "Europe/Berlin",
      TZ.berlin,
      "/etc/localtime → /usr/share/zoneinfo/Etc/UTC → /usr/share/zoneinfo/Europe/Berlin, /etc/timezone: content",
    ],
    ["converged", "Etc/UTC", TZ.berlin, null],
    ["no /etc/timezone (RHEL)", "Etc/UTC", "link=/usr/share/zoneinfo/Etc/UTC\nzone=yes\nfile=no\n", null],
  ])("%s", (_label, name, stdout, summary) => {
    expect(timezone({ name }).diff(parseTimezoneState(ok(stdout)))?.summary ?? null).toBe(summary);
  });

  it("an unknown zone is an error, never a dangling link", async () => {
    const host = mockHost("debian12").on(/^printf 'link=/, { stdout: TZ.unknown });
    const { step } = await run(host, "apply", () => [timezone({ name: "Nowhere/City" })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("unknown time zone Nowhere/City");
    expect(applied(host)).toEqual([]);
  });

  it("repoints /etc/localtime atomically, then writes /etc/timezone", async () => {
    const host = mockHost("debian12")
      .on(/^printf 'link=/, { stdout: TZ.berlin })
      .on(/^t=\$\(mktemp/, {});
    await run(host, "apply", () => [timezone({ name: "Europe/Berlin" })]);
    const [script] = applied(host);
    expect(
      script?.startsWith(
        't=$(mktemp -u /etc/.provision-localtime.XXXXXX) && ln -s -- /usr/share/zoneinfo/Europe/Berlin "$t" && mv -T -f -- "$t" /etc/localtime || exit 1\n# provision-file write v1 {"path":"/etc/timezone","mode":"0644"}\nset -e;',
      ),
    ).toBe(true);
  });

  it.each(["../../../etc/shadow", "Europe/../../x", "a b", "Europe/Berlin;id"])("refuses %j", (name) => {
    expect(() => timezone({ name })).toThrow(/name: must be a time zone name/);
  });
});
