/**
 * The bare-Debian mail check (test/unit/playbooks/mail-bare-debian.test.ts) and its recording
 * script (test/support/record-bare-mail.ts) share these: the vars the outputs are recorded with,
 * where the recording lives and its format. One place, so a re-recording cannot drift from the test.
 */
import path from "node:path";

/** playbooks/mail.ts vars: the SMTP check probes from the host, so it is a recorded remote read too. */
export const BARE_MAIL_VARS = {
  hostname: "mail.example.org",
  users: [{ name: "bob", password: "bare-host-test-pw" }],
  verify: { smtpFrom: "host" },
} as const;

/** What the host had purged before the recording (the base test host ships them). */
export const BARE_MAIL_PURGED = ["postfix", "sasl2-bin", "db-util", "libsasl2-modules"] as const;

export const BARE_MAIL_FIXTURE = path.resolve(import.meta.dirname, "../unit/playbooks/fixtures/debian12-bare-mail-check.json");

/**
 * One command as the host answered it; a read batch is stored fragment by fragment (the mock host
 * splits batches into their fragments, so a fixture keyed by the exact fragment survives another
 * batch order or marker). Outputs are base64: bytes as the host printed them.
 */
export interface RecordedCommand {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}
