/**
 * Secrets in output, the cases issue 11 found leaking (runner + reporters, mock host): a multi-line
 * key in a file's content, a rotated secret whose OLD value is on the host, a long secret in a
 * `line` step's (shortened) name, a secret in a failing command's stderr cut into lines, a summary
 * written "old → new". Each run's events, JSON report and terminal output (with --diff) are scanned
 * for every canary and for any 12-character piece of one (test/support/secret-canary.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook, type Playbook } from "../../../src/playbook/playbook.ts";
import { secretVar, validateVars } from "../../../src/playbook/vars.ts";
import type { Step } from "../../../src/playbook/step.ts";
import { sh } from "../../../src/shell/sh.ts";
import { secret, secretText, SecretAsTextError, type Secret } from "../../../src/shell/secret.ts";
import { file, line } from "../../../src/steps/index.ts";
import { jsonReport } from "../../../src/report/json-report.ts";
import { failureReason, TerminalReporter } from "../../../src/report/terminal-reporter.ts";
import { SECRET_SUMMARY } from "../../../src/report/show-change.ts";
import type { HostReport } from "../../../src/report/events.ts";
import type { MockTransport } from "../../../src/transport/mock.ts";
import {
  assertNoSecrets,
  findSecrets,
  LONG_CANARY,
  MULTILINE_CANARY,
  ROTATED_NEW_CANARY,
  ROTATED_OLD_CANARY,
  SHORT_CANARY,
} from "../../support/secret-canary.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  let out = "";
  const stream = new Writable({
    write: (chunk, _e, cb) => {
      out += chunk.toString();
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  return { stream, text: () => out };
}

/** Check then apply, through the terminal reporter (--diff) and the JSON report; all scanned. */
async function runScanned(mock: MockTransport, playbook: Playbook, vars: unknown) {
  const terminal = capture();
  const reporter = new TerminalReporter({ stream: terminal.stream, showDiff: true, verbose: true });
  const reports: HostReport[] = [];
  for (const mode of ["check", "apply"] as const) {
    // runOn itself scans the raw events and report (test/unit/support/mock-host.ts).
    const { report, events } = await runOn(mock, playbook, mode, vars);
    for (const event of events) reporter.handle(event);
    reports.push(report);
  }
  reporter.summary(reports);
  const json = jsonReport({ playbook: playbook.name, mode: "apply", exitCode: 0, result: "changed", hosts: reports });
  assertNoSecrets("terminal (--diff)", terminal.text());
  assertNoSecrets("JSON report", json);
  return { reports, terminal: terminal.text(), json };
}

const keyPlaybook = definePlaybook({
  name: "key",
  vars: z.object({ key: secretVar(), password: secretVar() }),
  steps: ({ vars }) => [
    file({ path: "/etc/app/key.pem", content: secretText`${vars.key}\n`, mode: "0600" }),
    file({ path: "/etc/app/app.conf", content: secretText`[app]\nuser = app\npassword = ${vars.password}\nport = 8080\n` }),
  ],
});

describe("secret content in diffs (--diff and --json)", () => {
  it("a multi-line key: no line of it in any output, and its lines counted as ***", async () => {
    const mock = debianHost().file("/etc/app/key.pem", "-----BEGIN OLD KEY-----\nold\n-----END OLD KEY-----\n");
    const vars = validateVars(keyPlaybook, { key: MULTILINE_CANARY, password: ROTATED_NEW_CANARY });
    const { reports, terminal } = await runScanned(mock, keyPlaybook, vars);
    expect(reports[1]?.steps.map((s) => s.status)).toEqual(["changed", "changed"]);
    // The key's five lines are five "+***" lines: the diff's line numbers stay true.
    expect(terminal).toContain("@@ -1,3 +1,5 @@");
    expect(terminal.match(/^ {4}\+\*\*\*$/gm)?.length).toBeGreaterThanOrEqual(5);
    // And the host got the real key (the mock's file store), on stdin.
    expect(mock.files.get("/etc/app/key.pem")?.content.toString()).toBe(`${MULTILINE_CANARY}\n`);
  });

  it("a rotated secret: the OLD value read from the host is hidden (removed lines of a secret-bearing text)", async () => {
    const mock = debianHost()
      .file("/etc/app/key.pem", `${MULTILINE_CANARY}\n`, { mode: "0600" })
      .file("/etc/app/app.conf", `[app]\nuser = app\npassword = ${ROTATED_OLD_CANARY}\nport = 8080\n`);
    const vars = validateVars(keyPlaybook, { key: MULTILINE_CANARY, password: ROTATED_NEW_CANARY });
    const { reports, terminal, json } = await runScanned(mock, keyPlaybook, vars);
    expect(reports[0]?.steps.map((s) => s.status)).toEqual(["ok", "would-change"]);
    // Context lines stay readable; the removed line is hidden, the added one masked by value.
    expect(terminal).toContain("removed lines hidden: the text holds a secret");
    expect(terminal).toMatch(/ \[app\]\n {4} user = app\n {4}-\*\*\*\n {4}\+password = \*\*\*\n {4} port = 8080/);
    expect(JSON.parse(json).hosts[0].steps[1].diff).toContain("-***\n+password = ***");
  });

  it("a summary written old → new is hidden when it holds a secret (the old value is not known to masking)", async () => {
    const rotate = (password: Secret): Step<string> => ({
      kind: "setting",
      name: "db password setting",
      read: () => ({ command: sh`read-setting`, parse: (r) => r.stdout.toString().trim() }),
      diff: (current) => (current === password.reveal() ? null : { summary: `set password: '${current}' → '${password.reveal()}'` }),
    });
    const pb = definePlaybook({ name: "rotate", vars: z.object({ password: secretVar() }), steps: ({ vars }) => [rotate(vars.password)] });
    const mock = debianHost().on("read-setting", { stdout: `${ROTATED_OLD_CANARY}\n` });
    const { report } = await runOn(mock, pb, "check", validateVars(pb, { password: ROTATED_NEW_CANARY }));
    expect(report.steps[0]).toMatchObject({ status: "would-change", summary: SECRET_SUMMARY });
  });
});

describe("shortened names and reasons are masked before they are cut", () => {
  it("a line step's name holds no piece of a long secret", async () => {
    const pb = definePlaybook({
      name: "token",
      vars: z.object({ token: secretVar() }),
      steps: ({ vars }) => [
        line({ path: "/etc/app/token.conf", line: secretText`secret_token=${vars.token}`, regexp: /^secret_token=/, create: true }),
      ],
    });
    const vars = validateVars(pb, { token: LONG_CANARY });
    const { reports, terminal } = await runScanned(debianHost(), pb, vars);
    expect(reports[1]?.steps[0]?.name).toBe("line /etc/app/token.conf: secret_token=***");
    expect(terminal).toContain("+secret_token=***");
  });

  it("a failure reason cut for the summary holds no piece of a secret", () => {
    secret(LONG_CANARY);
    const report = {
      host: "h",
      status: "failed",
      steps: [],
      handlers: [],
      error: `${"x".repeat(140)} ${LONG_CANARY}`,
    } as unknown as HostReport;
    const reason = failureReason(report) ?? "";
    expect(findSecrets(reason, [LONG_CANARY])).toEqual([]);
    expect(reason).toBe(`${"x".repeat(140)} ***`);
  });
});

describe("a multi-line secret cut into lines (a stderr tail) is still masked", () => {
  it("in the error of a failing step", async () => {
    const pb = definePlaybook({
      name: "tail",
      vars: z.object({ key: secretVar() }),
      steps: ({ vars }) => [file({ path: "/etc/app/key.pem", content: secretText`${vars.key}\n`, validate: "check-key %s" })],
    });
    // A validator that prints the last lines of the file it checks (keys are in stderr tails).
    const mock = debianHost().on("check-key", { exitCode: 1, stderr: `bad key:\n${MULTILINE_CANARY.split("\n").slice(2).join("\n")}\n` });
    const { report } = await runOn(mock, pb, "apply", validateVars(pb, { key: MULTILINE_CANARY }));
    expect(report.steps[0]?.status).toBe("failed");
    expect(report.steps[0]?.error).toContain("***");
  });
});

describe("Secret as text", () => {
  it("throws when stringified (template, String, +), naming secretText; JSON and inspect stay masked", () => {
    const pw = secret(ROTATED_NEW_CANARY);
    expect(() => `password=${pw}`).toThrow(SecretAsTextError);
    expect(() => String(pw)).toThrow(/secretText/);
    expect(() => "x" + (pw as unknown as string)).toThrow(SecretAsTextError);
    expect(JSON.stringify({ pw })).toBe('{"pw":"***"}');
    expect(inspect({ pw })).toBe("{ pw: *** }");
    expect(secretText`password=${pw} port=${8080}`).toBe(`password=${ROTATED_NEW_CANARY} port=8080`);
  });

  it("secretText's result (or reveal()) cannot become a command argument either", () => {
    const pw = secret(ROTATED_NEW_CANARY);
    expect(() => sh`set-password ${secretText`${pw}`}`).toThrow(/secret's value cannot be in a command argument.*secretStdin/);
    expect(() => sh`set-password ${["bob", pw.reveal()]}`).toThrow(/secret's value cannot be in a command argument/);
    expect(sh`set-password ${"bob"}`.text).toBe("set-password bob");
  });

  it("a playbook interpolating a secret into file content fails loudly instead of writing ***", async () => {
    const pb = definePlaybook({
      name: "careless",
      vars: z.object({ password: secretVar() }),
      steps: ({ vars }) => [file({ path: "/etc/app/app.conf", content: `password=${vars.password}\n` })],
    });
    const mock = debianHost();
    const { report } = await runOn(mock, pb, "apply", validateVars(pb, { password: ROTATED_NEW_CANARY }));
    expect(report.status).toBe("failed");
    expect(report.error).toMatch(/a Secret cannot be turned into text.*secretText/);
    expect(mock.files.has("/etc/app/app.conf")).toBe(false);
  });
});

describe("secret values given to secretVar()", () => {
  const pb = definePlaybook({ name: "short", vars: z.object({ db: z.object({ password: secretVar() }) }), steps: () => [] });

  it("a secret shorter than 8 characters is refused, naming the var (and not showing the value)", () => {
    let message = "";
    try {
      validateVars(pb, { db: { password: SHORT_CANARY } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/db\.password: a secret must be at least 8 characters/);
    expect(message).not.toContain(SHORT_CANARY);
    process.env.PROVISION_TEST_SHORT = "e";
    expect(() => validateVars(pb, { db: { password: { fromEnv: "PROVISION_TEST_SHORT" } } })).toThrow(
      /db\.password: environment variable PROVISION_TEST_SHORT: a secret must be at least 8/,
    );
    expect(() => secret("e")).toThrow(/at least 8 characters/);
  });

  it("a short sudo password (PROVISION_BECOME_PASSWORD) is not provision's to refuse: it is masked as a whole word", async () => {
    const { connectSshHost } = await import("../../../src/cli/connect-ssh.ts");
    const { mask } = await import("../../../src/shell/mask.ts");
    const saved = process.env.PROVISION_BECOME_PASSWORD;
    process.env.PROVISION_BECOME_PASSWORD = SHORT_CANARY;
    try {
      const args = { identity: [], knownHosts: [], become: true, acceptNewHostKeys: false, verbosity: 0 } as unknown as Parameters<
        typeof connectSshHost
      >[1];
      // Nothing listens on 127.0.0.1:1: the connection fails, but not because of the password.
      const error = await connectSshHost("127.0.0.1", { ...args, port: 1 }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message ?? "").not.toMatch(/secret/);
      expect(mask(`sudo said: ${SHORT_CANARY}.`)).toBe("sudo said: ***.");
      expect(mask(`x${SHORT_CANARY}x`)).toBe(`x${SHORT_CANARY}x`);
    } finally {
      if (saved === undefined) delete process.env.PROVISION_BECOME_PASSWORD;
      else process.env.PROVISION_BECOME_PASSWORD = saved;
    }
  });

  const dir = mkdtempSync(join(tmpdir(), "provision-secret-file-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fromFile = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return validateVars(pb, { db: { password: { fromFile: join(dir, name) } } }).db.password.reveal();
  };

  it("fromFile: one trailing line break of either kind is dropped (CRLF too), a multi-line key is kept whole", () => {
    expect(fromFile("crlf", "Crlf-password-1\r\n")).toBe("Crlf-password-1");
    expect(fromFile("lf", "Lf-password-22\n")).toBe("Lf-password-22");
    expect(fromFile("bare", "Bare-password-3")).toBe("Bare-password-3");
    expect(fromFile("key", `${MULTILINE_CANARY}\n`)).toBe(MULTILINE_CANARY);
    expect(fromFile("two", "Two-newlines-44\n\n")).toBe("Two-newlines-44\n");
    expect(() => fromFile("empty", "\r\n")).toThrow(/db\.password: secret file .*empty is empty/);
    expect(() => fromFile("short", "abc\n")).toThrow(/db\.password: secret file .*short: a secret must be at least 8/);
  });
});
