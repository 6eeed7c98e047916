/**
 * `--inventory PATH`: detect the format and load it.
 *
 * - `.ts` `.mts` `.cts` `.js` `.mjs`: a TypeScript inventory (`export default defineInventory({...})`).
 * - `.ini` `.cfg`: an Ansible INI inventory.
 * - `.yml` `.yaml` `.json`: our YAML shape when the top level has only `hosts`/`groups`/`vars`,
 *   else an Ansible YAML inventory.
 * - no known extension (Ansible's `hosts`, `inventory`): INI when the first meaningful line is a
 *   `[section]` or the text is not a YAML mapping of mappings; else YAML as above.
 * - a directory: every file in it (name order; hidden files, `host_vars/`, `group_vars/`,
 *   subdirectories and `.md .txt .rst .orig .bak .retry .swp ~` skipped), merged.
 *
 * Then `group_vars/` and `host_vars/` beside the file (inside the directory) apply.
 *
 * Ansible Vault (with `options.vault`): an inventory file encrypted whole is decrypted, then read
 * as above (its structure stays plain data: host names are not secrets); inline `!vault` values
 * and vaulted vars files become Secrets (see yaml-source.ts).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import YAML from "yaml";
import { addAnsibleIni } from "./ansible-ini.ts";
import { addAnsibleYaml } from "./ansible-yaml.ts";
import { InventoryError, located, type Inventory } from "./inventory.ts";
import { InventoryBuilder } from "./inventory-builder.ts";
import { addTsInventory } from "./load-ts-inventory.ts";
import { addNativeYaml, isNativeYaml } from "./native-yaml.ts";
import { addVarsDirs } from "./vars-dirs.ts";
import { isMapping, YamlSource } from "./yaml-source.ts";
import { isVaultText, type VaultKeyring } from "../vault/index.ts";

export interface LoadInventoryOptions {
  /** Vault passwords for encrypted files and `!vault` values; without it, vault content is an error. */
  vault?: VaultKeyring;
}

export type InventoryFormat = "typescript" | "ini" | "yaml";

const TS = new Set([".ts", ".mts", ".cts", ".js", ".mjs"]);
const INI = new Set([".ini", ".cfg"]);
const YAML_EXT = new Set([".yml", ".yaml", ".json"]);
const SKIPPED = /(\.(md|txt|rst|orig|bak|retry|swp|pyc)|~)$/;

export async function loadInventory(path: string, options: LoadInventoryOptions = {}): Promise<Inventory> {
  return loadInventories([path], options);
}

/**
 * Several `-i` merged into one inventory, as Ansible does: each path is read in order into the
 * same builder, so a later file adds hosts and groups and its vars win over an earlier one's.
 */
export async function loadInventories(paths: readonly string[], options: LoadInventoryOptions = {}): Promise<Inventory> {
  const builder = new InventoryBuilder(paths.join(", "), options);
  for (const path of paths) await addInventoryPath(builder, path);
  return builder.build();
}

async function addInventoryPath(builder: InventoryBuilder, path: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    throw new InventoryError(`${path}: inventory not found`);
  }
  if (info.isDirectory()) {
    const entries = (await readdir(path, { withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.startsWith(".") && !SKIPPED.test(e.name))
      .map((e) => e.name)
      .sort();
    if (entries.length === 0) throw new InventoryError(`${path}: inventory directory has no inventory files`);
    for (const name of entries) await addInventoryFile(builder, join(path, name));
    await addVarsDirs(builder, path, (p) => p);
  } else {
    await addInventoryFile(builder, path);
    await addVarsDirs(builder, dirname(path), (p) => p);
  }
}

/** Parse one inventory file into the builder (no vars directories). */
export async function addInventoryFile(builder: InventoryBuilder, file: string): Promise<void> {
  const ext = extname(file).toLowerCase();
  if (TS.has(ext)) return addTsInventory(builder, file);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new InventoryError(located(file, undefined, `cannot read inventory: ${(error as Error).message}`));
  }
  addInventoryText(builder, file, text);
}

/** Parse inventory text (INI or YAML) whose format is told by the file name or the content. */
export function addInventoryText(builder: InventoryBuilder, file: string, text: string): void {
  if (isVaultText(text)) text = decryptInventory(builder.vault, file, text);
  const format = detectFormat(file, text);
  if (format === "ini") {
    addAnsibleIni(builder, file, text);
    return;
  }
  const source = new YamlSource(file, text, builder.vault ? { vault: builder.vault } : {});
  if (isNativeYaml(source.value)) addNativeYaml(builder, source);
  else addAnsibleYaml(builder, source);
}

export function detectFormat(file: string, text: string): InventoryFormat {
  const ext = extname(file).toLowerCase();
  if (TS.has(ext)) return "typescript";
  if (INI.has(ext)) return "ini";
  if (YAML_EXT.has(ext)) return "yaml";
  const first = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== "" && !l.startsWith("#") && !l.startsWith(";"));
  if (first === undefined || first.startsWith("[")) return "ini";
  if (first === "---") return "yaml";
  try {
    const value: unknown = YAML.parse(text);
    if (isMapping(value) && Object.values(value).every((v) => v === null || isMapping(v))) return "yaml";
  } catch {
    // Not YAML: INI.
  }
  return "ini";
}

function decryptInventory(vault: VaultKeyring | undefined, file: string, text: string): string {
  if (!vault) {
    throw new InventoryError(
      located(
        file,
        1,
        "the inventory is ansible-vault encrypted, but no vault password was given: use --vault-password-file FILE, --vault-id LABEL@FILE or PROVISION_VAULT_PASSWORD",
      ),
    );
  }
  return vault.decrypt(text, located(file, 1, "").replace(/: $/, ""));
}
