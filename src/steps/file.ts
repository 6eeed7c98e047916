/**
 * file: a whole file's content, owner, group and mode. Written atomically (temp file + rename),
 * with an optional validation command run on the temp file before it replaces the real one.
 */
import { z } from "zod";
import type { Change, Step } from "../playbook/step.ts";
import { sh, joinCommands, type ShellCommand } from "../shell/sh.ts";
import { parseFileState, readFileCommand, writeFileCommand, type FileState } from "../transport/remote-file.ts";
import { filePath, parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const fileParams = z.strictObject({
  path: filePath,
  content: z.union([z.string(), z.instanceof(Buffer)]),
  owner: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
  mode: z.string().regex(/^0?[0-7]{3,4}$/, "must be an octal mode like 0644").optional(),
  validate: z.string().includes("%s", { message: "must contain %s (the temp file's path)" }).optional(),
  backup: z.boolean().optional(),
  notify: z.array(z.string()).optional(),
});

export type FileParams = z.input<typeof fileParams>;

export function file(input: FileParams): Step<FileState> {
  const params = parseStepParams("file", fileParams, input);
  const desired = Buffer.from(params.content);
  const mode = params.mode ? normalizeMode(params.mode) : undefined;
  return {
    kind: "file",
    name: `file ${params.path}`,
    notify: params.notify,
    provides: [pathResource(params.path)],
    requires: [pathResource(params.path)],
    read: () => ({ command: readFileCommand(params.path), parse: (result) => parseFileState(result, params.path) }),
    diff(current): Change | null {
      if (current.exists && current.type !== "regular file") {
        throw new Error(`${params.path} exists and is a ${current.type}, not a regular file`);
      }
      const contentDiffers = !current.exists || !current.content?.equals(desired);
      const parts = current.exists
        ? [...(contentDiffers ? ["content"] : []), ...metadataChanges(current, params.owner, params.group, mode)]
        : [`create${describeMetadata(params.owner, params.group, mode)}`];
      if (parts.length === 0) return null;
      return {
        summary: parts.join(", "),
        ...(contentDiffers
          ? { diff: { label: params.path, before: current.content?.toString("utf8") ?? "", after: desired.toString("utf8") } }
          : {}),
      };
    },
    async apply({ session }, current) {
      if (!current.exists || !current.content?.equals(desired)) {
        await session.check(writeFileCommand(params.path, { ...params, mode }), { stdin: desired });
        return;
      }
      const differs = differingMetadata(current, params.owner, params.group, mode);
      await session.check(metadataCommand(params.path, differs.owner, differs.group, differs.mode));
    },
  };
}

export function normalizeMode(mode: string): string {
  return mode.padStart(4, "0");
}

/** chown/chmod of an existing path (used by `file` and `ownerMode`). */
export function metadataCommand(path: string, owner?: string, group?: string, mode?: string): ShellCommand {
  const commands: ShellCommand[] = [];
  if (owner || group) commands.push(sh`chown -- ${`${owner ?? ""}${group ? `:${group}` : ""}`} ${path}`);
  if (mode) commands.push(sh`chmod -- ${mode} ${path}`);
  return joinCommands(commands, " && ");
}

/** Only the owner, group and mode that differ from what the host has (an absent path: all given). */
export function differingMetadata(
  current: FileState,
  owner?: string,
  group?: string,
  mode?: string,
): { owner?: string; group?: string; mode?: string } {
  return {
    ...(owner && current.owner !== owner ? { owner } : {}),
    ...(group && current.group !== group ? { group } : {}),
    ...(mode && current.mode !== mode ? { mode } : {}),
  };
}

/** "owner root → postfix", "mode 0644 → 0640": what a metadata change would do, for summaries. */
export function metadataChanges(current: FileState, owner?: string, group?: string, mode?: string): string[] {
  const differs = differingMetadata(current, owner, group, mode);
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
