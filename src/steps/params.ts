/**
 * Step parameters are validated with zod when the playbook builds its steps: the error names the
 * step (kind, and its path or name when given), the field and the problem. Every step's schema is
 * strict: an unknown key (`mdoe` for `mode`) is an error with the closest known key, never
 * silently dropped (a dropped `mode` leaves a secrets file world-readable).
 */
import type { z } from "zod";
import { z as zod } from "zod";
import { InvalidStepError } from "../playbook/step.ts";
import { suggest } from "./suggest.ts";

/**
 * An absolute path naming a file: no NUL byte (no shell word can hold one), not ending in "/",
 * "." or ".." (the atomic write would rename its temp file INTO that directory).
 */
export const filePath = zod
  .string()
  .startsWith("/", "must be an absolute path")
  .refine((p) => !p.includes("\0"), "must not contain a NUL byte")
  .refine((p) => !/(^|\/)(\.{1,2})?$/.test(p), "must name a file (not end in /, . or ..)");

/** A mode as chmod takes it in octal: `644`, `0640`, `2775` (stored with four digits by the steps). */
export const fileMode = zod.string().regex(/^0?[0-7]{3,4}$/, "must be an octal mode like 0644");

/**
 * A user or group name as chown takes it, or a numeric id: letters, digits, `_`, `.`, `-` (not
 * first: a leading `-` would read as an option), an optional final `$` (Samba machine accounts).
 * Anything else — `root:adm`, `--reference=/etc/shadow`, spaces — is refused here, naming the field.
 */
export const accountName = zod
  .string()
  .max(256, "must be a user or group name of at most 256 characters")
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/,
    "must be a user or group name or a numeric id (letters, digits, _ . -; not starting with - or .)",
  );

export function parseStepParams<S extends z.ZodType>(kind: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) => {
    if (issue.code !== "unrecognized_keys") return [`${issue.path.join(".") || "(params)"}: ${issue.message}`];
    const known = knownKeys(schema, issue.path);
    return issue.keys.map((key) => {
      const where = [...issue.path, key].join(".");
      const guess = suggest(key, known);
      return `unknown parameter "${where}"` + (guess ? ` — did you mean "${guess}"?` : known.length ? ` (known: ${known.join(", ")})` : "");
    });
  });
  throw new InvalidStepError(`${kind}: invalid parameters: ${problems.join("; ")}${whichStep(input)}`);
}

/** ` (path "/etc/x")`: which of several steps of a kind it is, when the input says (JSON-quoted: any bytes). */
function whichStep(input: unknown): string {
  if (typeof input !== "object" || input === null) return "";
  const record = input as Record<string, unknown>;
  for (const key of ["path", "name", "service", "user", "chain"]) {
    const value = record[key];
    if (typeof value === "string" && value.length > 0 && value.length <= 200) return ` (${key} ${JSON.stringify(value)})`;
  }
  return "";
}

/** The keys an object schema at `path` knows, looking through optional/default/nullable/pipe/array. */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.ZodType | undefined = unwrap(schema);
  for (const segment of path) {
    if (!node) return [];
    const def = node.def as { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; valueType?: z.ZodType };
    if (def.type === "object") node = unwrap(def.shape?.[String(segment)]);
    else if (def.type === "array") node = unwrap(def.element);
    else if (def.type === "record") node = unwrap(def.valueType);
    else return [];
  }
  const def = node?.def as { type: string; shape?: Record<string, unknown> } | undefined;
  return def?.type === "object" ? Object.keys(def.shape ?? {}) : [];
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let node = schema;
  for (let guard = 0; node && guard < 20; guard += 1) {
    const def = node.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    if (def.innerType && ["optional", "default", "nullable", "prefault", "readonly", "catch", "nonoptional"].includes(def.type))
      node = def.innerType;
    else if (def.type === "pipe" && def.in) node = def.in;
    else return node;
  }
  return node;
}
