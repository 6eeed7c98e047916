/** Ansible Vault: reading `ansible-vault` files and inline `!vault` values (see vault-text.ts, vault-keyring.ts). */
export { decryptVault, isVaultText, parseVaultText, VaultFormatError, VAULT_HEADER, type VaultEnvelope } from "./vault-text.ts";
export {
  loadVaultKeyring,
  parseVaultId,
  VaultError,
  VaultKeyring,
  VAULT_PASSWORD_ENV,
  VAULT_PASSWORD_FILE_ENV,
  type VaultPassword,
  type VaultSources,
} from "./vault-keyring.ts";
export { vaultVarsFile } from "./vars-file.ts";
