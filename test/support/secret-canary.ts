/**
 * The secret values the test suite configures, in one registry, and a scanner for anything a test
 * captured (stdout, stderr, JSON reports, error messages, diffs, a host's process list or logs).
 *
 * Coverage, honestly: a value is only caught where a test scans. Every CLI run of the integration
 * tests is scanned (test/integration/support/cli.ts), and so is every runner-level unit run through
 * test/unit/support/mock-host.ts. Not only whole values are caught: any 12 characters in a row of a
 * canary (a display name cut in the middle of a secret, one line of a multi-line key) count as a
 * leak. Besides, the reliability tests scan the
 * CLI's output and JSON for the mail playbook (apply, check, a failing sudo run), the host's journal,
 * /var/log and process list sampled during those runs (test/integration/reliability-secrets.test.ts),
 * and the events, reports, terminal output and diffs of runner-level runs with the mock host
 * (test/unit/guarantees/secrets.test.ts). Other test files keep their own secret assertions; a
 * new secret in a test should be added here so the scans above know it.
 */
import { TEST_USER_SUDO_PASSWORD } from "../hosts/paths.ts";

/** Values tests give as secrets (passwords, passphrases). Each is distinctive enough to grep for. */
const BASE_CANARIES: readonly string[] = [
  // test/integration/mail.test.ts
  "Mail-Test-pw-7731",
  // the test hosts' deploy2 sudo password (test/hosts/paths.ts)
  TEST_USER_SUDO_PASSWORD,
  // the reliability tests' own
  "Canary-sasl-pw-Q7x9-\u00e9",
  "Canary-sudo-wrong-K3m8",
  "Canary-unit-pw-Z5v2",
  // test/unit/shell/secret.test.ts, test/unit/playbooks/mail-rhel.test.ts
  "s3cret-Correct-Horse",
  "rhel-test-password",
  // test/integration/ansible-become-proxy.test.ts (root's and pgtest's passwords for su)
  "su-root-pass-7f3",
  "su-pgtest-pass-2d9",
];

/**
 * The kinds of secret masking used to get wrong (issue 11), used by the unit and integration
 * secrets tests and added to the canaries: a multi-line key (each line distinctive), a secret
 * rotated from an old value the host still holds, and one longer than a step name's 50 characters.
 */
export const MULTILINE_CANARY = [
  "-----BEGIN CANARY PRIVATE KEY-----",
  // Not a real key's base64: a real RSA key shares its DER prefix (MII…ANBgkqhkiG9w0BAQEF) with every
  // public key a test prints (a DKIM record), which a 12-character leak check would flag.
  "CanaryKeyLine1+Q2FuYXJ5LWtleS1saW5lLW9uZQ",
  "CanaryKeyLine2+Q2FuYXJ5LWtleS1saW5lLXR3bw",
  "CanaryKeyLine3+tail",
  "-----END CANARY PRIVATE KEY-----",
].join("\n");
export const ROTATED_OLD_CANARY = "Canary-oldRotated-J2d6";
export const ROTATED_NEW_CANARY = "Canary-newRotated-W9p4";
export const LONG_CANARY = "Canary-LongSecret-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ-end";
/** A `fromFile` secret whose file ends in CRLF (test/integration/reliability-secret-content.test.ts). */
export const CRLF_CANARY = "Canary-crlfFile-T3q8";
/** Refused as a secret (too short); scanned only where a test gives it, being too short to be distinctive everywhere. */
export const SHORT_CANARY = "Qz7#k";

export const SECRET_CANARIES: readonly string[] = [
  ...BASE_CANARIES,
  MULTILINE_CANARY,
  ROTATED_OLD_CANARY,
  ROTATED_NEW_CANARY,
  LONG_CANARY,
  CRLF_CANARY,
];

/** Any 12 characters in a row of a canary are a leak (a secret cut short, one line of a key). */
const PIECE = 12;

/** Forms a secret could leak in besides itself: hex (db_dump, od), base64 (gdbm_dump, HTTP auth). */
function encodings(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  return [value, bytes.toString("hex"), bytes.toString("base64").replace(/=+$/, "")];
}

/** Every (label, encoding) of a canary found in `text`; a piece of one is named as such. */
export function findSecrets(text: string, canaries: readonly string[] = SECRET_CANARIES): string[] {
  const found: string[] = [];
  for (const value of canaries) {
    const forms = encodings(value).filter((form) => text.includes(form));
    for (const form of forms) found.push(form === value ? value : `${value} (encoded as ${form})`);
    if (forms.length > 0) continue;
    const piece = pieces(value).find((p) => text.includes(p));
    if (piece !== undefined) found.push(`${piece} (a piece of ${JSON.stringify(value)})`);
  }
  return found;
}

function pieces(value: string): string[] {
  const out: string[] = [];
  for (let at = 0; at + PIECE <= value.length; at += 1) out.push(value.slice(at, at + PIECE));
  return out;
}

/** Throw, naming where, when `text` holds a canary. */
export function assertNoSecrets(where: string, text: string, canaries: readonly string[] = SECRET_CANARIES): void {
  const found = findSecrets(text, canaries);
  if (found.length > 0) {
    const at = text.indexOf(found[0]?.split(/ \((encoded|a piece)/)[0] ?? "");
    throw new Error(`secret leaked in ${where}: ${found.join(", ")}${at >= 0 ? `\n…${text.slice(Math.max(0, at - 120), at + 40)}…` : ""}`);
  }
}
