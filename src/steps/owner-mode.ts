/**
 * ownerMode: owner, group and mode of a path that must already exist (the seed's
 * `chown postfix /etc/sasldb2`). A missing path is a read error, not a change: this step never
 * creates anything, and in check mode after a pending change (the package that creates the file)
 * the runner reports it `unknown`.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { parseFileState, readFileCommand, type FileState } from "../transport/remote-file.ts";
import { describeMetadataPlan, differingMetadata, metadataPlanCommand, normalizeMode, type MetadataPlan } from "./file.ts";
import { accountName, fileMode, parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const ownerModeParams = z
  .strictObject({
    path: z.string().startsWith("/", "must be an absolute path"),
    owner: accountName.optional(),
    group: accountName.optional(),
    mode: fileMode.optional(),
    notify: z.array(z.string()).optional(),
  })
  .refine((p) => p.owner || p.group || p.mode, { message: "give at least one of owner, group, mode" });

export type OwnerModeParams = z.input<typeof ownerModeParams>;

export interface OwnerModeChange extends Change {
  /** Only what differs: a chown on a file already owned right would still bump its ctime. */
  plan: MetadataPlan;
}

export function ownerMode(input: OwnerModeParams): Step<FileState> {
  const params = parseStepParams("ownerMode", ownerModeParams, input);
  const mode = params.mode ? normalizeMode(params.mode) : undefined;
  return {
    kind: "owner-mode",
    name: `owner/mode ${params.path}`,
    notify: params.notify,
    provides: [pathResource(params.path)],
    requires: [pathResource(params.path)],
    read: () => ({
      command: readFileCommand(params.path, { metaOnly: true }),
      parse(result) {
        const state = parseFileState(result, params.path);
        if (!state.exists) throw new ReadFailedError(`${params.path} does not exist`);
        return state;
      },
    }),
    diff(current): OwnerModeChange | null {
      const plan = differingMetadata(current, params.owner, params.group, mode);
      const parts = describeMetadataPlan(current, plan);
      return parts.length ? { summary: parts.join(", "), plan } : null;
    },
    async apply({ session }, _current, change: OwnerModeChange) {
      await session.runOrThrow(metadataPlanCommand(params.path, change.plan));
    },
  };
}
