/**
 * configKeys: `key<separator>value` settings in a line-oriented config file (Cyrus SASL's
 * smtpd.conf: `pwcheck_method: auxprop`), everything else in the file kept as it is.
 *
 * Decisions (see `editConfigKeys`):
 * - A live key is set in place; its formatting is kept when the value is already right
 *   (`mech_list:PLAIN` equals `mech_list: PLAIN` — values are compared trimmed).
 * - A key that is only commented out (`#mech_list: …`) gets the live line right after the last
 *   such comment: the comment (often the distribution's documentation) stays, and the setting lands
 *   where a reader looks for it.
 * - Missing keys are appended at the end, in the order of `settings`.
 * - Duplicate live keys: the first is kept (and set), later ones are removed, so the file says one
 *   thing whether its reader takes the first or the last.
 */
import { z } from "zod";
import type { Step } from "../playbook/step.ts";
import type { FileState } from "../transport/remote-file.ts";
import { parseStepParams } from "./params.ts";
import { joinLines, lastIndex, splitLines, textEditStep, textFileParams } from "./line.ts";

const configKeysParams = z.strictObject({
  ...textFileParams,
  settings: z
    .record(z.string().regex(/^[^\s#=:]+$/, "a key without spaces, '#', '=' or ':'"), z.string().regex(/^[^\n]*$/, "one line"))
    .refine((s) => Object.keys(s).length > 0, "at least one setting"),
  /** As written between key and value: ": " (Cyrus SASL), " = ", "=", " " … */
  separator: z
    .string()
    .regex(/^\s*[:=]?\s*$/, "whitespace around an optional ':' or '='")
    .min(1)
    .default(" = "),
  comment: z.string().min(1).default("#"),
});

export type ConfigKeysParams = z.input<typeof configKeysParams>;

export function configKeys(input: ConfigKeysParams): Step<FileState> {
  const params = parseStepParams("configKeys", configKeysParams, input);
  return textEditStep("config-keys", `config ${params.path}: ${Object.keys(params.settings).join(", ")}`, params, {
    needsFile: true,
    edit: (text, fromUser) =>
      editConfigKeys(text, Object.fromEntries(Object.entries(params.settings).map(([k, v]) => [fromUser(k), fromUser(v)])), params),
  });
}

/** Pure: set each key in `text`; returns `text` itself when every key already has its value. */
export function editConfigKeys(text: string, settings: Record<string, string>, format: { separator: string; comment: string }): string {
  const lines = splitLines(text);
  const sep = format.separator.trim();
  const sepPattern = sep ? `\\s*${escapeRegExp(sep)}` : "(?=\\s|$)";
  const comment = escapeRegExp(format.comment);
  for (const [key, value] of Object.entries(settings)) {
    const live = new RegExp(`^\\s*${escapeRegExp(key)}${sepPattern}`);
    const commented = new RegExp(`^\\s*${comment}\\s*${escapeRegExp(key)}${sepPattern}`);
    const wanted = `${key}${format.separator}${value.trim()}`;
    const found = lines.flatMap((l, i) => (live.test(l) ? [i] : []));
    const first = found[0];
    if (first !== undefined) {
      const current = (lines[first] as string).replace(live, "").trim();
      if (current !== value.trim()) lines[first] = wanted;
      for (const i of found.slice(1).reverse()) lines.splice(i, 1);
      continue;
    }
    const hint = lastIndex(lines, (l) => commented.test(l));
    if (hint >= 0) lines.splice(hint + 1, 0, wanted);
    else lines.push(wanted);
  }
  return joinLines(lines, text);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
