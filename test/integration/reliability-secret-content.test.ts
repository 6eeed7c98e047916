/**
 * Secrets in file content never show (issue 11): a playbook (written to a temp dir, run by the
 * CLI) puts a multi-line key (`fromFile`), a password (`fromEnv`, rotated from an old value the host
 * still holds), a CRLF-terminated `fromFile` secret and a 86-character token (in a `line` step,
 * whose name is shortened) into files under /etc/provision-secret-content. Every run's stdout and
 * stderr — terminal with --diff, --json with and without --diff, a failing validation whose
 * stderr carries the key's last lines, a refused short secret — is scanned for every canary and
 * any 12-character piece of one (test/support/secret-canary.ts; provisionCli scans each run too),
 * as are the host's process list (sampled during the runs), journal and /var/log. What reached the
 * host is checked there, byte for byte: the values themselves (no `***`, no `\r`). Host: fleet index 9
 * (as reliability-secrets.test.ts; this file only touches its own directory, removed at the end).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostExec } from "../hosts/harness.ts";
import { testHost } from "./support/fleet.ts";
import { parseReport, REPO, runOnTestHost, type CliRun } from "./support/cli.ts";
import { onHost } from "./support/reliability.ts";
import {
  assertNoSecrets,
  CRLF_CANARY,
  LONG_CANARY,
  MULTILINE_CANARY,
  ROTATED_NEW_CANARY,
  ROTATED_OLD_CANARY,
  SHORT_CANARY,
} from "../support/secret-canary.ts";

const host = testHost(9);
const DIR = "/etc/provision-secret-content";
let local: string;
let playbook: string;
let varsFile: string;
const processSamples: string[] = [];

const PLAYBOOK = `import { definePlaybook, directory, file, line, secretText, secretVar, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "secret-content",
  vars: z.object({ key: secretVar(), password: secretVar(), crlf: secretVar(), token: secretVar(), failValidation: z.enum(["yes", "no"]).default("no") }),
  steps: ({ vars }) => [
    directory({ path: ${JSON.stringify(DIR)}, mode: "0700" }),
    file({ path: ${JSON.stringify(`${DIR}/key.pem`)}, content: secretText\`\${vars.key}\\n\`, mode: "0600" }),
    file({ path: ${JSON.stringify(`${DIR}/app.conf`)}, mode: "0600",
      content: secretText\`[app]\\nuser = app\\npassword = \${vars.password}\\ncrlf = \${vars.crlf}\\nport = 8080\\n\` }),
    line({ path: ${JSON.stringify(`${DIR}/token.conf`)}, line: secretText\`secret_token=\${vars.token}\`, regexp: /^secret_token=/, create: true, mode: "0600" }),
    ...(vars.failValidation === "yes"
      ? [file({ path: ${JSON.stringify(`${DIR}/validated.pem`)}, content: secretText\`\${vars.key}\\nchanged\\n\`, validate: "tail -n 3 %s >&2 && false" })]
      : []),
  ],
});
`;

beforeAll(async () => {
  local = await mkdtemp(join(tmpdir(), "provision-secret-content-"));
  playbook = join(local, "secret-content.ts");
  await writeFile(playbook, PLAYBOOK);
  await writeFile(join(local, "key.pem"), `${MULTILINE_CANARY}\n`, { mode: 0o600 });
  await writeFile(join(local, "crlf.txt"), `${CRLF_CANARY}\r\n`, { mode: 0o600 });
  varsFile = join(local, "vars.yml");
  await writeFile(
    varsFile,
    [
      `key: { fromFile: ${join(local, "key.pem")} }`,
      "password: { fromEnv: SECRET_CONTENT_PW }",
      `crlf: { fromFile: ${join(local, "crlf.txt")} }`,
      "token: { fromEnv: SECRET_CONTENT_TOKEN }",
      "",
    ].join("\n"),
  );
  await onHost(host, `rm -rf ${DIR}`);
});
afterAll(async () => {
  await rm(local, { recursive: true, force: true });
  await onHost(host, `rm -rf ${DIR}`);
});

/** Run the CLI while sampling the host's process list (bounded: 600 samples). */
async function sampled(run: Promise<CliRun>): Promise<CliRun> {
  let done = false;
  const sampler = (async () => {
    for (let i = 0; i < 600 && !done; i += 1) {
      processSamples.push((await hostExec(host, "ps -eww -o user=,args=")).stdout);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    return await run;
  } finally {
    done = true;
    await sampler;
  }
}

function provision(password: string, ...extra: string[]): Promise<CliRun> {
  return sampled(
    runOnTestHost(playbook, host.address, ["--vars-file", varsFile, ...extra], {
      env: { SECRET_CONTENT_PW: password, SECRET_CONTENT_TOKEN: LONG_CANARY },
    }),
  );
}

function scanned(label: string, run: CliRun): CliRun {
  assertNoSecrets(`${label} stdout`, run.stdout);
  assertNoSecrets(`${label} stderr`, run.stderr);
  return run;
}

const stored = async (path: string) => Buffer.from((await onHost(host, `base64 -w0 ${path}`)).trim(), "base64").toString("utf8");

describe("secrets written into file content: never in output, exact on the host", () => {
  it("multi-line key, password, CRLF file secret and long token: created, then converged", async () => {
    const apply = scanned("apply --diff", await provision(ROTATED_OLD_CANARY, "--diff"));
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
    // The key's five lines are five masked lines of the diff; the token's line step name is masked, then cut.
    expect(apply.stdout.match(/^ {4}\+\*\*\*$/gm)?.length).toBeGreaterThanOrEqual(5);
    expect(apply.stdout).toContain(`line ${DIR}/token.conf: secret_token=***`);
    // On the host: the real values (not "***"), the CRLF file's value without its "\r".
    expect(await stored(`${DIR}/key.pem`)).toBe(`${MULTILINE_CANARY}\n`);
    expect(await stored(`${DIR}/app.conf`)).toBe(
      `[app]\nuser = app\npassword = ${ROTATED_OLD_CANARY}\ncrlf = ${CRLF_CANARY}\nport = 8080\n`,
    );
    expect(await stored(`${DIR}/token.conf`)).toBe(`secret_token=${LONG_CANARY}\n`);
    const again = scanned("second apply", await provision(ROTATED_OLD_CANARY, "--check", "--diff"));
    expect(again.code, again.stdout).toBe(0);
  }, 180_000);

  it("a rotated password: the old value, read from the host, shows in no diff, terminal or JSON", async () => {
    const check = scanned("rotated check --diff", await provision(ROTATED_NEW_CANARY, "--check", "--diff"));
    expect(check.code, check.stdout + check.stderr).toBe(2);
    expect(check.stdout).toContain("removed lines hidden: the text holds a secret");
    expect(check.stdout).toMatch(/ {4}-\*\*\*\n {4}\+password = \*\*\*\n/);
    // --json carries diffs even without --diff.
    const json = scanned("rotated check --json", await provision(ROTATED_NEW_CANARY, "--check", "--json"));
    const step = parseReport(json).hosts[0]?.steps.find((s) => s.name === `file ${DIR}/app.conf`);
    expect(step?.status).toBe("would-change");
    expect(step?.diff).toContain("-***\n+password = ***");
    const apply = scanned("rotated apply --json --diff", await provision(ROTATED_NEW_CANARY, "--json", "--diff"));
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
    expect(await stored(`${DIR}/app.conf`)).toContain(`password = ${ROTATED_NEW_CANARY}\n`);
  }, 180_000);

  it("a failing validation whose stderr holds the key's last lines: the error is masked", async () => {
    const failed = scanned("failed validation", await provision(ROTATED_NEW_CANARY, "--var", "failValidation=yes"));
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/validation failed/);
    expect(failed.stdout).toContain("***");
    expect(await onHost(host, `test -e ${DIR}/validated.pem && echo present || echo absent`)).toBe("absent\n");
  }, 180_000);

  it("a secret shorter than 8 characters is refused naming the var, and not printed", async () => {
    const short = await provision(SHORT_CANARY, "--check");
    expect(short.code).not.toBe(0);
    expect(short.stdout + short.stderr).toMatch(/password: environment variable SECRET_CONTENT_PW: a secret must be at least 8 characters/);
    assertNoSecrets("short secret refusal", short.stdout + short.stderr, [SHORT_CANARY]);
  }, 60_000);

  it("the host's process list, journal and /var/log never held a secret", async () => {
    expect(processSamples.length).toBeGreaterThan(5);
    const canaries = [MULTILINE_CANARY, ROTATED_OLD_CANARY, ROTATED_NEW_CANARY, LONG_CANARY, CRLF_CANARY];
    assertNoSecrets("host process list samples", processSamples.join("\n"), canaries);
    assertNoSecrets("journal", await onHost(host, "journalctl --no-pager -o cat 2>/dev/null || :"), canaries);
    assertNoSecrets(
      "/var/log",
      await onHost(host, "find /var/log -path /var/log/journal -prune -o -type f -print0 | xargs -0 -r cat 2>/dev/null || :"),
      canaries,
    );
  });
});
