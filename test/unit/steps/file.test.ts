/**
 * file, directory and groupMember: read output in → diff out; current → apply commands out.
 * They are the same on every distro (GNU coreutils and shadow-utils on Debian and RHEL alike).
 */
import { describe, expect, it } from "vitest";
import { file } from "../../../src/steps/file.ts";
import { directory } from "../../../src/steps/directory.ts";
import { groupMember } from "../../../src/steps/group-member.ts";
import { parseFileState } from "../../../src/transport/remote-file.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

const ok = (stdout: string) => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });

describe("file", () => {
  const step = file({ path: "/etc/motd", content: "hello\n", owner: "root", group: "adm", mode: "640" });

  it.each([
    ["absent", "@provision:absent\n", "create (root:adm 0640)"],
    ["converged", "root adm 0640 regular file\nhello\n", null],
    ["other content", "root adm 0640 regular file\nbye\n", "content"],
    ["other owner and mode", "root root 0644 regular file\nhello\n", "group root → adm, mode 0644 → 0640"],
    ["no trailing newline", "root adm 0640 regular file\nhello", "content"],
  ])("%s", (_label, stdout, summary) => {
    const change = step.diff(parseFileState(ok(stdout), "/etc/motd"));
    expect(change?.summary ?? null).toBe(summary);
  });

  it("shows a text diff only when the content differs", () => {
    const change = step.diff(parseFileState(ok("root adm 0640 regular file\nbye\n"), "/etc/motd"));
    expect(change?.diff).toEqual({ label: "/etc/motd", before: "bye\n", after: "hello\n" });
    expect(step.diff(parseFileState(ok("root root 0640 regular file\nhello\n"), "/etc/motd"))?.diff).toBeUndefined();
  });

  it("refuses to replace a directory", () => {
    expect(() => step.diff(parseFileState(ok("root root 0755 directory\n"), "/etc/motd"))).toThrow(/is a directory, not a regular file/);
  });

  it.each(["debian12", "rocky9"] as const)("%s: writes atomically when content differs, only chown/chmod otherwise", async (distro) => {
    const host = mockHost(distro).file("/etc/motd", "bye\n", { owner: "root", group: "root", mode: "0644" });
    const first = await run(host, "apply", () => [step]);
    expect(first.step?.status).toBe("changed");
    expect(host.files.get("/etc/motd")).toMatchObject({ owner: "root", group: "adm", mode: "0640" });
    expect(host.files.get("/etc/motd")?.content.toString()).toBe("hello\n");
    expect(applied(host).some((c) => c.includes("mktemp") && c.includes("mv -f --"))).toBe(true);

    host.file("/etc/motd", "hello\n", { owner: "root", group: "adm", mode: "0600" });
    host.on(/^chmod -- /, {});
    const second = await run(host, "apply", () => [step]);
    expect(second.step?.summary).toBe("mode 0600 → 0640");
    expect(applied(host).at(-1)).toBe("chmod -- 0640 /etc/motd");
  });

  it("runs the validation command on the temp file, before the rename", () => {
    const validated = file({ path: "/etc/sudoers.d/x", content: "x\n", validate: "visudo -cf %s" });
    expect(validated.name).toBe("file /etc/sudoers.d/x");
    expect(() => file({ path: "/etc/x", content: "", validate: "visudo -cf" })).toThrow(/must contain %s/);
    expect(() => file({ path: "relative", content: "" })).toThrow(/path: must be an absolute path/);
  });
});

describe("directory", () => {
  const step = directory({ path: "/srv/app", owner: "www-data", mode: "0750" });

  it.each([
    ["absent", "@provision:absent\n", "create (www-data 0750)"],
    ["converged", "www-data root 0750 directory\n", null],
    ["wrong mode", "www-data root 0755 directory\n", "mode 0755 → 0750"],
  ])("%s", (_label, stdout, summary) => {
    expect(step.diff(parseFileState(ok(stdout), "/srv/app"))?.summary ?? null).toBe(summary);
  });

  it("creates with parents, then sets owner and mode", async () => {
    const host = mockHost("centos7").on(/^mkdir -p /, {});
    await run(host, "apply", () => [step]);
    expect(applied(host)).toEqual(["mkdir -p -- /srv/app && chown -- www-data /srv/app && chmod -- 0750 /srv/app"]);
  });
});

describe("groupMember", () => {
  const step = groupMember({ user: "postfix", group: "sasl" });

  it.each([
    ["debian12", "postfix\n", "would-change"],
    ["debian12", "postfix sasl\n", "ok"],
    ["rocky9", "postfix mail\n", "would-change"],
  ] as const)("%s with groups %j: %s", async (distro, groups, status) => {
    const host = mockHost(distro).on(/id -nG/, { stdout: groups });
    expect((await run(host, "check", () => [step])).step?.status).toBe(status);
  });

  it("adds with usermod -a -G, and a missing group is a read error, not a change", async () => {
    const host = mockHost("debian12")
      .on(/id -nG/, { stdout: "postfix\n" })
      .on(/^usermod /, {});
    await run(host, "apply", () => [step]);
    expect(applied(host)).toEqual(["usermod -a -G sasl -- postfix"]);
    const missing = mockHost("rocky9").on(/getent group/, { exitCode: 4, stderr: "no group sasl\n" });
    const report = await run(missing, "check", () => [step]);
    expect(report.step?.status).toBe("failed");
    expect(report.step?.error).toContain("no group sasl");
  });
});
