/**
 * A YAML (or JSON) file read for the inventory: syntax errors and later problems name the file,
 * the line and the field path (`hosts.yml:12: all.children.web.hosts.web01.ansible_port: …`).
 */
import YAML, { LineCounter, type Document } from "yaml";
import { InventoryError, located } from "./inventory.ts";

export type FieldPath = readonly (string | number)[];

export class YamlSource {
  readonly value: unknown;
  readonly #doc: Document;
  readonly #lines: LineCounter;

  constructor(
    readonly file: string,
    text: string,
  ) {
    rejectVault(file, text);
    this.#lines = new LineCounter();
    this.#doc = YAML.parseDocument(text, { lineCounter: this.#lines, uniqueKeys: true });
    const error = this.#doc.errors[0];
    if (error) {
      const line = error.linePos?.[0]?.line;
      throw new InventoryError(located(file, line, `not valid YAML: ${error.message.split("\n")[0]}`));
    }
    this.value = this.#doc.toJS({ maxAliasCount: 1000 });
  }

  /** The line of the node at `path` (or of its nearest ancestor that exists). */
  lineOf(path: FieldPath): number | undefined {
    for (let n = path.length; n >= 0; n -= 1) {
      const node = this.#doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === "object" && node.range) return this.#lines.linePos(node.range[0]).line;
    }
    return undefined;
  }

  error(path: FieldPath, message: string): InventoryError {
    const field = path.length ? `${path.join(".")}: ` : "";
    return new InventoryError(located(this.file, this.lineOf(path), `${field}${message}`));
  }
}

/** ansible-vault content cannot be read without Ansible; say so instead of using ciphertext as a value. */
export function rejectVault(file: string, text: string): void {
  const lines = text.split("\n");
  const index = lines.findIndex((line) => line.startsWith("$ANSIBLE_VAULT;") || /(^|[\s:])!vault(\s|$)/.test(line));
  if (index >= 0) {
    throw new InventoryError(
      located(file, index + 1, "ansible-vault encrypted content is not supported: decrypt it, or give secrets as secretVar() vars ({ fromEnv } / { fromFile })"),
    );
  }
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function describeType(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a mapping" : `${typeof value} ${JSON.stringify(value)}`;
}
