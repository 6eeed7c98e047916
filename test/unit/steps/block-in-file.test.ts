/**
 * blockInFile, sudoers and absent.
 *
 * The blockInFile expectations are Ansible's own output (ansible-core 2.x on this controller):
 * `ansible localhost -c local -i localhost, -m blockinfile -a '<args>'` on a file holding
 * "line one\n# anchor\nline three\n" (args in each case's label). Our edit must produce the same
 * text, and must take over a block Ansible wrote (replace it, remove it, leave it when equal).
 */
import { describe, expect, it } from "vitest";
import { blockInFile, type BlockInFileParams } from "../../../src/steps/block-in-file.ts";
import { sudoers } from "../../../src/steps/sudoers.ts";
import { absent } from "../../../src/steps/absent.ts";
import { parseFileState } from "../../../src/transport/remote-file.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

const BASE = "line one\n# anchor\nline three\n";
const ANSIBLE_F1 = `${BASE}# BEGIN ANSIBLE MANAGED BLOCK\nnet.ipv4.ip_forward = 1\nvm.x = 2\n# END ANSIBLE MANAGED BLOCK\n`;
const ok = (stdout: string) => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });

/** The edit as the step builds it (defaults applied by the schema). */
function edit(text: string, params: Omit<BlockInFileParams, "path">): string {
  const step = blockInFile({ path: "/etc/x", create: true, ...params });
  const change = step.diff(parseFileState(ok(`root root 0644 regular file\n${text}`), "/etc/x"));
  return change?.diff?.after ?? text;
}

describe("blockInFile: the same text as Ansible's blockinfile", () => {
  it.each([
    ['block="net.ipv4.ip_forward = 1\\nvm.x = 2"', BASE, { block: "net.ipv4.ip_forward = 1\nvm.x = 2\n" }, ANSIBLE_F1],
    [
      'block="hello" insertafter="^# anchor" marker="// {mark} custom" marker_begin=START marker_end=STOP',
      BASE,
      { block: "hello", insertAfter: "^# anchor", marker: "// {mark} custom", markerBegin: "START", markerEnd: "STOP" },
      "line one\n# anchor\n// START custom\nhello\n// STOP custom\nline three\n",
    ],
    [
      'block="changed" (on the block above)',
      ANSIBLE_F1,
      { block: "changed" },
      `${BASE}# BEGIN ANSIBLE MANAGED BLOCK\nchanged\n# END ANSIBLE MANAGED BLOCK\n`,
    ],
    ["state=absent (on the block above)", ANSIBLE_F1, { state: "absent" as const }, BASE],
    [
      'block="top" insertbefore=BOF (on "a\\nb\\n")',
      "a\nb\n",
      { block: "top", insertBefore: "BOF" },
      "# BEGIN ANSIBLE MANAGED BLOCK\ntop\n# END ANSIBLE MANAGED BLOCK\na\nb\n",
    ],
  ])("%s", (_args, before, params, after) => {
    expect(edit(before, params)).toBe(after);
  });
});

describe("blockInFile: step", () => {
  const step = blockInFile({ path: "/etc/sysctl.d/90-x.conf", block: "net.ipv4.ip_forward = 1\nvm.x = 2\n" });
  it("an Ansible-written block with the same lines is converged", () => {
    expect(step.diff(parseFileState(ok(`root root 0644 regular file\n${ANSIBLE_F1}`), "/etc/sysctl.d/90-x.conf"))).toBeNull();
  });
  it("a tampered block is content drift with a diff", () => {
    const change = step.diff(parseFileState(ok(`root root 0644 regular file\n${ANSIBLE_F1.replace("= 1", "= 0")}`), "/x"));
    expect(change?.summary).toBe("content");
    expect(change?.diff?.before).toContain("ip_forward = 0");
    expect(change?.diff?.after).toContain("ip_forward = 1");
  });
  it("a missing file needs create: true; absent on a missing file is converged", () => {
    expect(() => step.diff({ exists: false })).toThrow(/does not exist \(set create: true/);
    expect(blockInFile({ path: "/etc/x", state: "absent" }).diff({ exists: false })).toBeNull();
    expect(blockInFile({ path: "/etc/x", block: "a", create: true }).diff({ exists: false })?.summary).toBe("create");
  });
  it("applies with an atomic write of the edited text", async () => {
    const host = mockHost("debian12").file("/etc/x", BASE);
    await run(host, "apply", () => [blockInFile({ path: "/etc/x", block: "k = v" })]);
    expect(host.files.get("/etc/x")?.content.toString()).toBe(`${BASE}# BEGIN ANSIBLE MANAGED BLOCK\nk = v\n# END ANSIBLE MANAGED BLOCK\n`);
    expect(applied(host).some((c) => c.includes("mktemp") && c.includes("mv -f --"))).toBe(true);
  });
  it.each([
    [{ path: "/etc/x", marker: "# no mark" }, /marker: must contain \{mark\}/],
    [{ path: "/etc/x", marker: "# {mark}\nevil" }, /marker: one line/],
    [{ path: "/etc/x", block: "# END ANSIBLE MANAGED BLOCK\nroot ALL=(ALL) ALL" }, /must not contain its own marker lines/],
    [{ path: "/etc/x", insertAfter: "(" }, /invalid regular expression/],
    [{ path: "/etc/x", insertAfter: "a", insertBefore: "b" }, /not both/],
    [{ path: "/etc/x", blok: "x" }, /unknown parameter/i],
  ])("refuses %j", (params, message) => {
    expect(() => blockInFile(params as never)).toThrow(message);
  });
});

describe("sudoers", () => {
  it("writes a root:root 0440 drop-in validated by visudo -cf on the temp file", async () => {
    const host = mockHost("debian12");
    const step = sudoers({
      name: "app",
      group: "admins",
      runAs: "root",
      nopassword: true,
      commands: ["/usr/bin/systemctl restart app", "/bin/echo a,b:c=d\\e"],
    });
    expect(step).toMatchObject({ kind: "sudoers", name: "sudoers app" });
    const { report } = await run(host, "apply", () => [step]);
    expect(report.steps[0]?.status, report.steps[0]?.error).toBe("changed");
    // The rule visudo parsed OK on a Debian 12 test host (visudo -cf, "parsed OK").
    expect(host.files.get("/etc/sudoers.d/app")).toMatchObject({ owner: "root", group: "root", mode: "0440" });
    expect(host.files.get("/etc/sudoers.d/app")?.content.toString()).toBe(
      "%admins ALL=(root) NOPASSWD: /usr/bin/systemctl restart app, /bin/echo a\\,b\\:c\\=d\\\\e\n",
    );
    const write = applied(host).find((c) => c.includes("mktemp")) ?? "";
    expect(write).toContain('visudo -cf "$tmp" >&2 || { echo "provision: validation failed" >&2; exit 3; }');
    expect(write.indexOf("visudo -cf")).toBeLessThan(write.indexOf('mv -f -- "$tmp" "$path"'));
  });

  it("content as given; state absent removes the drop-in", async () => {
    expect(
      sudoers({ name: "deploy", content: "deploy ALL=(ALL:ALL) NOPASSWD: ALL" }).diff(
        parseFileState(ok("root root 0440 regular file\ndeploy ALL=(ALL:ALL) NOPASSWD: ALL"), "/x"),
      ),
    ).toBeNull();
    const gone = sudoers({ name: "deploy", state: "absent" });
    expect(gone).toMatchObject({ kind: "sudoers", name: "sudoers deploy absent" });
    expect(gone.diff(parseFileState(ok("root root 0440 regular file\n"), "/x"))?.summary).toBe("remove regular file");
  });

  it.each([
    [{ name: "app.conf", content: "x" }, /name: must be letters, digits, _ or -/],
    [{ name: "app~", content: "x" }, /name: must be letters/],
    [{ name: "../sudoers", content: "x" }, /name: must be letters/],
    [{ name: "app" }, /give either content, or user or group/],
    [{ name: "app", content: "x", user: "a" }, /give either content/],
    [{ name: "app", user: "a", commands: ["/bin/x\nALL ALL=(ALL) NOPASSWD: ALL"] }, /commands.0: must be one line/],
    [{ name: "app", user: "a", runAs: "root) ALL" }, /runAs: must not contain parentheses/],
    [{ name: "app", user: "a b" }, /user: must be a user or group name/],
  ])("refuses %j", (params, message) => {
    expect(() => sudoers(params as never)).toThrow(message);
  });
});

describe("absent", () => {
  // Captured with readFileCommand(path, { metaOnly: true }) on a Debian 12 test host.
  it.each([
    ["a directory", "root root 0755 directory\n", "remove directory"],
    ["a symlink", "root root 0777 symbolic link\n", "remove symbolic link"],
    ["a file", "root root 0644 regular file\n", "remove regular file"],
    ["nothing", "@provision:absent\n", null],
  ])("%s", (_label, stdout, summary) => {
    expect(absent({ path: "/srv/t1" }).diff(parseFileState(ok(stdout), "/srv/t1"))?.summary ?? null).toBe(summary);
  });

  it("renames a directory aside before removing it; a link or file is unlinked", async () => {
    const host = mockHost("debian12")
      .on(/^p=/, {})
      .on(/@provision:absent/, { stdout: "root root 0755 directory\n" });
    await run(host, "apply", () => [absent({ path: "/srv/t1" })]);
    const cmd = applied(host)[0] ?? "";
    expect(cmd).toMatch(/^p=\/srv\/t1; d=\/srv\n/);
    expect(cmd).toContain('mv -T -- "$p" "$t/x"');
    expect(cmd).toContain('rm -f -- "$p"');
  });

  it.each(["/", "relative", "/srv/..", "/srv/."])("refuses %j", (path) => {
    expect(() => absent({ path })).toThrow(/path: must/);
  });
});
