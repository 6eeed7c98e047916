/**
 * link: a symbolic link at `path` pointing to `target` exactly (Ansible's `file: state=link`).
 * Made or repointed atomically: a new link beside it, renamed over the old one (mv -T), so the
 * path never disappears. An existing regular file is replaced only with `force: true` (as in
 * Ansible); a directory never is (remove it with `absent` first).
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { sh } from "../shell/sh.ts";
import { parseFileState, readFileCommand, type FileState } from "../transport/remote-file.ts";
import type { ExecResult } from "../transport/transport.ts";
import { filePath, parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const linkParams = z.strictObject({
  path: filePath,
  target: z
    .string()
    .min(1)
    .refine((t) => !/[\n\0]/.test(t), "must not contain a line break or NUL byte"),
  force: z.boolean().default(false),
  notify: z.array(z.string()).optional(),
});

export type LinkParams = z.input<typeof linkParams>;

export interface LinkState {
  node: FileState;
  /** The link's target when `path` is a symbolic link. */
  target?: string;
}

export function link(input: LinkParams): Step<LinkState> {
  const p = parseStepParams("link", linkParams, input);
  return {
    kind: "link",
    name: `link ${p.path} → ${p.target}`,
    provides: [pathResource(p.path)],
    requires: [pathResource(p.path)],
    notify: p.notify,
    read: () => ({ command: readLinkCommand(p.path), parse: (result) => parseLinkState(result, p.path) }),
    diff(current): Change | null {
      const { node } = current;
      if (!node.exists) return { summary: "create" };
      if (node.type === "symbolic link") return current.target === p.target ? null : { summary: `target ${current.target} → ${p.target}` };
      if (node.type === "directory") throw new Error(`${p.path} is a directory, not a link (remove it first)`);
      if (!p.force) throw new Error(`${p.path} is a ${node.type}, not a link (set force: true to replace it)`);
      return { summary: `replace ${node.type} with a link` };
    },
    async apply({ session }) {
      const dir = p.path.slice(0, p.path.lastIndexOf("/")) || "/";
      await session.runOrThrow(
        sh`d=${dir}; t=$(mktemp -u "$d/.provision-link.XXXXXX") && ln -s -- ${p.target} "$t" && { mv -T -f -- "$t" ${p.path} || { rm -f -- "$t"; exit 1; }; }`,
      );
    },
  };
}

/** The node as remote-file reads it, then (for a link) its target on the line after "target:". */
export function readLinkCommand(path: string) {
  return sh`${readFileCommand(path, { metaOnly: true })}
if [ -L ${path} ]; then printf 'target:%s\\n' "$(readlink -- ${path})"; fi`;
}

export function parseLinkState(result: ExecResult, path: string): LinkState {
  if (result.exitCode !== 0)
    throw new ReadFailedError(`cannot read ${path}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  const text = result.stdout.toString("utf8");
  const [header, second] = text.split("\n");
  const node = parseFileState({ ...result, stdout: Buffer.from(`${header}\n`) }, path);
  if (node.type !== "symbolic link") return { node };
  if (!second?.startsWith("target:")) throw new ReadFailedError(`cannot read the target of ${path}`);
  // readlink's output went through $(…), which drops trailing line breaks: a target is one line here.
  return { node, target: text.slice(text.indexOf("\ntarget:") + "\ntarget:".length).replace(/\n$/, "") };
}
