import { describe, expect, it } from "vitest";
import { editLine, line, type LineParams } from "../../../src/steps/line.ts";
import { configKeys } from "../../../src/steps/config-keys.ts";
import { InvalidStepError } from "../../../src/playbook/step.ts";
import { mockHost, runSteps } from "./postfix-fake.ts";

const PATH = "/etc/ssh/sshd_config";
type Edit = Omit<LineParams, "path">;
const edit = (text: string, params: Edit) => {
  const step = line({ path: PATH, ...params });
  // the pure edit, through the step's own parameter parsing
  return { step, after: editLine(text, normalize(params)) };
};
const normalize = (p: Edit) => ({
  line: p.line,
  state: p.state ?? "present",
  regexp: p.regexp === undefined ? undefined : typeof p.regexp === "string" ? new RegExp(p.regexp) : p.regexp,
  insertAfter: p.insertAfter === undefined ? undefined : typeof p.insertAfter === "string" ? new RegExp(p.insertAfter) : p.insertAfter,
});

describe("line: the pure edit", () => {
  it.each<[string, string, Edit, string]>([
    ["appends a missing line", "a\nb\n", { line: "c" }, "a\nb\nc\n"],
    ["adds the missing final newline first", "a\nb", { line: "c" }, "a\nb\nc\n"],
    ["leaves a present line (anywhere) alone", "a\nc\nb", { line: "c" }, "a\nc\nb"],
    ["inserts after the last insertAfter match", "# A\nx\n# A\ny\n", { line: "new", insertAfter: "^# A" }, "# A\nx\n# A\nnew\ny\n"],
    ["insertAfter without a match appends", "x\n", { line: "new", insertAfter: "^nomatch" }, "x\nnew\n"],
    [
      "regexp: replaces the matching line in place",
      "Port 22\nPermitRootLogin yes\nX 1\n",
      { line: "PermitRootLogin no", regexp: "^PermitRootLogin" },
      "Port 22\nPermitRootLogin no\nX 1\n",
    ],
    [
      "regexp: no match → inserted",
      "Port 22\n",
      { line: "PermitRootLogin no", regexp: /^PermitRootLogin/ },
      "Port 22\nPermitRootLogin no\n",
    ],
    // the lineinfile trap: the regexp no longer matches the replaced line
    [
      "regexp that does not match the desired line: already converged",
      "PermitRootLogin no\n",
      { line: "PermitRootLogin no", regexp: "^PermitRootLogin yes" },
      "PermitRootLogin no\n",
    ],
    [
      "regexp matching several: the last becomes the line, the others go",
      "#P yes\nP yes\nX\nP maybe\n",
      { line: "P no", regexp: "^P " },
      "#P yes\nX\nP no\n",
    ],
    [
      "the desired line exists and a conflicting match too: keep the desired one, drop the conflict",
      "P no\nX\nP yes\n",
      { line: "P no", regexp: "^P " },
      "P no\nX\n",
    ],
    ["duplicates of the desired line are folded into one", "P no\nP no\n", { line: "P no", regexp: "^P " }, "P no\n"],
    ["regexp flags g/y are ignored (no lastIndex surprises)", "a=1\na=2\n", { line: "a=3", regexp: /^a=/g }, "a=3\n"],
    ["absent: removes every identical line", "a\nb\na\n", { line: "a", state: "absent" }, "b\n"],
    ["absent with regexp: removes every match", "a=1\nb\na=2\n", { regexp: "^a=", state: "absent" }, "b\n"],
    ["absent: nothing to do", "b\n", { line: "a", state: "absent" }, "b\n"],
    ["creates content for an empty file", "", { line: "x" }, "x\n"],
  ])("%s", (_name, before, params, expected) => {
    const { after } = edit(before, params);
    expect(after).toBe(expected);
    // the key property: the edit of its own output is no edit (apply twice = one line)
    expect(edit(after, params).after).toBe(after);
  });

  it("rejects a line with a line break and a bad regexp", () => {
    expect(() => line({ path: PATH, line: "a\nb" })).toThrow(InvalidStepError);
    expect(() => line({ path: PATH, line: "a", regexp: "(" })).toThrow(/invalid regular expression/);
    expect(() => line({ path: "relative", line: "a" })).toThrow(/absolute/);
    expect(() => line({ path: PATH, state: "absent" })).toThrow(/line is required/);
  });
});

describe("line: through the runner", () => {
  const sshd = "Port 22\n#PermitRootLogin prohibit-password\nPermitRootLogin yes\nUsePAM yes\n";
  const steps = () => [line({ path: PATH, line: "PermitRootLogin no", regexp: "^PermitRootLogin yes" })];

  it("apply → apply (one line, 0 changes) → check clean → tamper → drift → apply → clean", async () => {
    const host = mockHost().file(PATH, sshd, { owner: "root", group: "root", mode: "0600" });
    const first = await runSteps(host, steps, "apply");
    expect(first.steps[0]).toMatchObject({ status: "changed", summary: "content" });
    expect(first.steps[0]?.diff).toContain("-PermitRootLogin yes\n+PermitRootLogin no");
    const again = await runSteps(host, steps, "apply");
    expect(again.counts.changed).toBe(0);
    expect(host.files.get(PATH)?.content.toString()).toBe("Port 22\n#PermitRootLogin prohibit-password\nPermitRootLogin no\nUsePAM yes\n");
    expect(host.files.get(PATH)?.mode).toBe("0600"); // kept
    expect((await runSteps(host, steps, "check")).status).toBe("ok");

    host.file(PATH, `${host.files.get(PATH)?.content.toString()}PermitRootLogin yes\n`, { mode: "0600" });
    const drift = await runSteps(host, steps, "check");
    expect(drift.status).toBe("drift");
    expect(drift.steps[0]?.name).toBe("line /etc/ssh/sshd_config: PermitRootLogin no");
    expect(drift.steps[0]?.diff).toContain("-PermitRootLogin yes");
    await runSteps(host, steps, "apply");
    expect((await runSteps(host, steps, "check")).status).toBe("ok");
    expect(
      host.files
        .get(PATH)
        ?.content.toString()
        .match(/^PermitRootLogin/gm),
    ).toHaveLength(1);
  });

  it("check mode sends only reads", async () => {
    const host = mockHost().file(PATH, sshd);
    await runSteps(host, steps, "check");
    expect(host.commands.every((c) => c.batched || c.command.includes("uname -n"))).toBe(true);
  });

  it("a missing file is an error unless create: true; create sets owner/mode", async () => {
    const missing = await runSteps(mockHost(), steps, "check");
    expect(missing.steps[0]?.status).toBe("failed");
    expect(missing.steps[0]?.error).toContain("does not exist (set create: true");

    const host = mockHost();
    const create = () => [line({ path: "/etc/motd.d/x", line: "hello", create: true, owner: "root", group: "adm", mode: "640" })];
    expect((await runSteps(host, create, "apply")).steps[0]?.summary).toBe("create");
    expect(host.files.get("/etc/motd.d/x")).toMatchObject({ owner: "root", group: "adm", mode: "0640" });
    expect((await runSteps(host, create, "check")).status).toBe("ok");
  });

  it("only metadata differs: chmod, no rewrite", async () => {
    const host = mockHost().file(PATH, sshd, { mode: "0644" });
    host.on(/^chmod -- /, {});
    const steps = () => [line({ path: PATH, line: "UsePAM yes", mode: "0600" })];
    const report = await runSteps(host, steps, "apply");
    expect(report.steps[0]?.summary).toBe("mode 0644 → 0600");
    expect(host.commands.at(-1)?.command).toBe("chmod -- 0600 /etc/ssh/sshd_config");
  });

  it("only the metadata that differs is set (owner already right: no chown)", async () => {
    const host = mockHost().file(PATH, sshd, { owner: "root", mode: "0644" });
    host.on(/^chmod -- /, {});
    const steps = () => [line({ path: PATH, line: "UsePAM yes", owner: "root", mode: "0600" })];
    const report = await runSteps(host, steps, "apply");
    expect(report.steps[0]?.summary).toBe("mode 0644 → 0600");
    expect(host.commands.at(-1)?.command).toBe("chmod -- 0600 /etc/ssh/sshd_config");
  });

  it("state absent on a missing file is converged", async () => {
    const report = await runSteps(mockHost(), () => [line({ path: PATH, line: "x", state: "absent" })], "check");
    expect(report.status).toBe("ok");
  });
});

describe("line: byte-exact on what it does not change", () => {
  const bytes = (hex: string) => Buffer.from(hex.replace(/\s/g, ""), "hex");
  const FILE = "/etc/app.conf";

  it("a file that is not UTF-8 keeps its bytes (caf\\xe9 stayed caf\\xe9, not caf\\xef\\xbf\\xbd)", async () => {
    const host = mockHost().file(FILE, Buffer.concat([Buffer.from("caf"), bytes("e9"), Buffer.from("\nx = 1\n")]));
    const report = await runSteps(host, () => [line({ path: FILE, line: "y = 2" })], "apply");
    expect(report.steps[0]?.status).toBe("changed");
    expect(host.files.get(FILE)?.content.toString("hex")).toBe(
      Buffer.concat([Buffer.from("caf"), bytes("e9"), Buffer.from("\nx = 1\ny = 2\n")]).toString("hex"),
    );
    expect((await runSteps(host, () => [line({ path: FILE, line: "y = 2" })], "check")).status).toBe("ok");
  });

  it("in a non-UTF-8 file a regexp edits its line and a user's UTF-8 line goes in as UTF-8 bytes", async () => {
    const host = mockHost().file(FILE, Buffer.concat([Buffer.from("name = caf"), bytes("e9"), Buffer.from("\nk = old\n")]));
    await runSteps(host, () => [line({ path: FILE, regexp: "^k = ", line: "k = né" })], "apply");
    expect(host.files.get(FILE)?.content).toEqual(
      Buffer.concat([Buffer.from("name = caf"), bytes("e9"), Buffer.from("\nk = né\n", "utf8")]),
    );
    expect((await runSteps(host, () => [line({ path: FILE, regexp: "^k = ", line: "k = né" })], "check")).status).toBe("ok");
  });

  it("a CRLF file: the added line ends in CRLF; a regexp with $ replaces a CRLF line in place", async () => {
    const host = mockHost().file(FILE, "a = 1\r\nb = 2\r\n");
    await runSteps(host, () => [line({ path: FILE, line: "c = 3" })], "apply");
    expect(host.files.get(FILE)?.content.toString()).toBe("a = 1\r\nb = 2\r\nc = 3\r\n");
    await runSteps(host, () => [line({ path: FILE, regexp: "^b = \\d$", line: "b = 9" })], "apply");
    expect(host.files.get(FILE)?.content.toString()).toBe("a = 1\r\nb = 9\r\nc = 3\r\n");
    const check = await runSteps(
      host,
      () => [line({ path: FILE, line: "c = 3" }), line({ path: FILE, regexp: "^b = \\d$", line: "b = 9" })],
      "check",
    );
    expect(check.status).toBe("ok");
  });

  it("a CRLF file without a final line break gets CRLF before the added line", async () => {
    const host = mockHost().file(FILE, "a\r\nb");
    await runSteps(host, () => [line({ path: FILE, line: "c" })], "apply");
    expect(host.files.get(FILE)?.content.toString()).toBe("a\r\nb\r\nc\r\n");
  });

  it("configKeys keeps CRLF and non-UTF-8 bytes too (same text-edit path)", async () => {
    const host = mockHost().file(FILE, Buffer.concat([Buffer.from("# caf"), bytes("e9"), Buffer.from("\r\nmech_list: PLAIN\r\n")]));
    await runSteps(
      host,
      () => [configKeys({ path: FILE, separator: ": ", settings: { mech_list: "CRAM-MD5", pwcheck_method: "auxprop" } })],
      "apply",
    );
    expect(host.files.get(FILE)?.content).toEqual(
      Buffer.concat([Buffer.from("# caf"), bytes("e9"), Buffer.from("\r\nmech_list: CRAM-MD5\r\npwcheck_method: auxprop\r\n")]),
    );
  });

  it("a line with a CR is refused (it would break the file's line endings)", () => {
    expect(() => line({ path: FILE, line: "a\rb" })).toThrow(/one line, without a line break/);
  });
});
