/**
 * Vars: merged from the inventory (group, then host), `--vars-file` and `--var key=value`
 * (later wins), then validated by the playbook's zod schema before any connection is made.
 * A failure names the playbook, the field and what was wrong.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import YAML from "yaml";
import { isSecret, Secret } from "../shell/secret.ts";
import type { Playbook } from "./playbook.ts";
import { isSecretSchema, schemaAt, SECRET_SCHEMA, unknownKeys, unwrapSchema } from "./vars-schema.ts";
import { vaultVarsFile } from "../vault/vars-file.ts";
import type { VaultKeyring } from "../vault/vault-keyring.ts";

export class VarsError extends Error {
  override readonly name = "VarsError";
}

/**
 * A secret var. Accepts a string, `{ fromEnv: "NAME" }` (read from the controller's environment)
 * or `{ fromFile: "path" }` (the file's content without one trailing line break, `\n` or `\r\n`,
 * as a shell's `$(cat file)` or Ansible's file lookup would give it — so a key may span lines),
 * so a password need never be typed on a command line, where `ps` would show it. A value Secret
 * refuses (empty, white space, shorter than 8 characters) is an error naming the var.
 */
export function secretVar() {
  return markSecret(
    z
      .union([
        z.string().min(1),
        z.object({ fromEnv: z.string().min(1) }).strict(),
        z.object({ fromFile: z.string().min(1) }).strict(),
        z.custom<Secret>(isSecret),
      ])
      .transform((value, ctx): Secret => {
        if (isSecret(value)) return value;
        if (typeof value === "string") return makeSecret(value, "", ctx);
        if ("fromEnv" in value) {
          const fromEnv = process.env[value.fromEnv];
          if (!fromEnv) {
            ctx.addIssue({ code: "custom", message: `environment variable ${value.fromEnv} is not set or empty` });
            return z.NEVER;
          }
          return makeSecret(fromEnv, `environment variable ${value.fromEnv}: `, ctx);
        }
        return readSecretFile(value.fromFile, ctx);
      }),
  );
}

/** Tags a schema as a secret, so the CLI can tell that a `--var` puts a secret in argv. */
function markSecret<S extends object>(schema: S): S {
  Object.defineProperty(schema, SECRET_SCHEMA, { value: true });
  return schema;
}

/** A Secret, or the reason it is refused as a zod issue (so the error names the var). */
function makeSecret(value: string, source: string, ctx: z.RefinementCtx): Secret {
  try {
    return new Secret(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: `${source}${(error as Error).message}` });
    return z.NEVER;
  }
}

function readSecretFile(path: string, ctx: z.RefinementCtx): Secret {
  try {
    // Synchronous on purpose: zod transforms run synchronously, and this is one small file.
    // One trailing line break of either kind goes (an editor's, or Windows'); a kept "\r" would
    // be a different password on the host than the one typed.
    const text = readFileSync(path, "utf8").replace(/\r?\n$/, "");
    if (!text) {
      ctx.addIssue({ code: "custom", message: `secret file ${path} is empty` });
      return z.NEVER;
    }
    return makeSecret(text, `secret file ${path}: `, ctx);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: `cannot read secret file ${path}: ${(error as Error).message}` });
    return z.NEVER;
  }
}

/**
 * Keys that would reach an object's prototype instead of its own fields (`__proto__`), or that no
 * vars schema means: refused wherever vars come from, so a var can never change what another sees.
 */
const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

function checkKey(key: string, where: string): void {
  if (UNSAFE_KEYS.has(key)) throw new VarsError(`${where}: the key ${JSON.stringify(key)} is not allowed in vars`);
}

/** `__proto__`, `constructor`, `prototype`: keys that would reach an object's prototype when merged. */
export function isUnsafeVarKey(key: string): boolean {
  return UNSAFE_KEYS.has(key);
}

/** Every key of a parsed vars document, at any depth. */
function checkKeys(value: unknown, where: string, depth = 0): void {
  if (typeof value !== "object" || value === null || depth > 100) return;
  for (const key of Object.keys(value)) {
    checkKey(key, where);
    checkKeys((value as Record<string, unknown>)[key], where, depth + 1);
  }
}

/**
 * Parse `--var key=value`; a dotted key sets a nested field (`relay.host=mx.example.net`). With the
 * playbook's schema, each value becomes what its field expects (see cliValue); without it, a string.
 */
export function parseVarAssignments(assignments: readonly string[], schema?: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const assignment of assignments) {
    const eq = assignment.indexOf("=");
    if (eq <= 0) throw new VarsError(`--var ${assignment}: expected key=value`);
    const path = assignment.slice(0, eq).split(".");
    if (path.some((key) => key === "")) throw new VarsError(`--var ${assignment.slice(0, eq)}: empty name in a dotted key`);
    for (const key of path) checkKey(key, `--var ${assignment.slice(0, eq)}`);
    let target = out;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      target = (typeof next === "object" && next !== null ? next : (target[key] = {})) as Record<string, unknown>;
    }
    const text = assignment.slice(eq + 1);
    target[path[path.length - 1] as string] = schema === undefined ? text : cliValue(schemaAt(schema, path), text);
  }
  return out;
}

/**
 * A `--var` value as its field expects it, as Ansible users expect of `-e key=value`: the text
 * itself when the field takes it (a string field keeps "yes", "0644" or "25" as written); else the
 * text read as a YAML 1.1 scalar or flow collection (`true`/`no` for a boolean, `25` for a number,
 * `[25, 587]` for a list, `{fromEnv: NAME}` for a secret). When neither fits, the text stays, and
 * validation names the field and what it expected.
 */
function cliValue(field: unknown, text: string): unknown {
  const schema = field as { safeParse?: (value: unknown) => { success: boolean } } | undefined;
  if (!schema?.safeParse) return text;
  // A secret's plain text is accepted as is; only its {fromEnv}/{fromFile} forms need parsing.
  if (isSecretSchema(unwrapSchema(field)) && !text.trimStart().startsWith("{")) return text;
  if (!isSecretSchema(unwrapSchema(field)) && schema.safeParse(text).success) return text;
  let parsed: unknown;
  try {
    parsed = YAML.parse(text, { version: "1.1" });
  } catch {
    return text;
  }
  return parsed === null || typeof parsed === "string" ? text : parsed;
}

/** The `--var` names whose field is a secretVar(): their value is in argv, which `ps` shows every user. */
export function secretAssignments(assignments: readonly string[], schema: unknown): string[] {
  return assignments.flatMap((assignment) => {
    const eq = assignment.indexOf("=");
    const name = assignment.slice(0, eq);
    const value = assignment.slice(eq + 1).trimStart();
    // `{fromEnv: NAME}` / `{fromFile: path}` name the secret; they do not hold it.
    if (eq <= 0 || /^\{\s*(fromEnv|fromFile)\s*:/.test(value)) return [];
    return isSecretSchema(unwrapSchema(schemaAt(schema, name.split(".")))) ? [name] : [];
  });
}

/**
 * Names given on the command line or in a vars file that the playbook's schema does not know (a
 * zod object drops them without a word): an error naming each, with the closest known name. The
 * inventory's vars are not checked: an inventory serves many playbooks, as in Ansible.
 */
export function checkKnownVars(playbook: Playbook, vars: Record<string, unknown>, source: string): void {
  const unknown = unknownKeys(playbook.vars, vars);
  if (unknown.length === 0) return;
  const lines = unknown.map((u) => `  ${u.path}: not a var of this playbook${u.suggestion ? ` (did you mean ${u.suggestion}?)` : ""}`);
  throw new VarsError(`playbook "${playbook.name}": unknown vars in ${source}\n${lines.join("\n")}`);
}

/**
 * A `--vars-file`: YAML or JSON; encrypted whole by ansible-vault or holding inline `!vault`
 * values, it is decrypted with `vault` and every string in it becomes a Secret (src/vault/vars-file.ts).
 */
export async function readVarsFile(path: string, vault?: VaultKeyring): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new VarsError(`--vars-file ${path}: ${(error as Error).message}`);
  }
  const vaulted = vaultVarsFile(path, text, vault);
  if (vaulted) {
    checkKeys(vaulted, `--vars-file ${path}`);
    return vaulted;
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith(".json") ? JSON.parse(text) : YAML.parse(text);
  } catch (error) {
    throw new VarsError(`--vars-file ${path}: not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new VarsError(`--vars-file ${path}: expected a mapping of var names to values`);
  }
  checkKeys(parsed, `--vars-file ${path}`);
  return parsed as Record<string, unknown>;
}

/** Deep merge of plain objects; later sources win; arrays are replaced, not concatenated. */
export function mergeVars(...sources: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) {
      checkKey(key, "vars");
      const existing = out[key];
      out[key] = isPlainObject(existing) && isPlainObject(value) ? mergeVars(existing, value) : value;
    }
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** Validate vars with the playbook's schema; the error names the playbook, each field and the problem. */
export function validateVars<P extends Playbook>(playbook: P, raw: Record<string, unknown>, where = ""): z.output<P["vars"]> {
  const result = playbook.vars.safeParse(raw);
  if (result.success) return result.data as z.output<P["vars"]>;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.length ? issue.path.join(".") : "(vars)";
    // A value decrypted from Ansible Vault is a Secret: say so rather than "received object".
    const hint = isSecret(valueAt(raw, issue.path))
      ? " (the value is a secret, e.g. from ansible-vault: declare this field with secretVar())"
      : "";
    return `  ${field}: ${issue.message}${hint}`;
  });
  throw new VarsError(`playbook "${playbook.name}"${where ? ` (${where})` : ""}: invalid vars\n${problems.join("\n")}`);
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null || isSecret(current)) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
