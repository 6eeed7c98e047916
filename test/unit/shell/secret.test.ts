import { describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { secretVar, validateVars } from "../../../src/playbook/vars.ts";
import type { Step } from "../../../src/playbook/step.ts";
import { secretStdin, sh } from "../../../src/shell/sh.ts";
import type { Secret } from "../../../src/shell/secret.ts";
import { jsonReport } from "../../../src/report/json-report.ts";
import { TerminalReporter } from "../../../src/report/terminal-reporter.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const PASSWORD = "s3cret-Correct-Horse";

/** A step that handles a secret carelessly everywhere it can: summary, diff, error, stderr. */
function passwordStep(password: Secret): Step<string> {
  return {
    kind: "password",
    name: "password of bob",
    read: () => ({
      command: sh`${secretStdin(password)} check-password bob`,
      parse: (result) => result.stdout.toString("utf8").trim(),
    }),
    diff: (current) =>
      current === "match"
        ? null
        : { summary: `password ${password.reveal()} differs`, diff: { label: "secret", before: "old", after: `new ${password.reveal()}` } },
    apply: async ({ session }) => void (await session.runOrThrow(sh`${secretStdin(password)} set-password bob`)),
  };
}

function playbook() {
  return definePlaybook({
    name: "secrets",
    vars: z.object({ password: secretVar() }),
    steps: ({ vars }) => [passwordStep(vars.password)],
  });
}

function captureStream(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = "";
  const stream = {
    isTTY: false,
    write: (chunk: string) => {
      text += chunk;
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

describe("secrets", () => {
  it("never appear in argv, events, errors, diffs, the terminal or the JSON report", async () => {
    const pb = playbook();
    const vars = validateVars(pb, { password: PASSWORD });
    const mock = debianHost()
      .on("check-password bob", { stdout: "mismatch\n" })
      // The host echoes the password back in an error: it must still be masked.
      .on("set-password bob", (_command, _stdin) => ({ exitCode: 1, stderr: `set-password: rejected ${PASSWORD}\n` }));

    const out = captureStream();
    const terminal = new TerminalReporter({ stream: out.stream, showDiff: true });
    const check = await runOn(mock, pb, "check", vars);
    const apply = await runOn(mock, pb, "apply", vars);
    for (const event of [...check.events, ...apply.events]) terminal.handle(event);
    terminal.summary([check.report, apply.report]);

    expect(apply.report.steps[0]?.status).toBe("failed");
    const everything = [
      JSON.stringify(check.events),
      JSON.stringify(apply.events),
      jsonReport({ playbook: "secrets", mode: "apply", exitCode: 1, result: "failed", hosts: [check.report, apply.report] }),
      out.text(),
    ].join("\n");
    expect(everything).toContain("***");
    expect(everything).not.toContain(PASSWORD);

    // On the wire: the secret travels only inside a script on stdin (`sh -s`), never in a command line.
    const withSecret = mock.execs.filter((exec) => exec.stdin.toString("utf8").includes(PASSWORD));
    expect(withSecret.length).toBeGreaterThan(0);
    for (const exec of mock.execs) expect(exec.command).not.toContain(PASSWORD);
    for (const exec of withSecret) expect(exec.command).toBe("sh -s");
  });

  it("can come from the environment or a file, so it is never typed on a command line", () => {
    const pb = playbook();
    process.env.PROVISION_TEST_PASSWORD = "from-env-pw";
    const vars = validateVars(pb, { password: { fromEnv: "PROVISION_TEST_PASSWORD" } });
    expect(vars.password.reveal()).toBe("from-env-pw");
    expect(JSON.stringify(vars.password)).toBe('"***"');
    expect(() => validateVars(pb, { password: { fromEnv: "PROVISION_NOT_SET_ANYWHERE" } })).toThrow(
      /password: environment variable PROVISION_NOT_SET_ANYWHERE is not set/,
    );
  });
});

describe("vars validation", () => {
  const pb = definePlaybook({
    name: "mail",
    vars: z.object({
      hostname: z.string().min(1),
      inetProtocols: z.enum(["ipv4", "ipv6", "all"]).default("ipv4"),
      users: z.array(z.object({ name: z.string().regex(/^[a-z][a-z0-9._-]*$/) })).default([]),
    }),
    steps: () => [],
  });

  it("names the playbook, each field and what was wrong", () => {
    let message = "";
    try {
      validateVars(pb, { inetProtocols: "ipv5", users: [{ name: "Bad Name" }] }, "host vps1");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('playbook "mail" (host vps1): invalid vars');
    expect(message).toMatch(/hostname: .*expected string/i);
    expect(message).toMatch(/inetProtocols: .*"ipv4"/);
    expect(message).toMatch(/users\.0\.name: /);
  });

  it("applies defaults and accepts valid vars", () => {
    expect(validateVars(pb, { hostname: "mail.example.org" })).toEqual({ hostname: "mail.example.org", inetProtocols: "ipv4", users: [] });
  });
});

describe("secret values", () => {
  it("refuses an empty or white-space-only secret, which masking could not tell from text", async () => {
    const { secret } = await import("../../../src/shell/secret.ts");
    expect(() => secret("")).toThrow(/cannot be empty/);
    expect(() => secret(" \n\t")).toThrow(/only white space/);
    expect(JSON.stringify(secret(" padded-secret "))).toBe('"***"');
  });
});

describe("short secrets from outside the playbook (decrypted Vault values, inventory passwords)", () => {
  it("are kept, and masked only where they stand as a whole word", async () => {
    const { Secret } = await import("../../../src/shell/secret.ts");
    const { mask } = await import("../../../src/shell/mask.ts");
    const pin = new Secret("x7q", { shortValues: "whole-words" });
    expect(pin.reveal()).toBe("x7q");
    expect(mask("pin=x7q; the x7q is set")).toBe("pin=***; the *** is set");
    // Inside a word it is left alone: masking there would garble the text and, by the gap, reveal it.
    expect(mask("ax7qb x7q_1 1x7q")).toBe("ax7qb x7q_1 1x7q");
    // A playbook's own secret() keeps the minimum length.
    expect(() => new Secret("x7q")).toThrow(/at least 8 characters/);
  });
});
