/**
 * absent: a file, link or directory (with everything in it) is not there — Ansible's
 * `file: state=absent`. A directory is first renamed aside in its parent (one atomic rename: the
 * path is gone at once, never half-emptied) and then removed; where the rename cannot work (an
 * overlay lower directory gives EXDEV) it is removed in place.
 */
import { z } from "zod";
import type { Change, Step } from "../playbook/step.ts";
import { sh, type ShellCommand } from "../shell/sh.ts";
import { parseFileState, readFileCommand, type FileState } from "../transport/remote-file.ts";
import { filePath, parseStepParams } from "./params.ts";
import { pathResource, pathTree } from "../playbook/resources.ts";

const absentParams = z.strictObject({
  path: filePath,
  notify: z.array(z.string()).optional(),
});

export type AbsentParams = z.input<typeof absentParams>;

export function absent(input: AbsentParams): Step<FileState> {
  const p = parseStepParams("absent", absentParams, input);
  return {
    kind: "absent",
    name: `absent ${p.path}`,
    provides: [pathTree(p.path), pathResource(p.path)],
    requires: [pathResource(p.path)],
    notify: p.notify,
    read: () => ({ command: readFileCommand(p.path, { metaOnly: true }), parse: (result) => parseFileState(result, p.path) }),
    diff: (current): Change | null => (current.exists ? { summary: `remove ${current.type}` } : null),
    async apply({ session }) {
      await session.runOrThrow(removeCommand(p.path));
    },
  };
}

export function removeCommand(path: string): ShellCommand {
  const parent = path.slice(0, path.lastIndexOf("/")) || "/";
  // A run cut between the rename and the removal leaves only a .provision-absent.* directory: the next removal there clears it.
  return sh`p=${path}; d=${parent}
if [ -d "$p" ] && [ ! -L "$p" ]; then
  rm -rf -- "$d"/.provision-absent.*
  t=$(mktemp -d "$d/.provision-absent.XXXXXX")
  mv -T -- "$p" "$t/x" 2>/dev/null || :
  rm -rf -- "$t" "$p"
else
  rm -f -- "$p"
fi`;
}
