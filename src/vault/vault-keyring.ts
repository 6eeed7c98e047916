/**
 * The vault passwords of a run, and decryption with them.
 *
 * Sources (never argv — a password on a command line is visible in `ps` to every local user):
 *   --vault-password-file FILE     vault id "default"
 *   --vault-id LABEL@FILE          vault id LABEL (Ansible's form; `LABEL@prompt` is refused)
 *   env PROVISION_VAULT_PASSWORD   the password itself, vault id "default"
 *   env ANSIBLE_VAULT_PASSWORD_FILE   a file, as --vault-password-file (Ansible's own variable)
 *
 * A password file is read as Ansible reads it: surrounding white space stripped. An EXECUTABLE
 * password file is run, as Ansible runs it, and its stdout (minus trailing newlines) is the
 * password — teams keep vault passwords in a keyring or `pass` that way; the file is on the
 * controller, which is trusted like the playbooks it runs (SECURITY.md). A script named
 * `*-client` or `*-client.EXT` gets `--vault-id LABEL`, as in Ansible. It runs without a shell,
 * stdin and stderr inherited (it may prompt), bounded by a timeout.
 *
 * Decryption tries the password whose id matches the envelope's label first, then the others
 * (Ansible's default, vault_id_match off). When none fits, the error names the file and line
 * and the ids tried — never the passwords, never garbage plaintext.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { basename } from "node:path";
import { Secret } from "../shell/secret.ts";
import { decryptVault, parseVaultText, VaultFormatError } from "./vault-text.ts";

export const VAULT_PASSWORD_ENV = "PROVISION_VAULT_PASSWORD";
export const VAULT_PASSWORD_FILE_ENV = "ANSIBLE_VAULT_PASSWORD_FILE";
const SCRIPT_TIMEOUT_MS = 60_000;

export class VaultError extends Error {
  override readonly name = "VaultError";
}

export interface VaultPassword {
  id: string;
  password: Secret;
  /** Where it came from, for messages (a file name or the variable's name; never the value). */
  source: string;
}

export interface VaultSources {
  passwordFiles?: readonly string[];
  /** `LABEL@FILE` (or a bare FILE, id "default"). */
  vaultIds?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

export class VaultKeyring {
  constructor(readonly passwords: readonly VaultPassword[]) {}

  get empty(): boolean {
    return this.passwords.length === 0;
  }

  /** Decrypt vault text found at `where` (file:line) into its UTF-8 plaintext. */
  decrypt(text: string, where: string): string {
    let envelope: ReturnType<typeof parseVaultText>;
    try {
      envelope = parseVaultText(text);
    } catch (error) {
      if (error instanceof VaultFormatError) throw new VaultError(`${where}: damaged Ansible Vault text: ${error.message}`);
      throw error;
    }
    if (this.empty) {
      throw new VaultError(
        `${where}: ansible-vault encrypted content${envelope.label ? ` (vault id ${envelope.label})` : ""}, but no vault password was given: ` +
          `use --vault-password-file FILE, --vault-id LABEL@FILE or the environment variable ${VAULT_PASSWORD_ENV}`,
      );
    }
    const label = envelope.label ?? "default";
    const ordered = [...this.passwords.filter((p) => p.id === label), ...this.passwords.filter((p) => p.id !== label)];
    for (const candidate of ordered) {
      const plain = decryptVault(envelope, candidate.password.reveal());
      if (plain !== undefined) {
        const textOut = plain.toString("utf8");
        if (Buffer.from(textOut, "utf8").equals(plain)) return textOut;
        throw new VaultError(`${where}: the decrypted vault content is not UTF-8 text`);
      }
    }
    const tried = ordered.map((p) => `${p.id} (${p.source})`).join(", ");
    throw new VaultError(
      `${where}: cannot decrypt${envelope.label ? ` vault id ${envelope.label}` : ""}: wrong vault password, or the text was altered (the HMAC does not match); tried ${tried}`,
    );
  }
}

/** Gather the run's vault passwords; reading (or running) each source once. */
export async function loadVaultKeyring(sources: VaultSources): Promise<VaultKeyring> {
  const env = sources.env ?? process.env;
  const passwords: VaultPassword[] = [];
  const specs: { id: string; file: string }[] = [];
  const envFile = env[VAULT_PASSWORD_FILE_ENV];
  if (envFile) specs.push({ id: "default", file: envFile });
  for (const file of sources.passwordFiles ?? []) specs.push({ id: "default", file });
  for (const spec of sources.vaultIds ?? []) specs.push(parseVaultId(spec));
  for (const { id, file } of specs) passwords.push({ id, password: await readPasswordFile(file, id), source: file });
  const fromEnv = env[VAULT_PASSWORD_ENV];
  if (fromEnv !== undefined && fromEnv !== "")
    passwords.push({
      id: "default",
      password: toSecret(fromEnv, `environment variable ${VAULT_PASSWORD_ENV}`),
      source: VAULT_PASSWORD_ENV,
    });
  return new VaultKeyring(passwords);
}

export function parseVaultId(spec: string): { id: string; file: string } {
  const at = spec.indexOf("@");
  const id = at < 0 ? "default" : spec.slice(0, at);
  const file = at < 0 ? spec : spec.slice(at + 1);
  if (id === "" || file === "" || /[;\s]/.test(id)) throw new VaultError(`--vault-id ${spec}: expected LABEL@FILE`);
  if (file === "prompt" || file === "prompt_ask_vault_pass") {
    throw new VaultError(
      `--vault-id ${spec}: prompting for a vault password is not supported; give a password file (or an executable that prints it)`,
    );
  }
  return { id, file };
}

async function readPasswordFile(file: string, id: string): Promise<Secret> {
  let executable = false;
  try {
    accessSync(file, constants.X_OK);
    executable = true;
  } catch {
    // not executable (or missing: reading says which)
  }
  if (executable) {
    const args = /-client(\.[^.]+)?$/.test(basename(file)) ? ["--vault-id", id] : [];
    const out = await runScript(file, args);
    return toSecret(out.replace(/[\r\n]+$/, ""), `vault password script ${file}`);
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new VaultError(`cannot read vault password file ${file}: ${(error as Error).message}`);
  }
  return toSecret(text.trim(), `vault password file ${file}`);
}

function runScript(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["inherit", "pipe", "inherit"], timeout: SCRIPT_TIMEOUT_MS });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.on("error", (error) => reject(new VaultError(`cannot run vault password script ${file}: ${error.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(chunks).toString("utf8"));
      reject(new VaultError(`vault password script ${file} failed (${signal ? `signal ${signal}` : `exit code ${code}`})`));
    });
  });
}

function toSecret(value: string, what: string): Secret {
  if (value.trim() === "") throw new VaultError(`${what} gives an empty vault password`);
  return new Secret(value, { shortValues: "whole-words" });
}
