/**
 * aptRepository: a deb822 `/etc/apt/sources.list.d/<name>.sources` whose `Signed-By:` is a keyring
 * file of its own (default `/etc/apt/keyrings/<name>.gpg`, or `.asc` for an armored one), so the
 * key signs this repository only (not the whole system, as apt-key did). The keyring comes from
 * the controller as bytes and must hold the primary key `fingerprint` (checked with gpg on the
 * controller when the step is built: apt-keyring.ts). Both files are `file` steps underneath
 * (exact content, root:root 0644, atomic verified writes), read in one round trip.
 * It does not run `apt-get update`: a `packages` step with `update: true` after it does.
 */
import { z } from "zod";
import { InvalidStepError, type Change, type Step } from "../playbook/step.ts";
import { joinCommands } from "../shell/sh.ts";
import { section, sectionLine } from "../shell/read-output.ts";
import { parseFileState, readFileCommand, type FileState } from "../transport/remote-file.ts";
import type { ExecResult } from "../transport/transport.ts";
import { pathResource } from "../playbook/resources.ts";
import { file, type FileChange } from "./file.ts";
import { filePath, parseStepParams } from "./params.ts";
import { checkKeyringFingerprint } from "./apt-keyring.ts";

/** A deb822 field value's word: no whitespace, no control character, not empty. */
const word = z.string().regex(/^[^\s\0-\x1f\x7f]+$/, "must be one word (no whitespace or control characters)");

const aptRepositoryParams = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be letters, digits, _ . - (apt ignores other file names in sources.list.d)"),
  uris: z.array(word.regex(/^(https?|file|cdrom|mirror\+https?):/, "must be an apt URI (http://, https://, file:, …)")).min(1),
  suites: z.array(word).min(1),
  components: z.array(word).default([]),
  types: z
    .array(z.enum(["deb", "deb-src"]))
    .min(1)
    .default(["deb"]),
  architectures: z.array(word).optional(),
  keyring: z.union([z.instanceof(Buffer), z.string()]),
  fingerprint: z
    .string()
    .transform((v) => v.replace(/\s+/g, ""))
    .pipe(z.string().regex(/^[0-9A-Fa-f]{40}$|^[0-9A-Fa-f]{64}$/, "must be a full key fingerprint (40 or 64 hex digits)")),
  keyringPath: filePath.optional(),
  enabled: z.boolean().default(true),
  notify: z.array(z.string()).optional(),
});

export type AptRepositoryParams = z.input<typeof aptRepositoryParams>;

interface AptRepositoryState {
  keyring: FileState;
  sources: FileState;
}

/** Between the two reads: the keyring's read prints stat and digest lines only (contentLimit 0), never this. */
/** The kit's section line between the two reads (src/shell/read-output.ts). */
const SEPARATOR = "apt-sources";

export interface AptRepositoryChange extends Change {
  /** The keyring file's change and the sources file's, as their own file steps planned them (null: as it is). */
  plan: { keyring: FileChange | null; sources: FileChange | null };
}

export function aptRepository(input: AptRepositoryParams): Step<AptRepositoryState> {
  const p = parseStepParams("aptRepository", aptRepositoryParams, input);
  const stepName = `apt repository ${p.name}`;
  const keyring = Buffer.isBuffer(p.keyring) ? p.keyring : Buffer.from(p.keyring);
  checkKeyringFingerprint(stepName, keyring, p.fingerprint);
  const armored = keyring.subarray(0, 40).toString("latin1").includes("-----BEGIN PGP PUBLIC KEY BLOCK-----");
  const keyringPath = p.keyringPath ?? `/etc/apt/keyrings/${p.name}.${armored ? "asc" : "gpg"}`;
  if (!armored && keyringPath.endsWith(".asc"))
    throw new InvalidStepError(`${stepName}: keyringPath ends in .asc but the keyring is binary (apt reads .asc as armored)`);
  const sourcesPath = `/etc/apt/sources.list.d/${p.name}.sources`;
  const content = deb822({ ...p, keyringPath });
  const keyringFile = file({ path: keyringPath, content: keyring, owner: "root", group: "root", mode: "0644" });
  const sourcesFile = file({ path: sourcesPath, content, owner: "root", group: "root", mode: "0644" });
  return {
    kind: "aptRepository",
    name: stepName,
    notify: p.notify,
    provides: [pathResource(keyringPath), pathResource(sourcesPath)],
    requires: [pathResource(keyringPath), pathResource(sourcesPath)],
    read: () => ({
      command: readCommand(keyringPath, sourcesPath),
      parse: (result) => parseState(result, keyringPath, sourcesPath),
    }),
    diff(current): AptRepositoryChange | null {
      const parts: string[] = [];
      const keyringChange = keyringFile.diff(current.keyring);
      const sourcesChange = sourcesFile.diff(current.sources);
      if (keyringChange) parts.push(`${keyringPath}: ${keyringChange.summary}`);
      if (sourcesChange) parts.push(`${sourcesPath}: ${sourcesChange.summary}`);
      if (!parts.length) return null;
      return {
        summary: parts.join(", "),
        ...(sourcesChange?.diff ? { diff: sourcesChange.diff } : {}),
        plan: { keyring: keyringChange, sources: sourcesChange },
      };
    },
    async apply(context, current, change: AptRepositoryChange) {
      const { keyring, sources } = change.plan;
      // The keyring first: a sources file naming a keyring that is not there yet fails every apt-get update.
      // (`current` is passed on only because the file step's apply takes it; it carries out its plan.)
      if (keyring) await keyringFile.apply(context, current.keyring, keyring);
      if (sources) await sourcesFile.apply(context, current.sources, sources);
    },
  };
}

/** Both reads in one command; the keyring's by digest (binary, and never sent back). */
function readCommand(keyringPath: string, sourcesPath: string) {
  return joinCommands(
    [readFileCommand(keyringPath, { contentLimit: 0 }), section(SEPARATOR), readFileCommand(sourcesPath, { contentLimit: 1024 * 1024 })],
    "; ",
  );
}

export function parseState(result: ExecResult, keyringPath: string, sourcesPath: string): AptRepositoryState {
  // The keyring's part always ends in a newline (an absent line, a digest line, a stat line): the
  // first marker line is the separator, whatever the sources file holds.
  const marker = Buffer.from(`\n${sectionLine(SEPARATOR)}\n`);
  const at = result.stdout.indexOf(marker);
  if (at < 0)
    throw new Error(`cannot read ${keyringPath} and ${sourcesPath}: ${result.stderr.toString("utf8").trim() || "output cut short"}`);
  const keyringOut = result.stdout.subarray(0, at + 1);
  const sourcesOut = result.stdout.subarray(at + marker.length);
  const part = (stdout: Buffer) => ({ ...result, stdout });
  return { keyring: parseFileState(part(keyringOut), keyringPath), sources: parseFileState(part(sourcesOut), sourcesPath) };
}

/** The deb822 stanza, fields in apt's documented order. */
export function deb822(p: {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  architectures?: string[];
  keyringPath: string;
  enabled: boolean;
}): string {
  return [
    `Types: ${p.types.join(" ")}`,
    `URIs: ${p.uris.join(" ")}`,
    `Suites: ${p.suites.join(" ")}`,
    ...(p.components.length ? [`Components: ${p.components.join(" ")}`] : []),
    ...(p.architectures?.length ? [`Architectures: ${p.architectures.join(" ")}`] : []),
    ...(p.enabled ? [] : ["Enabled: no"]),
    `Signed-By: ${p.keyringPath}`,
    "",
  ].join("\n");
}
