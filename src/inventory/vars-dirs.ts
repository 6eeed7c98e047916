/**
 * `host_vars/` and `group_vars/` beside the inventory file (or inside an inventory directory), as
 * Ansible lays them out: for a host or group NAME, any of `NAME`, `NAME.yml`, `NAME.yaml`,
 * `NAME.json`, and a directory `NAME/` whose files (`.yml`, `.yaml`, `.json` or no extension,
 * recursively, in name order) are read in turn. Later files replace earlier keys; these vars
 * replace the inventory file's own vars for that host or group. Names the inventory does not know
 * are ignored, as Ansible does. A file encrypted with `ansible-vault encrypt` is decrypted with the
 * run's vault passwords, and its strings become Secrets; so do inline `!vault` values.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { InventoryBuilder } from "./inventory-builder.ts";
import { InventoryError, located } from "./inventory.ts";
import { describeType, isMapping, YamlSource } from "./yaml-source.ts";
import type { VaultKeyring } from "../vault/index.ts";

const EXTENSIONS = ["", ".yml", ".yaml", ".json"];

export async function addVarsDirs(builder: InventoryBuilder, dir: string, label: (path: string) => string): Promise<void> {
  for (const group of builder.groupNames) {
    const read = await readVarsFor(join(dir, "group_vars"), group, label, builder.vault);
    if (read) builder.groupVars(group, read.vars, read.origins);
  }
  for (const host of builder.hostNames) {
    const read = await readVarsFor(join(dir, "host_vars"), host, label, builder.vault);
    if (read) builder.hostVars(host, read.vars, read.origins);
  }
}

interface VarsRead {
  vars: Record<string, unknown>;
  /** `file:line` of each var. */
  origins: Record<string, string>;
}

async function readVarsFor(
  dir: string,
  name: string,
  label: (path: string) => string,
  vault: VaultKeyring | undefined,
): Promise<VarsRead | undefined> {
  let merged: VarsRead | undefined;
  const add = (read: VarsRead) => {
    merged = { vars: { ...merged?.vars, ...read.vars }, origins: { ...merged?.origins, ...read.origins } };
  };
  for (const ext of EXTENSIONS) {
    const path = join(dir, `${name}${ext}`);
    const kind = await kindOf(path);
    if (kind === "file") add(await readVarsFile(path, label, vault));
    else if (kind === "dir" && ext === "") {
      for (const file of await filesIn(path)) add(await readVarsFile(file, label, vault));
    }
  }
  return merged;
}

async function kindOf(path: string): Promise<"file" | "dir" | undefined> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? "dir" : info.isFile() ? "file" : undefined;
  } catch {
    return undefined;
  }
}

async function filesIn(dir: string): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => !e.name.startsWith("."))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const out: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesIn(path)));
    else if (entry.isFile() && /^[^.]+$|\.(ya?ml|json)$/.test(entry.name)) out.push(path);
  }
  return out;
}

async function readVarsFile(path: string, label: (path: string) => string, vault: VaultKeyring | undefined): Promise<VarsRead> {
  const shown = label(path);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InventoryError(located(shown, undefined, `cannot read: ${(error as Error).message}`));
  }
  const source = new YamlSource(shown, text, { ...(vault ? { vault } : {}), secretLeaves: true });
  if (source.value === null || source.value === undefined) return { vars: {}, origins: {} };
  if (!isMapping(source.value)) throw source.error([], `expected a mapping of var names to values, got ${describeType(source.value)}`);
  return { vars: source.value, origins: source.originsOf([], source.value) };
}
