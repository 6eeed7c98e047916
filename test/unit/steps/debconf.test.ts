import { describe, expect, it } from "vitest";
import { debconf, type DebconfParams } from "../../../src/steps/debconf.ts";
import { secret } from "../../../src/shell/secret.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

/**
 * The read's output as a Debian 12 test host printed it: `debconf(params).read().command.text`
 * sent with `ssh root@10.213.2.10 sh -s < read.sh` (params next to each).
 */
const REAL = {
  // { name: "tzdata", question: "tzdata/Areas", vtype: "select", value: "Etc" } on the base image
  tzAreasEtc: "exists=1\ntype=select\nowners=tzdata\nvalue=457463\n",
  // { question: "provtest/missing" }: never set
  missing: "exists=0\n",
  // { question: "provtest/pw", vtype: "password", value: secret("hunter2xyz") } after
  // `echo "provtest provtest/pw password hunter2xyz" | debconf-set-selections`
  pwMatch: "exists=1\ntype=password\nowners=provtest\npassword=match\n",
  // the same after setting it to another password
  pwMismatch: "exists=1\ntype=password\nowners=provtest\npassword=mismatch\n",
};

const isRead = (cmd: string) => cmd.includes("Debconf::Db->load(readonly");
const TZ: DebconfParams = { name: "tzdata", question: "tzdata/Areas", vtype: "select", value: "Etc" };

const cases: { title: string; params: DebconfParams; read: string; summary: string | null }[] = [
  { title: "converged select → ok", params: TZ, read: REAL.tzAreasEtc, summary: null },
  { title: "value differs", params: { ...TZ, value: "Europe" }, read: REAL.tzAreasEtc, summary: 'value "Etc" → "Europe"' },
  { title: "type differs", params: { ...TZ, vtype: "string" }, read: REAL.tzAreasEtc, summary: "type select → string" },
  { title: "owner missing", params: { ...TZ, name: "mypkg" }, read: REAL.tzAreasEtc, summary: "owner mypkg added" },
  {
    title: "never set",
    params: { name: "provtest", question: "provtest/missing", vtype: "string", value: "x" },
    read: REAL.missing,
    summary: 'set string "x" (owner provtest)',
  },
  {
    title: "boolean true is 'true'",
    params: { name: "p", question: "p/b", vtype: "boolean", value: true },
    read: `exists=1\ntype=boolean\nowners=p\nvalue=${Buffer.from("true").toString("hex")}\n`,
    summary: null,
  },
  {
    title: "a value with spaces and quotes is exact (hex read)",
    params: { name: "p", question: "p/s", vtype: "string", value: `a  b 'c" ü` },
    read: `exists=1\ntype=string\nowners=p, other\nvalue=${Buffer.from(`a  b 'c" ü`).toString("hex")}\n`,
    summary: null,
  },
  {
    title: "a trailing space is a difference",
    params: { name: "p", question: "p/s", vtype: "string", value: "a" },
    read: `exists=1\ntype=string\nowners=p\nvalue=${Buffer.from("a ").toString("hex")}\n`,
    summary: 'value "a " → "a"',
  },
  {
    title: "password matches on the host → ok",
    params: { name: "provtest", question: "provtest/pw", vtype: "password", value: secret("hunter2xyz") },
    read: REAL.pwMatch,
    summary: null,
  },
  {
    title: "password differs → named, never shown",
    params: { name: "provtest", question: "provtest/pw", vtype: "password", value: secret("hunter2xyz") },
    read: REAL.pwMismatch,
    summary: "password differs",
  },
];

describe("debconf", () => {
  it.each(cases)("$title", async (c) => {
    const check = mockHost("debian12").on(isRead, { stdout: c.read });
    const checked = await run(check, "check", () => [debconf(c.params)]);
    expect(checked.step?.status, checked.step?.error).toBe(c.summary ? "would-change" : "ok");
    expect(checked.step?.summary).toBe(c.summary ?? undefined);
    expect(applied(check)).toEqual([]);

    const host = mockHost("debian12").on(isRead, { stdout: c.read }).on("debconf-set-selections", { exitCode: 0 });
    const result = await run(host, "apply", () => [debconf(c.params)]);
    expect(result.step?.status, result.step?.error).toBe(c.summary ? "changed" : "ok");
    expect(applied(host)).toEqual(c.summary ? ["debconf-set-selections"] : []);
  });

  it("apply feeds the selection line on stdin", async () => {
    const host = mockHost("debian12").on(isRead, { stdout: REAL.tzAreasEtc }).on("debconf-set-selections", { exitCode: 0 });
    await run(host, "apply", () => [debconf({ ...TZ, value: "Europe" })]);
    const set = host.execs.find((e) => e.command === "debconf-set-selections");
    expect(set?.stdin.toString()).toBe("tzdata tzdata/Areas select Europe\n");
  });

  it("a password is in no argv, no report; the read compares it on the host through stdin", async () => {
    const pw = secret("S3cr3t-debconf-pass");
    const params: DebconfParams = { name: "provtest", question: "provtest/pw", vtype: "password", value: pw };
    const host = mockHost("debian12")
      .on((c) => c === "sh -s", { stdout: "" })
      .on("debconf-set-selections", { exitCode: 0 });
    // The batched read holding the secret travels as a script on stdin (sh -s).
    const mock = host.on(() => true, { stdout: REAL.pwMismatch });
    const { report, step } = await run(mock, "apply", () => [debconf(params)]);
    expect(step?.status, step?.error).toBe("changed");
    for (const e of host.execs) expect(e.command).not.toContain("S3cr3t");
    const set = host.execs.find((e) => e.command === "debconf-set-selections");
    expect(set?.stdin.toString()).toBe("provtest provtest/pw password S3cr3t-debconf-pass\n");
    expect(JSON.stringify(report)).not.toContain("S3cr3t-debconf-pass");
    const read = debconf(params).read();
    expect("command" in read && read.command.hasSecret).toBe(true);
    expect("command" in read && read.command.display).not.toContain("S3cr3t");
  });

  it("the read quotes the question and ends options", () => {
    const read = debconf({ name: "p", question: "p/it's", vtype: "string", value: "x" }).read();
    expect("command" in read && read.command.text).toMatch(/ -- 'p\/it'\\''s' <\/dev\/null$/);
  });

  it("a failed read (no perl Debconf) fails, saying so", async () => {
    const host = mockHost("debian12").on(isRead, { exitCode: 2, stderr: "Can't locate Debconf/Db.pm in @INC\n" });
    const { step } = await run(host, "check", () => [debconf(TZ)]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("cannot read debconf: Can't locate Debconf/Db.pm");
  });

  it.each([
    [{ ...TZ, value: "a\nb" }, /value: .*one line|must be one line/],
    [{ ...TZ, question: "-x" }, /question: must be a debconf question/],
    [{ ...TZ, name: "a b" }, /name: must be a package name/],
    [{ ...TZ, vtype: "passwd" }, /vtype/],
    [{ ...TZ, vtype: "password", value: "plain" }, /a password must be a secret/],
    [{ ...TZ, value: secret("not-a-password") }, /only a password value may be a secret/],
    [{ ...TZ, vtype: "boolean", value: "yes" }, /a boolean must be true or false/],
    [{ ...TZ, vtpye: "select" }, /unknown parameter "vtpye" — did you mean "vtype"\?/],
  ])("refuses bad input %#", (params, error) => {
    expect(() => debconf(params as DebconfParams)).toThrow(error);
  });
});
