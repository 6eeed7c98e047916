/**
 * blockInFile: a block of lines between two marker lines, kept as given (Ansible's `blockinfile`,
 * with the same markers, so a file Ansible edited is recognised and taken over):
 *   `# BEGIN ANSIBLE MANAGED BLOCK` … `# END ANSIBLE MANAGED BLOCK` by default, from the template
 *   `marker` ("# {mark} ANSIBLE MANAGED BLOCK") with `markerBegin`/`markerEnd` for {mark}.
 * An existing block (the first begin line, then the first end line after it) is replaced in place;
 * a new one goes after the last line `insertAfter` matches (default: the end of the file) or
 * before the last line `insertBefore` matches ("BOF": the top), as Ansible does. An empty block or
 * `state: absent` removes the block with its markers. The file is edited by a pure function and
 * written atomically (textEditStep, shared with `line`).
 */
import { z } from "zod";
import { InvalidStepError, type Step } from "../playbook/step.ts";
import type { FileState } from "../transport/remote-file.ts";
import { joinLines, lastIndex, splitLines, textEditStep, textFileParams } from "./line.ts";
import { parseStepParams } from "./params.ts";

const oneLine = z.string().regex(/^[^\n\r]*$/, "one line, without a line break");
const regexp = z.union([z.instanceof(RegExp), z.string()]).transform((value, ctx) => {
  if (value === "EOF" || value === "BOF") return value;
  try {
    return typeof value === "string" ? new RegExp(value) : new RegExp(value.source, value.flags.replace(/[gy]/g, ""));
  } catch (error) {
    ctx.addIssue({ code: "custom", message: `invalid regular expression: ${(error as Error).message}` });
    return z.NEVER;
  }
});

const blockInFileParams = z
  .strictObject({
    ...textFileParams,
    block: z.string().default(""),
    marker: oneLine.pipe(z.string().includes("{mark}", { message: "must contain {mark}" })).default("# {mark} ANSIBLE MANAGED BLOCK"),
    markerBegin: oneLine.default("BEGIN"),
    markerEnd: oneLine.default("END"),
    insertAfter: regexp.optional(),
    insertBefore: regexp.optional(),
    state: z.enum(["present", "absent"]).default("present"),
  })
  .refine((p) => !(p.insertAfter && p.insertBefore), "give insertAfter or insertBefore, not both")
  .refine((p) => p.markerBegin !== p.markerEnd, "markerBegin and markerEnd must differ");

export type BlockInFileParams = z.input<typeof blockInFileParams>;
export type BlockEdit = Pick<
  z.output<typeof blockInFileParams>,
  "block" | "marker" | "markerBegin" | "markerEnd" | "insertAfter" | "insertBefore" | "state"
>;

export function blockInFile(input: BlockInFileParams): Step<FileState> {
  const p = parseStepParams("blockInFile", blockInFileParams, input);
  const [begin, end] = markers(p);
  if (splitLines(p.block).some((l) => l === begin || l === end)) {
    throw new InvalidStepError("blockInFile: invalid parameters: block: must not contain its own marker lines");
  }
  const removing = p.state === "absent" || p.block === "";
  return textEditStep("block-in-file", `block in ${p.path}: ${begin}${removing ? " absent" : ""}`, p, {
    needsFile: !removing,
    edit: (text) => editBlock(text, p),
  });
}

function markers(p: Pick<BlockEdit, "marker" | "markerBegin" | "markerEnd">): [string, string] {
  return [p.marker.replaceAll("{mark}", p.markerBegin), p.marker.replaceAll("{mark}", p.markerEnd)];
}

/** Pure: the file's text → the text with the block in place (or removed). `text` itself when unchanged. */
export function editBlock(text: string, edit: BlockEdit): string {
  const lines = splitLines(text);
  const [begin, end] = markers(edit);
  const first = lines.indexOf(begin);
  const last = first < 0 ? -1 : lines.indexOf(end, first + 1);
  const block = edit.state === "absent" || edit.block === "" ? [] : [begin, ...splitLines(edit.block), end];
  if (first >= 0 && last >= 0) return joinLines([...lines.slice(0, first), ...block, ...lines.slice(last + 1)], text);
  if (block.length === 0) return text;
  const at = insertionPoint(lines, edit);
  return joinLines([...lines.slice(0, at), ...block, ...lines.slice(at)], text);
}

function insertionPoint(lines: string[], edit: BlockEdit): number {
  const match = (pattern: RegExp) =>
    lastIndex(lines, (l) => {
      // A global or sticky pattern keeps its position between calls; every line is tested from its start.
      pattern.lastIndex = 0;
      return pattern.test(l);
    });
  if (edit.insertBefore === "BOF") return 0;
  if (edit.insertBefore instanceof RegExp) {
    const i = match(edit.insertBefore);
    return i < 0 ? lines.length : i;
  }
  if (edit.insertAfter instanceof RegExp) {
    const i = match(edit.insertAfter);
    return i < 0 ? lines.length : i + 1;
  }
  return lines.length;
}
