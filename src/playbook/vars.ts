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

export class VarsError extends Error {
  override readonly name = "VarsError";
}

/**
 * A secret var. Accepts a string, `{ fromEnv: "NAME" }` (read from the controller's environment)
 * or `{ fromFile: "path" }` (first line of a file), so a password need never be typed on a
 * command line, where `ps` would show it.
 */
export function secretVar() {
  return z
    .union([
      z.string().min(1),
      z.object({ fromEnv: z.string().min(1) }).strict(),
      z.object({ fromFile: z.string().min(1) }).strict(),
      z.custom<Secret>(isSecret),
    ])
    .transform((value, ctx): Secret => {
      if (isSecret(value)) return value;
      if (typeof value === "string") return new Secret(value);
      if ("fromEnv" in value) {
        const fromEnv = process.env[value.fromEnv];
        if (!fromEnv) {
          ctx.addIssue({ code: "custom", message: `environment variable ${value.fromEnv} is not set or empty` });
          return z.NEVER;
        }
        return new Secret(fromEnv);
      }
      return readSecretFile(value.fromFile, ctx);
    });
}

function readSecretFile(path: string, ctx: z.RefinementCtx): Secret {
  try {
    // Synchronous on purpose: zod transforms run synchronously, and this is one small file.
    const text = readFileSync(path, "utf8").split("\n")[0] ?? "";
    if (!text) {
      ctx.addIssue({ code: "custom", message: `secret file ${path} is empty` });
      return z.NEVER;
    }
    return new Secret(text);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: `cannot read secret file ${path}: ${(error as Error).message}` });
    return z.NEVER;
  }
}

/** Parse `--var key=value`; a dotted key sets a nested field (`relay.host=mx.example.net`). */
export function parseVarAssignments(assignments: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const assignment of assignments) {
    const eq = assignment.indexOf("=");
    if (eq <= 0) throw new VarsError(`--var ${assignment}: expected key=value`);
    const path = assignment.slice(0, eq).split(".");
    let target = out;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      target = (typeof next === "object" && next !== null ? next : (target[key] = {})) as Record<string, unknown>;
    }
    target[path[path.length - 1] as string] = assignment.slice(eq + 1);
  }
  return out;
}

export async function readVarsFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new VarsError(`--vars-file ${path}: ${(error as Error).message}`);
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
  return parsed as Record<string, unknown>;
}

/** Deep merge of plain objects; later sources win; arrays are replaced, not concatenated. */
export function mergeVars(...sources: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) {
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
    const hint = isSecret(valueAt(raw, issue.path)) ? " (the value is a secret, e.g. from ansible-vault: declare this field with secretVar())" : "";
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
