/**
 * The OpenPGP keyring an apt repository is signed with, checked on the controller before anything
 * reaches a host: `gpg --show-keys --with-colons` (GnuPG parses the packets; hand-parsing OpenPGP
 * would be a second, weaker parser) lists the primary keys' fingerprints, and the one the playbook
 * names must be among them. gpg runs with a throw-away home directory: --show-keys imports
 * nothing, and the user's own keyring is never read or written.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidStepError } from "../playbook/step.ts";

/** The primary-key fingerprints in `--with-colons` output (the `fpr` line right after each `pub`). */
export function primaryFingerprints(colons: string): string[] {
  const lines = colons.split("\n");
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith("pub:")) return;
    const fpr = lines.slice(i + 1).find((l) => l.startsWith("fpr:"));
    const value = fpr?.split(":")[9];
    if (value) out.push(value.toUpperCase());
  });
  return out;
}

/** Throws (naming the step and what the keyring holds) unless `fingerprint` is one of its primary keys. */
export function checkKeyringFingerprint(step: string, keyring: Buffer, fingerprint: string): void {
  const home = mkdtempSync(join(tmpdir(), "provision-gpg-"));
  let colons: string;
  try {
    colons = execFileSync("gpg", ["--homedir", home, "--batch", "--no-tty", "--show-keys", "--with-colons", "--fixed-list-mode"], {
      input: keyring,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 30_000,
    }).toString("utf8");
  } catch (error) {
    const e = error as { code?: string; stderr?: Buffer };
    const why =
      e.code === "ENOENT"
        ? "gpg is not installed on the controller (apt-get install gnupg)"
        : e.stderr?.toString("utf8").trim() || String(error);
    throw new InvalidStepError(`${step}: cannot read the keyring: ${why}`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  const found = primaryFingerprints(colons);
  if (!found.includes(fingerprint.toUpperCase())) {
    throw new InvalidStepError(
      `${step}: the keyring does not hold the key ${fingerprint.toUpperCase()} (it holds: ${found.join(", ") || "no key"})`,
    );
  }
}
