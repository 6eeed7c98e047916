/**
 * Secrets through the runner and the reporters (mock host): a secret that a step's summary, a
 * text diff, a failing command's stderr, a handler's error and a thrown error all carry is masked
 * in every event, the JSON report and the terminal output (diffs shown). Scanned with the suite's
 * canary registry (test/support/secret-canary.ts) in plain, hex and base64 forms.
 * Honest limit: masking replaces known secret values; a secret transformed by a step (hashed,
 * split, re-encoded) before it reaches a message is only caught if it is one of those forms.
 */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { secretVar, validateVars } from "../../../src/playbook/vars.ts";
import { sh } from "../../../src/shell/sh.ts";
import type { Secret } from "../../../src/shell/secret.ts";
import { file, sasldbUser } from "../../../src/steps/index.ts";
import { jsonReport } from "../../../src/report/json-report.ts";
import { TerminalReporter } from "../../../src/report/terminal-reporter.ts";
import { assertNoSecrets, findSecrets } from "../../support/secret-canary.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const PASSWORD = "Canary-unit-pw-Z5v2";

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

const playbook = definePlaybook({
  name: "leaky",
  vars: z.object({ password: secretVar() }),
  steps: ({ vars }) => {
    const pw = vars.password as Secret;
    return [
      // A careless playbook: the secret's value in a file's content (a diff would show it).
      file({ path: "/etc/app.conf", content: `password = ${pw.reveal()}\n`, notify: ["reload"] }),
      sasldbUser({ user: "bob", realm: "example.test", password: pw }),
      {
        kind: "echo",
        name: "echoes the secret back",
        read: () => ({ command: sh`echo-state`, parse: () => "x" }),
        diff: () => ({ summary: `would set ${pw.reveal()}` }),
        apply: async ({ session }) => void (await session.runOrThrow(sh`fail-loudly`)),
      },
    ];
  },
  handlers: () => ({
    reload: {
      run: async () => {
        throw new Error(`reload failed for ${PASSWORD}`);
      },
    },
  }),
});

describe("secrets in events, reports and terminal output (mock host)", () => {
  for (const mode of ["check", "apply"] as const) {
    it(`${mode}: masked everywhere`, async () => {
      const mock = debianHost()
        .file("/etc/app.conf", "password = old\n")
        .on(/^db=/, { stdout: "db=root sasl 0640\nuser=present\npassword=mismatch\n" })
        .on(/^printf .*saslpasswd2|saslpasswd2/, {})
        .on(/^echo-state/, { stdout: "x" })
        .on(/^fail-loudly/, { exitCode: 1, stderr: `error: bad password ${PASSWORD}\n` });
      const vars = validateVars(playbook, { password: PASSWORD }, "test");
      const { report, events } = await runOn(mock, playbook, mode, vars);
      expect(report.steps.length).toBeGreaterThan(0);
      const terminal = capture();
      const reporter = new TerminalReporter({ stream: terminal.stream, showDiff: true, verbose: true });
      for (const event of events) reporter.handle(event);
      reporter.summary([report]);
      const json = jsonReport({ playbook: "leaky", mode, exitCode: 1, result: "failed", hosts: [report] });
      assertNoSecrets("events", JSON.stringify(events));
      assertNoSecrets("json report", json);
      assertNoSecrets("terminal", terminal.text());
      // It was there to leak: the diff shows the masked line.
      expect(terminal.text()).toContain("+password = ***");
      if (mode === "apply") expect(json).toMatch(/error: bad password \*\*\*/);
      // And it never crossed argv: every exec carrying it is a script on stdin.
      for (const exec of mock.execs) expect(findSecrets(exec.command, [PASSWORD])).toEqual([]);
    });
  }
});
