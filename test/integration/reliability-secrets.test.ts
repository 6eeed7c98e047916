/**
 * Secrets never show: playbooks/mail.ts with a canary SASL password (test/support/secret-canary.ts)
 * is applied, checked with --diff, checked after the stored password was changed by hand, and run
 * as deploy2 with --become and a WRONG sudo password (a canary too), then with the right one.
 * Every captured stdout/stderr/JSON is scanned for every canary (and its hex and base64 forms),
 * as are the host's process list (sampled every ~250 ms during the runs, as root: every user's
 * argv), its journal and the text files under /var/log.
 * Not scanned (by design): the sasldb itself, which stores the SASL password in cleartext (that is
 * Cyrus SASL's format). Host: fleet index 9.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostExec } from "../hosts/harness.ts";
import { testHost } from "./support/fleet.ts";
import { provisionCli, REPO, runOnTestHost, type CliRun, fleetCliArgs } from "./support/cli.ts";
import { MAIL_HOSTNAME, mailVarsFile, onHost } from "./support/reliability.ts";
import { assertNoSecrets } from "../support/secret-canary.ts";

const host = testHost(9);
const PASSWORD = "Canary-sasl-pw-Q7x9-\u00e9";
const WRONG_SUDO = "Canary-sudo-wrong-K3m8";
const PLAYBOOK = join(REPO, "playbooks/mail.ts");
let dir: string;
let varsFile: string;
const processSamples: string[] = [];

beforeAll(async () => {
  ({ dir, varsFile } = await mailVarsFile("RELIABILITY_MAIL_PW"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run the CLI while sampling the host's process list (bounded: 600 samples). */
async function sampled(run: Promise<CliRun>): Promise<CliRun> {
  let done = false;
  const sampler = (async () => {
    for (let i = 0; i < 600 && !done; i += 1) {
      const ps = await hostExec(host, "ps -eww -o user=,args=");
      processSamples.push(ps.stdout);
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

function scan(label: string, result: CliRun): void {
  assertNoSecrets(`${label} stdout`, result.stdout);
  assertNoSecrets(`${label} stderr`, result.stderr);
}

const asRoot = (...extra: string[]) =>
  sampled(runOnTestHost(PLAYBOOK, host.address, ["--vars-file", varsFile, ...extra], { env: { RELIABILITY_MAIL_PW: PASSWORD } }));

function asDeploy2(sudoPassword: string, ...extra: string[]) {
  return sampled(
    provisionCli(["run", PLAYBOOK, ...fleetCliArgs(host.address, { user: "deploy2" }), "--become", "--vars-file", varsFile, ...extra], {
      env: { RELIABILITY_MAIL_PW: PASSWORD, PROVISION_BECOME_PASSWORD: sudoPassword },
    }),
  );
}

describe("no configured secret in any output, report, diff, log or process list", () => {
  it("apply, check --diff, drifted password check, repair: outputs clean", async () => {
    const apply = await asRoot("--diff");
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
    scan("apply --diff", apply);
    const json = await asRoot("--check", "--json", "--diff");
    expect(json.code).toBe(0);
    scan("check --json", json);

    await onHost(host, `printf 'changed-by-hand' | saslpasswd2 -p -c -u ${MAIL_HOSTNAME} bob`);
    const drift = await asRoot("--check", "--diff");
    expect(drift.code).toBe(2);
    expect(drift.stdout).toMatch(/stored password differs/);
    scan("drift check", drift);
    const repair = await asRoot("--json");
    expect(repair.code).toBe(0);
    scan("repair --json", repair);
  }, 180_000);

  it("sudo with a wrong password fails clearly, and shows neither password", async () => {
    const wrong = await asDeploy2(WRONG_SUDO, "--check", "--json");
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/sudo refused the password configured for deploy2/);
    scan("wrong sudo password", wrong);
    const right = await asDeploy2("test-sudo-pass", "--check", "--json", "--diff");
    expect(right.code, right.stdout + right.stderr).toBe(0);
    scan("right sudo password", right);
  }, 120_000);

  it("the host's process list, journal and /var/log never held a secret", async () => {
    expect(processSamples.length).toBeGreaterThan(5);
    assertNoSecrets("host process list samples", processSamples.join("\n"));
    assertNoSecrets("journal", await onHost(host, "journalctl --no-pager -o cat 2>/dev/null || :"));
    assertNoSecrets(
      "/var/log",
      await onHost(host, "find /var/log -path /var/log/journal -prune -o -type f -print0 | xargs -0 -r cat 2>/dev/null || :"),
    );
  });
});
