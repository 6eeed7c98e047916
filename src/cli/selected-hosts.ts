/**
 * The hosts a command targets, shared by every verb: the inventories (several `-i` merged), the
 * selection (`--host`, `--group`, `--limit`), and the SSH transport loaded early when any selected
 * host may need it (see loadSshTransport). Warnings go to stderr.
 */
import { loadInventories } from "../inventory/load-inventory.ts";
import type { Inventory, InventoryHost } from "../inventory/inventory.ts";
import { selectHosts } from "../inventory/select.ts";
import { loadVaultKeyring, type VaultKeyring } from "../vault/index.ts";
import { isLocalTarget, loadSshTransport } from "./connect.ts";
import type { SelectionArgs } from "./options.ts";

export interface SelectedHosts {
  inventory?: Inventory;
  hosts: InventoryHost[];
  /** The Vault passwords given (files, vault ids, environment), for vars files too. */
  vault: VaultKeyring;
}

export async function selectedHosts(args: SelectionArgs, stderr: { write(text: string): unknown }): Promise<SelectedHosts> {
  if (args.inventories.length > 0 || args.hosts.some((name) => !isLocalTarget({ name }))) await loadSshTransport();
  const vault = await loadVaultKeyring({ passwordFiles: args.vaultPasswordFiles, vaultIds: args.vaultIds });
  const inventory = args.inventories.length === 0 ? undefined : await loadInventories(args.inventories, { vault });
  // What the inventory says that provision does not honour (an ansible_* var, say) is said, never dropped.
  for (const warning of inventory?.warnings ?? []) stderr.write(`provision: warning: ${warning}\n`);
  const selected = selectHosts(inventory, {
    hosts: args.hosts,
    groups: args.groups,
    ...(args.limit !== undefined ? { limit: args.limit } : {}),
  });
  for (const warning of selected.warnings) stderr.write(`provision: warning: ${warning}\n`);
  return { ...(inventory ? { inventory } : {}), hosts: selected.hosts, vault };
}
