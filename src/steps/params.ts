/** Step parameters are validated with zod when the playbook builds its steps: the error names the step kind and field. */
import type { z } from "zod";
import { z as zod } from "zod";
import { InvalidStepError } from "../playbook/step.ts";

/**
 * An absolute path naming a file: no NUL byte (no shell word can hold one), not ending in "/",
 * "." or ".." (the atomic write would rename its temp file INTO that directory).
 */
export const filePath = zod
  .string()
  .startsWith("/", "must be an absolute path")
  .refine((p) => !p.includes("\0"), "must not contain a NUL byte")
  .refine((p) => !/(^|\/)(\.{1,2})?$/.test(p), "must name a file (not end in /, . or ..)");

/**
 * A user or group name as chown takes it, or a numeric id: letters, digits, `_`, `.`, `-` (not
 * first: a leading `-` would read as an option), an optional final `$` (Samba machine accounts).
 * Anything else — `root:adm`, `--reference=/etc/shadow`, spaces — is refused here, naming the field.
 */
export const accountName = zod
  .string()
  .max(256, "must be a user or group name of at most 256 characters")
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/, "must be a user or group name or a numeric id (letters, digits, _ . -; not starting with - or .)");

export function parseStepParams<S extends z.ZodType>(kind: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join(".") || "(params)"}: ${issue.message}`);
  throw new InvalidStepError(`${kind}: invalid parameters: ${problems.join("; ")}`);
}
