/** directory: a directory exists (parents included) with the given owner, group and mode. */
import { z } from "zod";
import type { Change, Step } from "../playbook/step.ts";
import { joinCommands, sh } from "../shell/sh.ts";
import { parseFileState, readFileCommand, type FileState } from "../transport/remote-file.ts";
import {
  describeMetadata,
  describeMetadataPlan,
  differingMetadata,
  metadataPlanCommand,
  normalizeMode,
  type MetadataPlan,
} from "./file.ts";
import { accountName, fileMode, parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const directoryParams = z.strictObject({
  path: z.string().startsWith("/", "must be an absolute path"),
  owner: accountName.optional(),
  group: accountName.optional(),
  mode: fileMode.optional(),
  notify: z.array(z.string()).optional(),
});

export interface DirectoryChange extends Change {
  /** mkdir -p when absent, then the owner, group and mode that differ (for a new directory: all given). */
  plan: { create: boolean; metadata: MetadataPlan };
}

export function directory(input: z.input<typeof directoryParams>): Step<FileState> {
  const params = parseStepParams("directory", directoryParams, input);
  const mode = params.mode ? normalizeMode(params.mode) : undefined;
  return {
    kind: "directory",
    name: `directory ${params.path}`,
    notify: params.notify,
    provides: [pathResource(params.path)],
    requires: [pathResource(params.path)],
    read: () => ({ command: readFileCommand(params.path, { metaOnly: true }), parse: (r) => parseFileState(r, params.path) }),
    diff(current): DirectoryChange | null {
      if (current.exists && current.type !== "directory") {
        throw new Error(`${params.path} exists and is a ${current.type}, not a directory`);
      }
      const metadata = differingMetadata(current, params.owner, params.group, mode);
      const parts = current.exists
        ? describeMetadataPlan(current, metadata)
        : [`create${describeMetadata(params.owner, params.group, mode)}`];
      return parts.length ? { summary: parts.join(", "), plan: { create: !current.exists, metadata } } : null;
    },
    async apply({ session }, _current, change: DirectoryChange) {
      const create = change.plan.create ? [sh`mkdir -p -- ${params.path}`] : [];
      const metadata = metadataPlanCommand(params.path, change.plan.metadata);
      await session.runOrThrow(
        joinCommands(
          [...create, metadata].filter((c) => c.text),
          " && ",
        ),
      );
    },
  };
}
