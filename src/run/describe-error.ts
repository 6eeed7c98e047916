/** How the runner turns what was thrown into text for a report: a message, masked. */
import { mask } from "../shell/mask.ts";

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** What was thrown, as the report says it: its message, masked. */
export function describeError(error: unknown): string {
  return mask(asError(error).message);
}

export function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}
