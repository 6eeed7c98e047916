/** Step parameters are validated with zod when the playbook builds its steps: the error names the step kind and field. */
import type { z } from "zod";
import { InvalidStepError } from "../playbook/step.ts";

export function parseStepParams<S extends z.ZodType>(kind: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join(".") || "(params)"}: ${issue.message}`);
  throw new InvalidStepError(`${kind}: invalid parameters: ${problems.join("; ")}`);
}
