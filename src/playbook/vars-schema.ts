/**
 * Looking inside a playbook's vars schema (zod 4) for what the command line needs: the schema of
 * one field (to convert a `--var` string to what the field expects), whether a field is a secret,
 * and which given names the schema does not know. Read through zod's `_zod.def`, the structure
 * zod itself walks, by `type` tags rather than classes: a playbook may load its own copy of zod.
 */
import { closest } from "../cli/suggest.ts";

/** The marker secretVar() puts on its schema; a global symbol, so any copy of this module sees it. */
export const SECRET_SCHEMA = Symbol.for("provision.secretVar");

interface Def {
  type: string;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  getter?: () => unknown;
  shape?: Record<string, unknown>;
  catchall?: unknown;
  element?: unknown;
  valueType?: unknown;
  options?: unknown[];
  left?: unknown;
  right?: unknown;
}

function defOf(schema: unknown): Def | undefined {
  return (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

export function isSecretSchema(schema: unknown): boolean {
  return typeof schema === "object" && schema !== null && SECRET_SCHEMA in schema;
}

/** Through the wrappers that do not change which names or values a field takes. */
export function unwrapSchema(schema: unknown): unknown {
  for (let depth = 0; depth < 32; depth += 1) {
    if (isSecretSchema(schema)) return schema;
    const def = defOf(schema);
    if (!def) return schema;
    if (["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"].includes(def.type)) schema = def.innerType;
    else if (def.type === "pipe") schema = def.in;
    else if (def.type === "lazy" && def.getter) schema = def.getter();
    else return schema;
  }
  return schema;
}

/** The schema of the field at `path` (object keys, array indexes), or undefined when unknown or unclear. */
export function schemaAt(schema: unknown, path: readonly string[]): unknown {
  let current = schema;
  for (const key of path) {
    const def = defOf(unwrapSchema(current));
    if (!def) return undefined;
    if (def.type === "object") current = def.shape?.[key] ?? (isOpenCatchall(def.catchall) ? def.catchall : undefined);
    else if (def.type === "array" && /^\d+$/.test(key)) current = def.element;
    else if (def.type === "record") current = def.valueType;
    else return undefined;
    if (current === undefined) return undefined;
  }
  return current;
}

function isOpenCatchall(catchall: unknown): boolean {
  const type = defOf(catchall)?.type;
  return type !== undefined && type !== "never";
}

/**
 * Names in `value` that the schema would silently drop: keys of a plain (stripping) z.object that
 * its shape lacks. Strict objects report them through zod already; passthrough, catchall, records
 * and unions (which option applies is zod's call) are not second-guessed.
 */
export function unknownKeys(schema: unknown, value: unknown, path: string[] = []): { path: string; suggestion?: string }[] {
  if (typeof value !== "object" || value === null) return [];
  const def = defOf(unwrapSchema(schema));
  if (!def || isSecretSchema(unwrapSchema(schema))) return [];
  if (def.type === "array" && Array.isArray(value)) {
    return value.flatMap((item, index) => unknownKeys(def.element, item, [...path, String(index)]));
  }
  if (def.type !== "object" || Array.isArray(value)) return [];
  const shape = def.shape ?? {};
  return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => {
    if (key in shape) return unknownKeys(shape[key], item, [...path, key]);
    if (def.catchall !== undefined) return [];
    const suggestion = closest(key, Object.keys(shape));
    return [{ path: [...path, key].join("."), ...(suggestion ? { suggestion } : {}) }];
  });
}
