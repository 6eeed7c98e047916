/**
 * `--check` touches nothing: for every drift scenario of playbooks/mail.ts (the ones
 * test/integration/mail.test.ts repairs, plus a host where nothing is set up yet), a fingerprint of
 * the host — every file under /etc and /var/spool/postfix/etc with owner, mode and mtime, the live
 * iptables rules, the sasldb contents, postfix's active/enabled state, the temp dirs and any
 * .provision-* file (support/reliability.ts) — is identical before and after `--check --diff`.
 * Host: fleet index 9.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testHost } from "./support/fleet.ts";
import { REPO, parseReport, runOnTestHost } from "./support/cli.ts";
import { fingerprint, MAIL_HOSTNAME, mailVarsFile, onHost, UNCONVERGE_MAIL } from "./support/reliability.ts";
import { assertNoSecrets } from "../support/secret-canary.ts";

const host = testHost(9);
const PASSWORD = "Canary-sasl-pw-Q7x9-\u00e9";
const PLAYBOOK = join(REPO, "playbooks/mail.ts");
let dir: string;
let varsFile: string;

const run = (...extra: string[]) =>
  runOnTestHost(PLAYBOOK, host.address, ["--vars-file", varsFile, ...extra], { env: { RELIABILITY_MAIL_PW: PASSWORD } });

beforeAll(async () => {
  ({ dir, varsFile } = await mailVarsFile("RELIABILITY_MAIL_PW"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectCheckTouchesNothing(expectedCode: 0 | 2): Promise<void> {
  const before = await fingerprint(host);
  const json = await run("--check", "--json");
  expect(json.code, json.stderr).toBe(expectedCode);
  const diff = await run("--check", "--diff");
  expect(diff.code, diff.stderr).toBe(expectedCode);
  const after = await fingerprint(host);
  expect(after).toBe(before);
  for (const [where, text] of [
    ["json", json.stdout],
    ["stderr", json.stderr],
    ["diff", diff.stdout],
  ] as const)
    assertNoSecrets(where, text);
  if (expectedCode === 2) expect(parseReport(json).hosts[0]?.counts.wouldChange).toBeGreaterThan(0);
}

const scenarios: { name: string; tamper: string }[] = [
  { name: "a main.cf value edited by hand", tamper: "postconf -e 'smtpd_banner = $myhostname ESMTP $mail_name ($mail_version)'" },
  { name: "submission commented out again", tamper: "sed -i 's/^submission/#submission/' /etc/postfix/master.cf && postfix reload" },
  { name: "the port-587 rule deleted", tamper: "iptables -D INPUT -p tcp --dport 587 -j ACCEPT" },
  {
    name: "the sasl password changed by hand",
    tamper: `printf 'changed-by-hand' | saslpasswd2 -p -c -u ${MAIL_HOSTNAME} bob && cp -p /etc/sasldb2 /var/spool/postfix/etc/sasldb2`,
  },
  { name: "/etc/sasldb2 owned by root again", tamper: "chown root /etc/sasldb2" },
  { name: "Postfix stopped", tamper: "systemctl stop postfix" },
  { name: "disable_vrfy_command flipped", tamper: "postconf -e 'disable_vrfy_command = no'" },
  { name: "everything undone at once (packages kept)", tamper: UNCONVERGE_MAIL },
];

describe("--check changes nothing on the host", () => {
  it("converges the host first, and a converged --check is still a no-op", async () => {
    const first = await run();
    expect(first.code, `${first.stdout}\n${first.stderr}`).toBe(0);
    await expectCheckTouchesNothing(0);
  });

  for (const scenario of scenarios) {
    it(`drift: ${scenario.name}`, async () => {
      await onHost(host, scenario.tamper);
      await expectCheckTouchesNothing(2);
      const repair = await run();
      expect(repair.code, `${repair.stdout}\n${repair.stderr}`).toBe(0);
    });
  }
});
