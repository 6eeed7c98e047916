/**
 * line: one line of a text file present (or absent), optionally replacing the line(s) a regexp
 * matches. The file is read whole, edited here by a pure function and written back atomically
 * (owner and mode kept). The regexp runs on the controller with JavaScript semantics, not on the
 * host: no sed/grep dialects, no quoting bugs.
 *
 * The rule for `regexp` (how this avoids Ansible lineinfile's duplicate-on-second-run trap): the
 * step owns every line the regexp matches AND every line already equal to the desired line (the
 * regexp often stops matching once its line was replaced — that is the trap). After apply exactly
 * one owned line remains and it is the desired line: an existing copy of the desired line is kept
 * where it is, otherwise the last owned line is replaced; the other owned lines are removed. So
 * apply twice = one line, and no conflicting second value survives (whether a program reads the
 * first or the last of two settings, the answer is the same). Write the regexp for live lines only
 * (`^PermitRootLogin`, not `^#?PermitRootLogin`) to keep commented examples.
 * Without `regexp`, the line is converged when an identical line exists anywhere.
 */
import { z } from "zod";
import type { Change, Step } from "../playbook/step.ts";
import { parseFileState, readFileCommand, writeRemoteFile, type FileState } from "../transport/remote-file.ts";
import { differingMetadata, metadataPlanCommand, normalizeMode, type MetadataPlan } from "./file.ts";
import { accountName, fileMode, filePath, parseStepParams } from "./params.ts";
import { shortenMasked } from "../shell/mask.ts";
import { decodeFileText } from "./file-text.ts";
import { pathResource } from "../playbook/resources.ts";

const pattern = z.union([z.instanceof(RegExp), z.string()]).transform((value, ctx) => {
  try {
    // Without g/y: a stateful lastIndex would make .test() skip lines.
    return typeof value === "string" ? new RegExp(value) : new RegExp(value.source, value.flags.replace(/[gy]/g, ""));
  } catch (error) {
    ctx.addIssue({ code: "custom", message: `invalid regular expression: ${(error as Error).message}` });
    return z.NEVER;
  }
});

/** What every whole-file text edit (line, configKeys) takes besides its own parameters. */
export const textFileParams = {
  path: filePath,
  create: z.boolean().default(false),
  owner: accountName.optional(),
  group: accountName.optional(),
  mode: fileMode.optional(),
  notify: z.array(z.string()).optional(),
};

const lineParams = z
  .strictObject({
    ...textFileParams,
    line: z
      .string()
      .regex(/^[^\n\r]*$/, "one line, without a line break")
      .optional(),
    state: z.enum(["present", "absent"]).default("present"),
    regexp: pattern.optional(),
    /** Insert a new line after the last line this matches (else at the end of the file). */
    insertAfter: pattern.optional(),
  })
  .refine((p) => p.line !== undefined || (p.state === "absent" && p.regexp), "line is required (or, for state absent, regexp)");

export type LineParams = z.input<typeof lineParams>;
export type LineEdit = Pick<z.output<typeof lineParams>, "line" | "state" | "regexp" | "insertAfter">;

export function line(input: LineParams): Step<FileState> {
  const params = parseStepParams("line", lineParams, input);
  const what = params.line ?? `/${params.regexp?.source}/`;
  return textEditStep("line", `line ${params.path}: ${params.state === "absent" ? "no " : ""}${shortenMasked(what, 50)}`, params, {
    needsFile: params.state === "present",
    edit: (text, fromUser) => editLine(text, { ...params, line: params.line === undefined ? undefined : fromUser(params.line) }),
  });
}

/** Pure: the file's text → the text with the line ensured. Returns `text` itself when nothing changes. */
export function editLine(text: string, edit: LineEdit): string {
  const lines = splitLines(text);
  const owned = (l: string) => l === edit.line || matches(edit.regexp, l);
  let result: string[];
  if (edit.state === "absent") {
    result = lines.filter((l) => !owned(l));
  } else {
    const desired = edit.line as string;
    const indices = lines.flatMap((l, i) => (owned(l) ? [i] : []));
    if (indices.length === 0) {
      const after = edit.insertAfter ? lastIndex(lines, (l) => matches(edit.insertAfter, l)) : -1;
      result = after < 0 ? [...lines, desired] : [...lines.slice(0, after + 1), desired, ...lines.slice(after + 1)];
    } else {
      const existing = indices.find((i) => lines[i] === desired);
      const keep = existing ?? (indices.at(-1) as number);
      result = lines.flatMap((l, i) => (i === keep ? [desired] : indices.includes(i) ? [] : [l]));
    }
  }
  return joinLines(result, text);
}

/** RegExp#test without the lastIndex state a g or y flag carries from one call to the next. */
function matches(pattern: RegExp | undefined, text: string): boolean {
  if (!pattern) return false;
  pattern.lastIndex = 0;
  return pattern.test(text);
}

/** Lines of a text file; a final line break ends the last line rather than starting an empty one. */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (text.endsWith("\n")) lines.pop();
  return lines;
}

/** Back to text; the original text itself when the lines did not change (its last line break too). */
export function joinLines(lines: string[], original: string): string {
  const same = lines.length === splitLines(original).length && splitLines(original).every((l, i) => l === lines[i]);
  if (same) return original;
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

interface TextFileOptions {
  path: string;
  create: boolean;
  owner?: string | undefined;
  group?: string | undefined;
  mode?: string | undefined;
  notify?: string[] | undefined;
}

/** Write the edited bytes (atomically, with all metadata given), or only fix the metadata that differs. */
export type TextEditPlan = { action: "write"; bytes: Buffer } | { action: "metadata"; metadata: MetadataPlan };

export interface TextEditChange extends Change {
  plan: TextEditPlan;
}

/**
 * A step that edits a text file as a whole: read it (batched), compute the new text with a pure
 * `edit`, diff text and owner/group/mode, write atomically. Shared by `line` and `configKeys`.
 */
export function textEditStep(
  kind: string,
  name: string,
  options: TextFileOptions,
  how: { needsFile: boolean; edit: (text: string, fromUser: (value: string) => string) => string },
): Step<FileState> {
  const mode = options.mode ? normalizeMode(options.mode) : undefined;
  const planned = (current: FileState): { before: string; after: string; bytes: () => Buffer } | null => {
    if (current.exists && current.type !== "regular file") {
      throw new Error(`${options.path} exists and is a ${current.type}, not a regular file`);
    }
    if (!current.exists && !how.needsFile) return null;
    if (!current.exists && !options.create) throw new Error(`${options.path} does not exist (set create: true to create it)`);
    // Byte-exact: the file's encoding and line ending are kept (file-text.ts).
    const file = decodeFileText(current.content ?? Buffer.alloc(0));
    const after = how.edit(file.text, file.fromUser);
    return { before: file.text, after, bytes: () => file.encode(after) };
  };
  return {
    kind,
    name,
    notify: options.notify,
    provides: [pathResource(options.path)],
    requires: [pathResource(options.path)],
    read: () => ({ command: readFileCommand(options.path), parse: (result) => parseFileState(result, options.path) }),
    diff(current): TextEditChange | null {
      const text = planned(current);
      if (!text) return null;
      const contentChanges = !current.exists || text.after !== text.before;
      const metadata: MetadataPlan = current.exists ? differingMetadata(current, options.owner, options.group, mode) : {};
      const parts = [
        ...(!current.exists ? ["create"] : contentChanges ? ["content"] : []),
        ...(metadata.owner ? [`owner ${current.owner ?? "-"} → ${metadata.owner}`] : []),
        ...(metadata.group ? [`group ${current.group ?? "-"} → ${metadata.group}`] : []),
        ...(metadata.mode ? [`mode ${current.mode} → ${metadata.mode}`] : []),
      ];
      if (parts.length === 0) return null;
      return {
        summary: parts.join(", "),
        ...(contentChanges ? { diff: { label: options.path, before: text.before, after: text.after } } : {}),
        plan: contentChanges ? { action: "write", bytes: text.bytes() } : { action: "metadata", metadata },
      };
    },
    async apply({ session }, _current, change: TextEditChange) {
      if (change.plan.action === "write") {
        await writeRemoteFile(session, options.path, change.plan.bytes, { owner: options.owner, group: options.group, mode });
        return;
      }
      // Only what differs, as the summary says (this used to chown and chmod every field given).
      await session.runOrThrow(metadataPlanCommand(options.path, change.plan.metadata));
    },
  };
}

/** Array#findLastIndex (ES2023; the project targets ES2022). */
export function lastIndex<T>(items: readonly T[], predicate: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i -= 1) if (predicate(items[i] as T)) return i;
  return -1;
}
