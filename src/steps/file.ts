/**
 * file: a whole file's content, owner, group and mode. Written atomically (temp file + rename,
 * verified on the host before the rename), with an optional validation command run on the temp
 * file before it replaces the real one.
 *
 * Large or binary content is compared by digest, not by text: when the desired content is over
 * TEXT_COMPARE_MAX_BYTES or not UTF-8, the read asks the host for the file's size and sha256
 * instead of its bytes (a gigabyte is then held once, on the controller, not twice), and a host
 * file over that size is never sent back either. The change then says
 * "content (binary, 1200 bytes → 1048576 bytes)" and carries no text diff.
 */
import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import { z } from "zod";
import type { ApplyContext, Change, Step } from "../playbook/step.ts";
import { sh, joinCommands, type ShellCommand } from "../shell/sh.ts";
import { parseFileState, readFileCommand, fileWrite, runFileWrite, type FileState } from "../transport/remote-file.ts";
import { accountName, fileMode, filePath, parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

/** Content larger than this (bytes) is compared by size and sha256, and never diffed as text. */
export const TEXT_COMPARE_MAX_BYTES = 1024 * 1024;

const fileParams = z.strictObject({
  path: filePath,
  content: z.union([z.string(), z.instanceof(Buffer)]),
  owner: accountName.optional(),
  group: accountName.optional(),
  mode: fileMode.optional(),
  validate: z.string().includes("%s", { message: "must contain %s (the temp file's path)" }).optional(),
  backup: z.boolean().optional(),
  notify: z.array(z.string()).optional(),
});

export type FileParams = z.input<typeof fileParams>;

/** Write the whole file atomically (content differs or no file: it sets all metadata given), or only fix metadata. */
export type FilePlan = { action: "write" } | { action: "metadata"; metadata: MetadataPlan };

export interface FileChange extends Change {
  plan: FilePlan;
}

/** A file step, its diff and apply typed with the plan (steps built on it carry its change). */
export interface FileStep extends Step<FileState> {
  diff(current: FileState): FileChange | null;
  apply(context: ApplyContext, current: FileState, change: FileChange): Promise<void>;
}

export function file(input: FileParams): FileStep {
  const params = parseStepParams("file", fileParams, input);
  const desired = Buffer.isBuffer(params.content) ? params.content : Buffer.from(params.content);
  const mode = params.mode ? normalizeMode(params.mode) : undefined;
  const desiredIsUtf8 = isUtf8(desired);
  const desiredIsText = desiredIsUtf8 && desired.length <= TEXT_COMPARE_MAX_BYTES;
  // A text file is read whole (when it is small enough); binary or huge desired content by digest only.
  const contentLimit = desiredIsText ? TEXT_COMPARE_MAX_BYTES : 0;
  let desiredSha256: string | undefined;
  const sameContent = (current: FileState): boolean => {
    if (current.content) return current.content.equals(desired);
    if (!current.digest || current.digest.size !== desired.length) return false;
    desiredSha256 ??= createHash("sha256").update(desired).digest("hex");
    return current.digest.sha256 === desiredSha256;
  };
  return {
    kind: "file",
    name: `file ${params.path}`,
    notify: params.notify,
    provides: [pathResource(params.path)],
    requires: [pathResource(params.path)],
    read: () => ({ command: readFileCommand(params.path, { contentLimit }), parse: (result) => parseFileState(result, params.path) }),
    diff(current): FileChange | null {
      if (current.exists && current.type !== "regular file") {
        throw new Error(`${params.path} exists and is a ${current.type}, not a regular file`);
      }
      const contentDiffers = !current.exists || !sameContent(current);
      const textDiff = contentDiffers && desiredIsText && !current.digest && (!current.content || isUtf8(current.content));
      const contentPart = textDiff
        ? "content"
        : `content (${whyNoTextDiff(current, desiredIsUtf8)}, ${currentSize(current)} bytes → ${desired.length} bytes)`;
      const metadata = differingMetadata(current, params.owner, params.group, mode);
      const parts = current.exists
        ? [...(contentDiffers ? [contentPart] : []), ...describeMetadataPlan(current, metadata)]
        : [`create${describeMetadata(params.owner, params.group, mode)}`];
      if (parts.length === 0) return null;
      return {
        summary: parts.join(", "),
        ...(textDiff
          ? { diff: { label: params.path, before: current.content?.toString("utf8") ?? "", after: desired.toString("utf8") } }
          : {}),
        plan: contentDiffers ? { action: "write" } : { action: "metadata", metadata },
      };
    },
    async apply({ session }, _current, change: FileChange) {
      if (change.plan.action === "write") {
        // Refused by validate (or cut short): the old file stays, and the step says the host is unchanged.
        await runFileWrite(session, fileWrite(params.path, desired, { ...params, mode }));
        return;
      }
      await session.runOrThrow(metadataPlanCommand(params.path, change.plan.metadata));
    },
  };
}

function currentSize(current: FileState): number {
  return current.digest?.size ?? current.content?.length ?? 0;
}

/** Why a content change carries no text diff: either side is not UTF-8, or is too large to diff. */
function whyNoTextDiff(current: FileState, desiredIsUtf8: boolean): string {
  return !desiredIsUtf8 || (current.content && !isUtf8(current.content)) ? "binary" : "too large to diff";
}

/** chown/chmod carrying out a metadata plan. */
export function metadataPlanCommand(path: string, plan: MetadataPlan): ShellCommand {
  return metadataCommand(path, plan.owner, plan.group, plan.mode);
}

export function normalizeMode(mode: string): string {
  return mode.padStart(4, "0");
}

/** chown/chmod of an existing path (used by `file` and `ownerMode`); empty when nothing is given. */
export function metadataCommand(path: string, owner?: string, group?: string, mode?: string): ShellCommand {
  const commands: ShellCommand[] = [];
  if (owner || group) commands.push(sh`chown -- ${`${owner ?? ""}${group ? `:${group}` : ""}`} ${path}`);
  if (mode) commands.push(sh`chmod -- ${mode} ${path}`);
  return joinCommands(commands, " && ");
}

/** The owner, group and mode a step is to set: only those that differ (diff decides, apply runs it). */
export interface MetadataPlan {
  owner?: string;
  group?: string;
  mode?: string;
}

/** Only the owner, group and mode that differ from what the host has (an absent path: all given). */
export function differingMetadata(current: FileState, owner?: string, group?: string, mode?: string): MetadataPlan {
  return {
    ...(owner && current.owner !== owner ? { owner } : {}),
    ...(group && current.group !== group ? { group } : {}),
    ...(mode && current.mode !== mode ? { mode } : {}),
  };
}

/** "owner root → postfix", "mode 0644 → 0640": what a metadata change would do, for summaries. */
export function metadataChanges(current: FileState, owner?: string, group?: string, mode?: string): string[] {
  return describeMetadataPlan(current, differingMetadata(current, owner, group, mode));
}

/** The summary parts of a metadata plan, against what the host has now. */
export function describeMetadataPlan(current: FileState, differs: MetadataPlan): string[] {
  return [
    ...(differs.owner ? [`owner ${current.owner} → ${differs.owner}`] : []),
    ...(differs.group ? [`group ${current.group} → ${differs.group}`] : []),
    ...(differs.mode ? [`mode ${current.mode} → ${differs.mode}`] : []),
  ];
}

/** " (root:adm 0640)" for a path about to be created; empty when nothing is asked. */
export function describeMetadata(owner?: string, group?: string, mode?: string): string {
  const who = owner || group ? `${owner ?? ""}${group ? `:${group}` : ""}` : "";
  const text = [who, mode ?? ""].filter(Boolean).join(" ");
  return text ? ` (${text})` : "";
}
