/** directory: a directory exists (parents included) with the given owner, group and mode. */
import { z } from "zod";
import type { Step } from "../playbook/step.ts";
import { joinCommands, sh } from "../shell/sh.ts";
import { parseFileState, readFileCommand, type FileState } from "../transport/remote-file.ts";
import { describeMetadata, differingMetadata, metadataChanges, metadataCommand, normalizeMode } from "./file.ts";
import { accountName, parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const directoryParams = z.strictObject({
  path: z.string().startsWith("/", "must be an absolute path"),
  owner: accountName.optional(),
  group: accountName.optional(),
  mode: z.string().regex(/^0?[0-7]{3,4}$/, "must be an octal mode like 0755").optional(),
  notify: z.array(z.string()).optional(),
});

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
    diff(current) {
      if (current.exists && current.type !== "directory") {
        throw new Error(`${params.path} exists and is a ${current.type}, not a directory`);
      }
      const parts = current.exists
        ? metadataChanges(current, params.owner, params.group, mode)
        : [`create${describeMetadata(params.owner, params.group, mode)}`];
      return parts.length ? { summary: parts.join(", ") } : null;
    },
    async apply({ session }, current) {
      const create = current.exists ? [] : [sh`mkdir -p -- ${params.path}`];
      const differs = differingMetadata(current, params.owner, params.group, mode);
      const metadata = metadataCommand(params.path, differs.owner, differs.group, differs.mode);
      await session.check(joinCommands([...create, metadata].filter((c) => c.text), " && "));
    },
  };
}
