/**
 * A YAML (or JSON) file read for the inventory: syntax errors and later problems name the file,
 * the line and the field path (`hosts.yml:12: all.children.web.hosts.web01.ansible_port: …`).
 *
 * Ansible Vault, with a keyring (see src/vault/): an inline `!vault |` value is decrypted and
 * becomes a Secret (masked everywhere, sent on stdin only). A whole file encrypted with
 * `ansible-vault encrypt` is decrypted first; with `secretLeaves` (vars files: a vaulted
 * group_vars/host_vars file is where a team keeps its secrets) every string in it becomes a
 * Secret too. Without a keyring, vault content is an error naming the file and line.
 */
import YAML, { LineCounter, type Document } from "yaml";
import { Secret } from "../shell/secret.ts";
import { isVaultText, type VaultKeyring } from "../vault/index.ts";
import { InventoryError, located } from "./inventory.ts";

export interface YamlSourceOptions {
  vault?: VaultKeyring;
  /** Every string of a whole-file vaulted document becomes a Secret (vars files). */
  secretLeaves?: boolean;
}

const VAULT_TAG = { tag: "!vault", resolve: (text: string) => text };

export type FieldPath = readonly (string | number)[];

export class YamlSource {
  readonly value: unknown;
  readonly #doc: Document;
  readonly #lines: LineCounter;

  /** True when the whole file was vault-encrypted (its lines are those of the plaintext). */
  readonly wholeFileVaulted: boolean;

  constructor(
    readonly file: string,
    text: string,
    options: YamlSourceOptions = {},
  ) {
    this.wholeFileVaulted = isVaultText(text);
    if (this.wholeFileVaulted) text = decryptOrReject(file, 1, text, options.vault);
    this.#lines = new LineCounter();
    this.#doc = YAML.parseDocument(text, { lineCounter: this.#lines, uniqueKeys: true, customTags: [VAULT_TAG] });
    const error = this.#doc.errors[0];
    if (error) {
      const line = error.linePos?.[0]?.line;
      throw new InventoryError(located(file, line, `not valid YAML: ${error.message.split("\n")[0]}`));
    }
    this.#decryptInline(options.vault);
    const value: unknown = this.#doc.toJS({ maxAliasCount: 1000 });
    this.value = this.wholeFileVaulted && options.secretLeaves ? secretStrings(value) : value;
  }

  /** Replace each `!vault` scalar by a Secret holding its plaintext. */
  #decryptInline(vault: VaultKeyring | undefined): void {
    YAML.visit(this.#doc, {
      Scalar: (_key, node) => {
        if (node.tag !== "!vault") return;
        const line = node.range ? this.#lines.linePos(node.range[0]).line : undefined;
        if (typeof node.value !== "string")
          throw new InventoryError(located(this.file, line, "a !vault value must be the vault text (a block scalar)"));
        const plain = decryptOrReject(this.file, line, node.value, vault);
        // An empty secret masks nothing and cannot be a Secret: it stays the empty string.
        node.value = plain.trim() === "" ? plain : new Secret(plain, { shortValues: "whole-words" });
        node.tag = undefined;
      },
    });
  }

  /** The line of the node at `path` (or of its nearest ancestor that exists). */
  lineOf(path: FieldPath): number | undefined {
    for (let n = path.length; n >= 0; n -= 1) {
      const node = this.#doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === "object" && node.range) return this.#lines.linePos(node.range[0]).line;
    }
    return undefined;
  }

  /** `file:line` of each key of the mapping at `path` (for warnings about a var). */
  originsOf(path: FieldPath, mapping: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of Object.keys(mapping)) out[key] = located(this.file, this.lineOf([...path, key]), "").replace(/: $/, "");
    return out;
  }

  error(path: FieldPath, message: string): InventoryError {
    const field = path.length ? `${path.join(".")}: ` : "";
    return new InventoryError(located(this.file, this.lineOf(path), `${field}${message}`));
  }
}

/** Vault text → plaintext with the keyring; the error (no keyring, wrong password, damage) names file:line. */
function decryptOrReject(file: string, line: number | undefined, text: string, vault: VaultKeyring | undefined): string {
  const where = located(file, line, "").replace(/: $/, "");
  if (!vault) {
    throw new InventoryError(
      `${where}: ansible-vault encrypted content, but no vault password was given: use --vault-password-file FILE, --vault-id LABEL@FILE or PROVISION_VAULT_PASSWORD`,
    );
  }
  return vault.decrypt(text, where);
}

function secretStrings(value: unknown): unknown {
  // Every decrypted string is a secret, short ones too (masked as whole words only: see Secret).
  if (typeof value === "string") return value.trim() === "" ? value : new Secret(value, { shortValues: "whole-words" });
  if (Array.isArray(value)) return value.map(secretStrings);
  if (isMapping(value) && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, secretStrings(v)]));
  }
  return value;
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function describeType(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a mapping" : `${typeof value} ${JSON.stringify(value)}`;
}
