/**
 * A `--vars-file` (Ansible's `-e @file`) encrypted by `ansible-vault`, or holding inline `!vault`
 * values: decrypted with the run's keyring, every string a Secret — as vars files in group_vars/
 * and host_vars/ are (src/inventory/yaml-source.ts). Returns undefined for a plain file, which the
 * caller parses as before. Errors (no password, wrong password, damage) name the file and line.
 */
import { YamlSource } from "../inventory/yaml-source.ts";
import { isVaultText } from "./vault-text.ts";
import type { VaultKeyring } from "./vault-keyring.ts";

const INLINE_VAULT = /(^|[\s:])!vault(\s|$)/m;

export function vaultVarsFile(path: string, text: string, vault: VaultKeyring | undefined): Record<string, unknown> | undefined {
  if (!isVaultText(text) && !INLINE_VAULT.test(text)) return undefined;
  const source = new YamlSource(path, text, { ...(vault ? { vault } : {}), secretLeaves: true });
  if (source.value === null || source.value === undefined) return {};
  if (typeof source.value !== "object" || Array.isArray(source.value)) throw source.error([], "expected a mapping of var names to values");
  return source.value as Record<string, unknown>;
}
