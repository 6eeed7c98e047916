import { describe, expect, it } from "vitest";
import { command, type CommandParams } from "../../../src/steps/command.ts";
import { secret } from "../../../src/shell/secret.ts";
import { secretStdin, sh } from "../../../src/shell/sh.ts";
import { applied, mockHost, run } from "./system-hosts.ts";
import { capturedRead } from "../../support/captured-read.ts";
import { COMMAND_GUARDS } from "../../support/capture-read.ts";

/**
 * The guard read's output as a Debian 12 test host printed it: the step's read command piped to
 * `ssh root@host sh`, stored with its command (fixtures/debian12-command-read.<name>.txt, guards in
 * COMMAND_GUARDS; re-capture with test/support/capture-read.ts), the command asserted here.
 */
const real = (name: keyof typeof COMMAND_GUARDS) =>
  capturedRead(
    new URL(`fixtures/debian12-command-read.${name}.txt`, import.meta.url),
    command({ command: "touch /var/tmp/ran", ...COMMAND_GUARDS[name] } as CommandParams).read(),
  ).stdout;
const REAL = {
  createsExistsRemovesAbsent: real("creates-exists-removes-absent"),
  unless0onlyIf1: real("unless0-onlyif1"),
  unlessNotFound: real("unless-not-found"),
  onlyIfAsNobody0: real("onlyif-as-nobody0"),
};

const guardOut = (parts: Record<string, number>) =>
  Object.entries(parts)
    .map(([k, v]) => (k === "creates" || k === "removes" ? `${k}=${v}\n` : `@provision:${k} ${v}\n\n@provision:${k}-end\n`))
    .join("");

const RUN = "touch /var/tmp/ran";
const cases: { title: string; params: Partial<CommandParams>; read: string; summary: string | null }[] = [
  {
    title: "creates exists → ok (removes absent too)",
    params: { creates: "/etc/passwd", removes: "/nonexistent" },
    read: REAL.createsExistsRemovesAbsent,
    summary: null,
  },
  {
    title: "creates missing → run",
    params: { creates: "/var/tmp/ran" },
    read: guardOut({ creates: 0 }),
    summary: "run (/var/tmp/ran does not exist)",
  },
  {
    title: "removes exists → run",
    params: { removes: "/etc/passwd" },
    read: guardOut({ removes: 1 }),
    summary: "run (/etc/passwd exists)",
  },
  { title: "removes missing → ok", params: { removes: "/nonexistent" }, read: guardOut({ removes: 0 }), summary: null },
  {
    title: "unless 0 → ok (whatever onlyIf says)",
    params: { unless: "grep -q root /etc/passwd", onlyIf: "test -e /nonexistent" },
    read: REAL.unless0onlyIf1,
    summary: null,
  },
  {
    title: "unless 1 → run",
    params: { unless: "grep -q nobody-here /etc/passwd" },
    read: guardOut({ unless: 1 }),
    summary: "run (unless exited 1)",
  },
  { title: "onlyIf 1 → ok", params: { onlyIf: "test -e /nonexistent" }, read: guardOut({ onlyIf: 1 }), summary: null },
  {
    title: "onlyIf 0 (as nobody) → run",
    params: { onlyIf: "id -un | grep -qx nobody", becomeUser: "nobody" },
    read: REAL.onlyIfAsNobody0,
    summary: "run (onlyIf exited 0)",
  },
  {
    title: "every guard must allow: creates missing but unless 0 → ok",
    params: { creates: "/x", unless: "true" },
    read: guardOut({ creates: 0, unless: 0 }),
    summary: null,
  },
  { title: "no guard → would run, every time", params: {}, read: "", summary: "run (no guard: runs on every apply)" },
];

describe("command", () => {
  it.each(cases)("$title", async (c) => {
    const params = { command: RUN, ...c.params } as CommandParams;
    const isRead = (cmd: string) => cmd.startsWith(":\n") || cmd === ":";
    const check = mockHost("debian12").on(isRead, { stdout: c.read });
    const checked = await run(check, "check", () => [command(params)]);
    expect(checked.step?.status).toBe(c.summary ? "would-change" : "ok");
    expect(checked.step?.summary).toBe(c.summary ?? undefined);
    expect(applied(check)).toEqual([]);

    const host = mockHost("debian12")
      .on(isRead, { stdout: c.read })
      .on(/touch \/var\/tmp\/ran/, { exitCode: 0 });
    const result = await run(host, "apply", () => [command(params)]);
    expect(result.step?.status).toBe(c.summary ? "changed" : "ok");
    const expected = c.params.becomeUser ? `printf '%s\\n' 'touch /var/tmp/ran' | runuser -u nobody -- sh -s` : RUN;
    expect(applied(host)).toEqual(c.summary ? [expected] : []);
  });

  it("the read quotes paths and keeps guard code as the user wrote it", async () => {
    const host = mockHost("debian12").on(() => true, { stdout: "creates=0\nunless=1\n" });
    await run(host, "check", () => [command({ command: RUN, creates: "/tmp/$(touch /tmp/pwn) x", unless: "test -e /etc/x || exit 1" })]);
    const read = host.commands.find((c) => c.batched)?.command ?? "";
    expect(read).toContain(`if [ -e '/tmp/$(touch /tmp/pwn) x' ]; then echo creates=1`);
    expect(read).toContain("( test -e /etc/x || exit 1\n) 2>&1 >/dev/null </dev/null");
  });

  it("a guard that cannot run (127) fails the read, naming the guard and its error", async () => {
    const host = mockHost("debian12").on(() => true, { stdout: REAL.unlessNotFound });
    const { step } = await run(host, "check", () => [command({ command: RUN, unless: "no-such-cmd --flag" })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("the unless guard could not run (exit 127): sh: 2: no-such-cmd: not found");
  });

  it("a failing command fails the step with its exit code and stderr", async () => {
    const host = mockHost("debian12").on(":", { exitCode: 0 }).on("false-cmd", { exitCode: 3, stderr: "boom: disk full\n" });
    const { step } = await run(host, "apply", () => [command({ command: "false-cmd" })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("exit code 3: boom: disk full");
  });

  it("a ShellCommand is sent as built: values quoted by sh", async () => {
    const host = mockHost("debian12").on(() => true, { exitCode: 0 });
    await run(host, "apply", () => [command({ command: sh`echo ${"it's $(id)"} >> /var/tmp/log` })]);
    expect(applied(host)).toEqual([`echo 'it'\\''s $(id)' >> /var/tmp/log`]);
  });

  it("a secret in the command goes on stdin (never argv) and is masked in errors and names", async () => {
    const pass = secret("S3cr3t-command-pass");
    const host = mockHost("debian12")
      .on(/chpasswd/, { exitCode: 1, stderr: "chpasswd: S3cr3t-command-pass rejected\n" })
      .on(":", { exitCode: 0 });
    const { report, step } = await run(host, "apply", () => [command({ command: sh`${secretStdin(pass)} chpasswd` })]);
    const sent = host.execs.filter((e) => e.stdin.toString().includes("chpasswd"));
    expect(sent.length).toBeGreaterThan(0);
    for (const e of sent) expect(e.command).toBe("sh -s");
    expect(host.execs.some((e) => e.command.includes("S3cr3t"))).toBe(false);
    expect(step?.status).toBe("failed");
    expect(JSON.stringify(report)).not.toContain("S3cr3t-command-pass");
    expect(step?.error).toContain("***");
  });

  it("a plain string holding a known secret's value is treated as secret too", async () => {
    const pass = secret("another-S3cr3t-value");
    const host = mockHost("debian12").on(() => true, { exitCode: 0 });
    const { report } = await run(host, "apply", () => [command({ command: `echo ${pass.reveal()} | chpasswd`, name: "set password" })]);
    expect(host.execs.some((e) => e.command.includes("another-S3cr3t"))).toBe(false);
    expect(JSON.stringify(report)).not.toContain("another-S3cr3t-value");
  });

  it("refuses a per-step become, saying become is per host", () => {
    expect(() => command({ command: RUN, become: true } as unknown as CommandParams)).toThrow(/become is per host.*becomeUser/);
  });

  it.each([
    [{ command: "" }, /command: must not be empty|command/],
    [{ command: RUN, creates: "relative/path" }, /creates: must be an absolute path/],
    [{ command: RUN, creates: "/a\0b" }, /creates: must not contain a NUL byte/],
    [{ command: RUN, becomeUser: "--login" }, /becomeUser: must be a user or group name/],
    [{ command: RUN, creates: "/x", unles: "true" }, /unknown parameter "unles" — did you mean "unless"\?/],
    [{ command: RUN, name: "two\nlines" }, /name: must be one line/],
  ])("refuses bad input %#", (params, error) => {
    expect(() => command(params as CommandParams)).toThrow(error);
  });

  it("declares what it depends on: guard paths, everything for a guard command, nothing without a guard", () => {
    expect(command({ command: RUN, creates: "/x", removes: "/y" }).requires).toEqual(["path:/x", "path:/y"]);
    expect(command({ command: RUN, onlyIf: "true" }).requires).toEqual(["*"]);
    expect(command({ command: RUN }).requires).toEqual([]);
    expect(command({ command: RUN }).provides).toEqual(["*"]);
    expect(command({ command: RUN, provides: ["path:/etc/x"] }).provides).toEqual(["path:/etc/x"]);
  });
});

describe("command changedWhen", () => {
  const host = (stdout: string, exitCode = 0) =>
    mockHost("debian12").on(":", { exitCode: 0 }).on("apt-mark hold foo", { stdout, exitCode });
  const changedWhen = ({ stdout }: { stdout: string }) => !stdout.includes("was already set on hold");
  const handler = { "restart foo": { run: async () => {} } };

  it.each([
    // apt-mark's own words, as a Debian 12 host printed them
    {
      title: "changed output → changed, handler runs",
      stdout: "foo set on hold.\n",
      status: "changed",
      summary: "ran (exit 0; changedWhen: changed)",
      ran: ["ran"],
    },
    {
      title: "no-change output → ok, no handler",
      stdout: "foo was already set on hold.\n",
      status: "ok",
      summary: "ran (exit 0; changedWhen: no change)",
      ran: [],
    },
  ])("$title", async (c) => {
    const mock = host(c.stdout);
    const { report, step } = await run(
      mock,
      "apply",
      () => [command({ command: "apt-mark hold foo", changedWhen, notify: ["restart foo"] })],
      handler,
    );
    expect(step?.status, step?.error).toBe(c.status);
    expect(step?.summary).toBe(c.summary);
    expect(report.handlers.map((h) => h.status)).toEqual(c.ran);
    expect(report.counts.changed).toBe(c.status === "changed" ? 1 : 0);
  });

  it("a no-change run does not leave its handler owed on the host (the record is rewritten without it)", async () => {
    const mock = host("foo was already set on hold.\n");
    await run(mock, "apply", () => [command({ command: "apt-mark hold foo", changedWhen, notify: ["restart foo"] })], handler);
    const sent = mock.execs.map((e) => `${e.command}\n${e.stdin.toString()}`);
    const at = (marker: string) => sent.findIndex((t) => t.includes(marker));
    // Owed on the host before the run (a run cut there still owes it)…
    expect(sent[at("# provision-pending-handlers record")]).toContain("'restart foo\n'");
    expect(at("apt-mark hold foo")).toBeGreaterThan(at("# provision-pending-handlers record"));
    // …and, since it changed nothing, settled at the release: the record is removed.
    const settle = sent[at("# provision-pending-handlers settle")] ?? "";
    expect(at("# provision-pending-handlers settle")).toBeGreaterThan(at("apt-mark hold foo"));
    expect(settle).toContain('rm -f -- "$f"');
    expect(settle).not.toContain("restart foo");
  });

  it("the predicate sees stdout, stderr and the exit code; successExitCodes lets a non-zero exit through", async () => {
    const seen: unknown[] = [];
    const mock = mockHost("debian12").on(":", { exitCode: 0 }).on("grep -q x /etc/y", { exitCode: 1, stderr: "warn\n", stdout: "out\n" });
    const { step } = await run(mock, "apply", () => [
      command({
        command: "grep -q x /etc/y",
        successExitCodes: [0, 1],
        changedWhen: (o) => {
          seen.push(o);
          return o.exitCode === 0;
        },
      }),
    ]);
    expect(seen).toEqual([{ stdout: "out\n", stderr: "warn\n", exitCode: 1 }]);
    expect(step?.status).toBe("ok");
    expect(step?.summary).toBe("ran (exit 1; changedWhen: no change)");
  });

  it("a non-zero exit still fails without successExitCodes, whatever changedWhen says", async () => {
    const mock = mockHost("debian12").on(":", { exitCode: 0 }).on("false-cmd", { exitCode: 2, stderr: "bad\n" });
    const { step } = await run(mock, "apply", () => [command({ command: "false-cmd", changedWhen: () => false })]);
    expect(step?.status).toBe("failed");
  });

  it("a predicate that throws or returns a non-boolean fails the step, saying the command has run", async () => {
    const mock = host("x\n");
    const thrown = await run(mock, "apply", () => [
      command({
        command: "apt-mark hold foo",
        changedWhen: () => {
          throw new Error("boom");
        },
      }),
    ]);
    expect(thrown.step?.status).toBe("failed");
    expect(thrown.step?.error).toContain("changedWhen threw (the command has run): boom");
    const odd = await run(host("x\n"), "apply", () => [command({ command: "apt-mark hold foo", changedWhen: (() => "yes") as never })]);
    expect(odd.step?.error).toContain("changedWhen must return a boolean");
  });

  it("--check cannot know: would run, saying changedWhen decides (never ok)", async () => {
    const mock = host("foo was already set on hold.\n");
    const { step } = await run(mock, "check", () => [command({ command: "apt-mark hold foo", changedWhen })]);
    expect(step?.status).toBe("would-change");
    expect(step?.summary).toBe("run (no guard: runs on every apply; changedWhen decides whether it changes anything)");
    expect(applied(mock)).toEqual([]);
  });

  it("refuses a changedWhen that is not a function", () => {
    expect(() => command({ command: RUN, changedWhen: "rc == 0" } as unknown as CommandParams)).toThrow(/changedWhen: must be a function/);
  });
});
