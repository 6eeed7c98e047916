/**
 * user: a local account present with the uid, primary group, supplementary groups, shell, home,
 * comment and password hash asked for — or absent. Ansible's `user` module semantics:
 *   - only what is given is managed (no `shell` → the shell is left alone);
 *   - `groups` is the exact supplementary list unless `append: true` (then only added to);
 *   - `system` and `createHome` apply when the account is created (like Ansible: an existing
 *     account is not turned into a system one);
 *   - a changed `home` is set with `usermod -d` without moving the files (Ansible's
 *     `move_home: false` default).
 * The password is a HASH (crypt(3) format, "$y$…", "$6$…") held as a Secret. It is compared ON THE
 * HOST (the read carries it through `secretStdin` into a shell variable, compares it with the
 * shadow entry with the builtin `[`, and prints only `password=match|mismatch`) and set with
 * `chpasswd -e`, which reads `user:hash` on stdin: never argv (`usermod -p` would put it there),
 * never in a summary, diff or error.
 */
import { keyValues as readKeyValues } from "../shell/read-output.ts";
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { joinCommands, raw, secretStdin, sh, type ShellCommand } from "../shell/sh.ts";
import { isSecret, secret, type Secret } from "../shell/secret.ts";
import type { ExecResult } from "../transport/transport.ts";
import { accountName, passwdField } from "./account-name.ts";
import { filePath, parseStepParams } from "./params.ts";
import { accountResource, pathResource, type Resource } from "../playbook/resources.ts";

const userParams = z.strictObject({
  name: accountName,
  state: z.enum(["present", "absent"]).default("present"),
  uid: z.number().int().min(0).max(4294967294).optional(),
  /** The primary group (it must exist; without it, useradd makes the user's own group). */
  group: accountName.optional(),
  groups: z.array(accountName).optional(),
  append: z.boolean().default(false),
  shell: filePath.pipe(passwdField).optional(),
  home: filePath.pipe(passwdField).optional(),
  comment: passwdField.optional(),
  system: z.boolean().default(false),
  createHome: z.boolean().default(true),
  password: z
    .custom<Secret>(isSecret, "must be a secret (secret(…) or secretVar()) holding a crypt(3) hash")
    // chpasswd -e reads "user:hash" lines: a ':' or line break would be a second field or line.
    .refine((s) => !/[:\n\r\0]/.test(s.reveal()), "must be a crypt(3) hash (no ':', line break or NUL byte)")
    .optional(),
  /** state absent: also remove the home directory and mail spool (userdel -r). */
  remove: z.boolean().default(false),
  notify: z.array(z.string()).optional(),
});

export type UserParams = z.input<typeof userParams>;
type Params = z.output<typeof userParams>;

export type UserState =
  | { exists: false }
  | {
      exists: true;
      uid: number;
      group: string;
      /** Supplementary groups (the primary one excluded), as `id -Gn` lists them. */
      groups: string[];
      comment: string;
      home: string;
      shell: string;
      /** "unchecked" when no password was asked. */
      password: "match" | "mismatch" | "unchecked";
    };

/** What usermod must set: only the fields that differ. */
export interface UserModification {
  uid?: number;
  group?: string;
  /** The -G list: exact, or (append) the missing ones with -a. */
  groups?: string[];
  append: boolean;
  shell?: string;
  home?: string;
  comment?: string;
  password: boolean;
}

export type UserPlan = { action: "create" } | { action: "remove" } | ({ action: "modify" } & UserModification);

export interface UserChange extends Change {
  plan: UserPlan;
}

export function user(input: UserParams): Step<UserState> {
  const p = parseStepParams("user", userParams, input);
  return {
    kind: "user",
    name: `user ${p.name}${p.state === "absent" ? " absent" : ""}`,
    notify: p.notify,
    provides: userProvides(p, { action: "create" }),
    // The account and the groups it names (their existence); not the account files as a whole: a
    // group's gid changing elsewhere does not change what `id -Gn` reads here.
    requires: [
      accountResource("user", p.name, "*"),
      ...[...(p.groups ?? []), ...(p.group ? [p.group] : [])].map((g) => accountResource("group", g, "exists")),
    ],
    read: () => ({ command: readUserCommand(p.name, p.password), parse: (result) => parseUserState(result, p.name) }),
    diff: (current) => {
      const change = diffUser(p, current);
      return change ? { ...change, provides: userProvides(p, change.plan) } : null;
    },
    async apply({ session }, _current, change: UserChange) {
      await session.runOrThrow(userCommand(p, change.plan));
    },
  };
}

export function readUserCommand(name: string, password?: Secret): ShellCommand {
  const compare = password
    ? sh`want=$(${secretStdin(password)} cat)
have=$(getent shadow -- "$u" | cut -d: -f2)
if [ "$want" = "$have" ]; then echo password=match; else echo password=mismatch; fi`
    : raw(":");
  return sh`u=${name}
if pw=$(getent passwd -- "$u"); then :; else rc=$?; if [ "$rc" = 2 ]; then echo absent; exit 0; fi; exit "$rc"; fi
printf 'passwd=%s\\n' "$pw"
printf 'group=%s\\n' "$(id -gn -- "$u")"
printf 'groups=%s\\n' "$(id -Gn -- "$u")"
${compare}`;
}

export function parseUserState(result: ExecResult, name: string): UserState {
  if (result.exitCode !== 0) {
    throw new ReadFailedError(`cannot read user ${name}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  const text = result.stdout.toString("utf8");
  if (text.trim() === "absent") return { exists: false };
  const v = keyValues(text);
  const fields = (v.get("passwd") ?? "").split(":");
  const group = v.get("group");
  if (fields.length < 7 || fields[0] !== name || !group) throw new ReadFailedError(`cannot parse the passwd entry of ${name}`);
  const all = (v.get("groups") ?? "").split(/\s+/).filter(Boolean);
  const pw = v.get("password");
  return {
    exists: true,
    uid: Number(fields[2]),
    group,
    groups: all.filter((g) => g !== group),
    comment: fields[4] ?? "",
    home: fields[5] ?? "",
    shell: fields[6] ?? "",
    password: pw === "match" || pw === "mismatch" ? pw : "unchecked",
  };
}

/** What carrying out `plan` changes: the fields it sets, the files they live in, and group memberships. */
export function userProvides(p: Params, plan: UserPlan): Resource[] {
  const files = {
    passwd: pathResource("/etc/passwd"),
    shadow: pathResource("/etc/shadow"),
    group: pathResource("/etc/group"),
    gshadow: pathResource("/etc/gshadow"),
  };
  const memberships = [...(p.groups ?? []), ...(p.group ? [p.group] : [])].map((g) => accountResource("group", g, "members"));
  if (plan.action !== "modify") {
    return [accountResource("user", p.name, "*"), ...Object.values(files), ...memberships, ...(p.home ? [pathResource(p.home)] : [])];
  }
  const out: Resource[] = [];
  const field = (name: Parameters<typeof accountResource>[2], ...paths: Resource[]) =>
    out.push(accountResource("user", p.name, name), ...paths);
  if (plan.uid !== undefined) field("uid", files.passwd);
  if (plan.group) field("gid", files.passwd);
  if (plan.groups) field("groups", files.group, files.gshadow, ...memberships);
  if (plan.shell) field("shell", files.passwd);
  if (plan.home) field("home", files.passwd);
  if (plan.comment !== undefined) field("comment", files.passwd);
  if (plan.password) field("password", files.shadow);
  return [...new Set(out)];
}

/** Pure: what to do, and a summary naming only what differs (never the password itself). */
export function diffUser(p: Params, current: UserState): UserChange | null {
  if (p.state === "absent") {
    if (!current.exists) return null;
    return { summary: `remove user ${p.name}${p.remove ? " and its home" : ""}`, plan: { action: "remove" } };
  }
  if (!current.exists) return { summary: `create${describeCreate(p)}`, plan: { action: "create" } };
  const m: UserModification = { append: p.append, password: p.password !== undefined && current.password === "mismatch" };
  const parts: string[] = [];
  if (p.uid !== undefined && p.uid !== current.uid) {
    m.uid = p.uid;
    parts.push(`uid ${current.uid} → ${p.uid}`);
  }
  if (p.group !== undefined && p.group !== current.group) {
    m.group = p.group;
    parts.push(`group ${current.group} → ${p.group}`);
  }
  if (p.groups) {
    const primary = p.group ?? current.group;
    const wanted = unique(p.groups.filter((g) => g !== primary));
    const have = current.groups.filter((g) => g !== primary);
    const missing = wanted.filter((g) => !have.includes(g));
    const extra = p.append ? [] : have.filter((g) => !wanted.includes(g));
    if (missing.length || extra.length) {
      m.groups = p.append ? missing : wanted;
      parts.push(
        [...(missing.length ? [`add to ${missing.join(",")}`] : []), ...(extra.length ? [`remove from ${extra.join(",")}`] : [])].join(
          ", ",
        ),
      );
    }
  }
  if (p.shell !== undefined && p.shell !== current.shell) {
    m.shell = p.shell;
    parts.push(`shell ${current.shell} → ${p.shell}`);
  }
  if (p.home !== undefined && p.home !== current.home) {
    m.home = p.home;
    parts.push(`home ${current.home} → ${p.home}`);
  }
  if (p.comment !== undefined && p.comment !== current.comment) {
    m.comment = p.comment;
    parts.push(`comment ${JSON.stringify(current.comment)} → ${JSON.stringify(p.comment)}`);
  }
  if (m.password) parts.push("password hash differs");
  return parts.length ? { summary: parts.join(", "), plan: { action: "modify", ...m } } : null;
}

/** The one command that carries out the plan (useradd/usermod/userdel, then chpasswd -e on stdin). */
export function userCommand(p: Params, plan: UserPlan): ShellCommand {
  if (plan.action === "remove") return sh`userdel ${p.remove ? raw("-r ") : raw("")}-- ${p.name}`;
  const commands: ShellCommand[] = [];
  const setPassword = p.password !== undefined && (plan.action === "create" || plan.password);
  if (plan.action === "create") {
    const options = [
      ...(p.uid !== undefined ? ["-u", String(p.uid)] : []),
      ...(p.group ? ["-g", p.group] : []),
      ...(p.groups?.length ? ["-G", unique(p.groups).join(",")] : []),
      ...(p.shell ? ["-s", p.shell] : []),
      ...(p.home ? ["-d", p.home] : []),
      ...(p.comment !== undefined ? ["-c", p.comment] : []),
      ...(p.system ? ["-r"] : []),
      p.createHome ? "-m" : "-M",
    ];
    commands.push(sh`useradd ${options} -- ${p.name}`);
  } else {
    const options = [
      ...(plan.uid !== undefined ? ["-u", String(plan.uid)] : []),
      ...(plan.group ? ["-g", plan.group] : []),
      ...(plan.groups ? [...(plan.append ? ["-a"] : []), "-G", plan.groups.join(",")] : []),
      ...(plan.shell ? ["-s", plan.shell] : []),
      ...(plan.home ? ["-d", plan.home] : []),
      ...(plan.comment !== undefined ? ["-c", plan.comment] : []),
    ];
    if (options.length) commands.push(sh`usermod ${options} -- ${p.name}`);
  }
  if (setPassword && p.password) {
    // A new Secret so "name:hash" is masked as a whole too; chpasswd -e stores the hash as given.
    commands.push(sh`${secretStdin(secret(`${p.name}:${p.password.reveal()}`))} chpasswd -e`);
  }
  return joinCommands(commands, " && ");
}

function describeCreate(p: Params): string {
  const parts = [
    ...(p.uid !== undefined ? [`uid ${p.uid}`] : []),
    ...(p.group ? [`group ${p.group}`] : []),
    ...(p.groups?.length ? [`groups ${unique(p.groups).join(",")}`] : []),
    ...(p.shell ? [`shell ${p.shell}`] : []),
    ...(p.home ? [`home ${p.home}`] : []),
    ...(p.system ? ["system"] : []),
    ...(p.password ? ["password hash"] : []),
  ];
  return parts.length ? ` (${parts.join(", ")})` : "";
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}

/** `key=value` lines → map (the first "=" splits; a repeated key: the first wins). */
export function keyValues(text: string): Map<string, string> {
  return readKeyValues(text, { keep: "first" });
}
