/**
 * Ansible Vault's format (`ansible-vault encrypt` / `encrypt_string`), decrypted with node:crypto:
 *
 *   $ANSIBLE_VAULT;1.1;AES256            (or 1.2;AES256;LABEL for a vault id)
 *   <hex of: hex(salt) \n hex(hmac) \n hex(ciphertext)>, wrapped at 80 columns
 *
 * key material = PBKDF2-HMAC-SHA256(password, salt, 10000 iterations, 80 bytes):
 * 32 bytes AES-256-CTR key, 32 bytes HMAC-SHA256 key, 16 bytes counter IV. The HMAC covers the
 * ciphertext and is checked (in constant time) before anything is decrypted; the plaintext carries
 * PKCS#7 padding to 16 bytes, checked strictly.
 *
 * Why not the npm `ansible-vault` package: it compares the HMAC with Buffer.compare (not constant
 * time), returns the padded text unchanged when the padding is wrong instead of refusing it, and
 * decodes hex without checking it. The format is small enough to read here, exactly.
 */
import { createDecipheriv, createHmac, pbkdf2Sync, timingSafeEqual } from "node:crypto";

export const VAULT_HEADER = "$ANSIBLE_VAULT;";

export interface VaultEnvelope {
  version: "1.1" | "1.2";
  /** The vault id of a 1.2 envelope; undefined for 1.1 (Ansible calls that one "default"). */
  label?: string;
  salt: Buffer;
  hmac: Buffer;
  ciphertext: Buffer;
}

/** The envelope is not Ansible Vault text (a damaged header or body). */
export class VaultFormatError extends Error {
  override readonly name = "VaultFormatError";
}

export function isVaultText(text: string): boolean {
  return text.trimStart().startsWith(VAULT_HEADER);
}

/** Split vault text into its parts; throws VaultFormatError saying what is wrong. */
export function parseVaultText(text: string): VaultEnvelope {
  const lines = text
    .trim()
    .split(/\r?\n/)
    .map((line) => line.trim());
  const header = (lines[0] ?? "").split(";").map((part) => part.trim());
  if (header[0] !== "$ANSIBLE_VAULT") throw new VaultFormatError("not Ansible Vault text (no $ANSIBLE_VAULT header)");
  const [, version, cipher, label] = header;
  if (version !== "1.1" && version !== "1.2")
    throw new VaultFormatError(`unsupported vault format version ${JSON.stringify(version)} (1.1 and 1.2 are)`);
  if (cipher !== "AES256") throw new VaultFormatError(`unsupported vault cipher ${JSON.stringify(cipher)} (AES256 is)`);
  if (version === "1.2" && !label) throw new VaultFormatError("a 1.2 vault header names no vault id");
  const outer = unhex(lines.slice(1).join(""), "body").toString("latin1");
  const parts = outer.split("\n");
  if (parts.length !== 3) throw new VaultFormatError("the vault body is not salt, HMAC and ciphertext");
  const [salt, hmac, ciphertext] = parts.map((part, i) => unhex(part, ["salt", "HMAC", "ciphertext"][i] as string)) as [
    Buffer,
    Buffer,
    Buffer,
  ];
  if (salt.length === 0 || hmac.length !== 32 || ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
    throw new VaultFormatError("the vault body has a salt, HMAC or ciphertext of the wrong size");
  }
  return { version, ...(version === "1.2" && label ? { label } : {}), salt, hmac, ciphertext };
}

/**
 * The plaintext, or undefined when the password does not fit (the HMAC differs: a wrong password,
 * or text altered after it was encrypted — the two cannot be told apart, by design).
 */
export function decryptVault(envelope: VaultEnvelope, password: string): Buffer | undefined {
  const material = pbkdf2Sync(Buffer.from(password, "utf8"), envelope.salt, 10_000, 80, "sha256");
  const key = material.subarray(0, 32);
  const hmacKey = material.subarray(32, 64);
  const iv = material.subarray(64, 80);
  const expected = createHmac("sha256", hmacKey).update(envelope.ciphertext).digest();
  if (!timingSafeEqual(expected, envelope.hmac)) return undefined;
  const decipher = createDecipheriv("aes-256-ctr", key, iv);
  const padded = Buffer.concat([decipher.update(envelope.ciphertext), decipher.final()]);
  return unpad(padded);
}

function unpad(padded: Buffer): Buffer {
  const count = padded[padded.length - 1] ?? 0;
  const valid =
    count >= 1 && count <= 16 && count <= padded.length && padded.subarray(padded.length - count).every((byte) => byte === count);
  // Reached only with an authentic HMAC: bad padding means the encrypting side was broken.
  if (!valid) throw new VaultFormatError("the decrypted vault text has invalid PKCS#7 padding");
  return padded.subarray(0, padded.length - count);
}

function unhex(text: string, what: string): Buffer {
  if (text.length === 0 || text.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(text))
    throw new VaultFormatError(`the vault ${what} is not hexadecimal`);
  return Buffer.from(text, "hex");
}
