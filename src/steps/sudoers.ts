/**
 * sudoers: a drop-in `/etc/sudoers.d/<name>`, root:root 0440, validated with `visudo -cf` on the
 * temp file before it replaces the real one (a broken rule never reaches sudo: the old file stays).
 * Either the whole `content`, or one rule built from `user`/`group`, `commands`, `runAs`,
 * `nopassword` (community.general.sudoers' fields). `state: absent` removes the drop-in.
 * Names with a "." or ending in "~" are refused: sudo silently skips such files in sudoers.d.
 */
import { z } from "zod";
import type { Step } from "../playbook/step.ts";
import type { FileState } from "../transport/remote-file.ts";
import { absent } from "./absent.ts";
import { accountName } from "./account-name.ts";
import { file } from "./file.ts";
import { parseStepParams } from "./params.ts";

const line = z.string().refine((v) => !/[\n\r\0]/.test(v), "must be one line (no line break or NUL byte)");

const sudoersParams = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]+$/, "must be letters, digits, _ or - (sudo skips drop-ins with a '.' or a final '~')"),
    state: z.enum(["present", "absent"]).default("present"),
    content: z.string().optional(),
    user: accountName.optional(),
    group: accountName.optional(),
    commands: z
      .array(line.pipe(z.string().min(1)))
      .min(1)
      .default(["ALL"]),
    runAs: line.pipe(z.string().regex(/^[^()]+$/, "must not contain parentheses")).default("ALL"),
    host: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, "must be a host name or ALL")
      .default("ALL"),
    nopassword: z.boolean().default(false),
    notify: z.array(z.string()).optional(),
  })
  .refine(
    (p) => p.state === "absent" || (p.content !== undefined) !== (p.user !== undefined || p.group !== undefined),
    "give either content, or user or group (with commands)",
  )
  .refine((p) => !(p.user && p.group), "give user or group, not both");

export type SudoersParams = z.input<typeof sudoersParams>;

export function sudoers(input: SudoersParams): Step<FileState> {
  const p = parseStepParams("sudoers", sudoersParams, input);
  const path = `/etc/sudoers.d/${p.name}`;
  if (p.state === "absent") return { ...absent({ path, notify: p.notify }), kind: "sudoers", name: `sudoers ${p.name} absent` };
  const content = p.content ?? `${sudoersRule(p)}\n`;
  const step = file({ path, content, owner: "root", group: "root", mode: "0440", validate: "visudo -cf %s", notify: p.notify });
  return { ...step, kind: "sudoers", name: `sudoers ${p.name}` };
}

/** `%admins ALL=(ALL) NOPASSWD: /usr/bin/systemctl restart app` */
export function sudoersRule(p: {
  user?: string | undefined;
  group?: string | undefined;
  host: string;
  runAs: string;
  nopassword: boolean;
  commands: string[];
}): string {
  const who = p.user ?? `%${p.group}`;
  return `${who} ${p.host}=(${p.runAs}) ${p.nopassword ? "NOPASSWD: " : ""}${p.commands.map(escapeCommand).join(", ")}`;
}

/** sudoers(5): in a command's arguments ",", ":", "=" and "\" must be escaped with "\". */
function escapeCommand(command: string): string {
  return command.replace(/[\\,:=]/g, (c) => `\\${c}`);
}
