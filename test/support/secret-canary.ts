/**
 * The secret values the test suite configures, in one registry, and a scanner for anything a test
 * captured (stdout, stderr, JSON reports, error messages, diffs, a host's process list or logs).
 *
 * Coverage, honestly: a value is only caught where a test scans. Every CLI run of the integration
 * tests is scanned (test/integration/support/cli.ts), and so is every runner-level unit run through
 * test/unit/support/mock-host.ts. Besides, the reliability tests scan the
 * CLI's output and JSON for the mail playbook (apply, check, a failing sudo run), the host's journal,
 * /var/log and process list sampled during those runs (test/integration/reliability-secrets.test.ts),
 * and the events, reports, terminal output and diffs of runner-level runs with the mock host
 * (test/unit/reliability/secrets.test.ts). Other test files keep their own secret assertions; a
 * new secret in a test should be added here so the scans above know it.
 */
import { TEST_USER_SUDO_PASSWORD } from "../hosts/paths.ts";

/** Values tests give as secrets (passwords, passphrases). Each is distinctive enough to grep for. */
export const SECRET_CANARIES: readonly string[] = [
  // test/integration/mail.test.ts
  "Mail-Test-pw-7731",
  // the test hosts' deploy2 sudo password (test/hosts/paths.ts)
  TEST_USER_SUDO_PASSWORD,
  // the reliability tests' own
  "Canary-sasl-pw-Q7x9-\u00e9",
  "Canary-sudo-wrong-K3m8",
  "Canary-unit-pw-Z5v2",
  // test/unit/engine/secrets.test.ts, test/unit/playbooks/mail-rhel.test.ts
  "s3cret-Correct-Horse",
  "rhel-test-password",
  // test/integration/ansible-become-proxy.test.ts (root's and pgtest's passwords for su)
  "su-root-pass-7f3",
  "su-pgtest-pass-2d9",
];

/** Forms a secret could leak in besides itself: hex (db_dump, od), base64 (gdbm_dump, HTTP auth). */
function encodings(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  return [value, bytes.toString("hex"), bytes.toString("base64").replace(/=+$/, "")];
}

/** Every (label, encoding) of a canary found in `text`. */
export function findSecrets(text: string, canaries: readonly string[] = SECRET_CANARIES): string[] {
  const found: string[] = [];
  for (const value of canaries) {
    for (const form of encodings(value)) if (text.includes(form)) found.push(form === value ? value : `${value} (encoded as ${form})`);
  }
  return found;
}

/** Throw, naming where, when `text` holds a canary. */
export function assertNoSecrets(where: string, text: string, canaries: readonly string[] = SECRET_CANARIES): void {
  const found = findSecrets(text, canaries);
  if (found.length > 0) {
    const at = text.indexOf(found[0]?.split(" (encoded")[0] ?? "");
    throw new Error(`secret leaked in ${where}: ${found.join(", ")}${at >= 0 ? `\n…${text.slice(Math.max(0, at - 120), at + 40)}…` : ""}`);
  }
}
