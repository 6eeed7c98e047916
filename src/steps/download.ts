/**
 * download: a file fetched ON THE HOST from a URL (curl, else wget), accepted only when its
 * sha256 is the one given (required: a download without a digest is never idempotent nor safe).
 * Like Ansible's `get_url` with `checksum: sha256:…`: when the file is there with that digest,
 * nothing is fetched. The body goes straight into remote-file's atomic write, whose validation
 * step checks the digest on the temp file: a failed or tampered download never replaces the file.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { sh, type ShellCommand } from "../shell/sh.ts";
import { pipedFileWrite } from "../transport/remote-file.ts";
import type { ExecResult } from "../transport/transport.ts";
import { fileMode, filePath, parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const downloadParams = z.strictObject({
  url: z.string().regex(/^https?:\/\/[^\s\0]+$/, "must be an http:// or https:// URL without white space"),
  dest: filePath,
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "must be a sha256 digest (64 hex digits)")
    .transform((d) => d.toLowerCase()),
  owner: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
  mode: fileMode.optional(),
  timeoutSeconds: z.number().int().min(1).max(3600).default(120),
  notify: z.array(z.string()).optional(),
});

export type DownloadParams = z.input<typeof downloadParams>;

export type DownloadState = { exists: false } | { exists: true; type: string; sha256: string };

export function download(input: DownloadParams): Step<DownloadState> {
  const p = parseStepParams("download", downloadParams, input);
  const mode = p.mode?.padStart(4, "0");
  return {
    kind: "download",
    name: `download ${p.dest}`,
    provides: [pathResource(p.dest)],
    requires: [pathResource(p.dest)],
    notify: p.notify,
    read: () => ({ command: readDigestCommand(p.dest), parse: (result) => parseDigest(result, p.dest) }),
    diff(current): Change | null {
      if (current.exists && current.type !== "regular file") throw new Error(`${p.dest} is a ${current.type}, not a regular file`);
      if (current.exists && current.sha256 === p.sha256) return null;
      return {
        summary: current.exists ? `fetch ${p.url} (sha256 ${current.sha256.slice(0, 12)}… → ${p.sha256.slice(0, 12)}…)` : `fetch ${p.url}`,
      };
    },
    async apply({ session }) {
      // The write verifies the body against the required sha256 before it replaces anything.
      await session.runOrThrow(
        fetchCommand(p.url, p.timeoutSeconds, pipedFileWrite(p.dest, p.sha256, { owner: p.owner, group: p.group, mode })),
        {
          timeoutMs: (p.timeoutSeconds + 15) * 1000,
        },
      );
    },
  };
}

/** The body on stdout (curl -f / wget: an HTTP error is a failure), piped into the atomic write. */
export function fetchCommand(url: string, timeoutSeconds: number, write: ShellCommand): ShellCommand {
  return sh`if command -v curl >/dev/null 2>&1; then curl -fsSL --proto =http,https --max-time ${timeoutSeconds} -- ${url}
elif command -v wget >/dev/null 2>&1; then wget -q -T ${timeoutSeconds} -O - -- ${url}
else echo "neither curl nor wget on the host" >&2; exit 4; fi | {
${write}
}`;
}

export function readDigestCommand(path: string): ShellCommand {
  return sh`p=${path}
if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo absent; exit 0; fi
stat -c '%F' -- "$p"
if [ -f "$p" ]; then sha256sum -- "$p" | cut -d' ' -f1; fi`;
}

export function parseDigest(result: ExecResult, path: string): DownloadState {
  if (result.exitCode !== 0)
    throw new ReadFailedError(`cannot read ${path}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  const [type, digest] = result.stdout.toString("utf8").trim().split("\n");
  if (type === "absent") return { exists: false };
  const kind = type === "regular empty file" ? "regular file" : (type ?? "");
  return { exists: true, type: kind, sha256: digest?.trim() ?? "" };
}
