/**
 * sasldbUser: one Cyrus SASL user in a sasldb (Postfix SMTP AUTH with `auxprop_plugin: sasldb`),
 * present with exactly this password, or absent; the db's owner/group/mode; and, where smtpd is
 * chrooted (Debian), an identical copy inside the chroot.
 *
 * The password never leaves the controller except on stdin, and is never printed back. Drift is
 * detected ON THE HOST: the read carries the expected password through `secretStdin` (builtin
 * printf → pipe, inside a script that itself travels on stdin), encodes it (od → hex, or base64)
 * and compares it with the stored value with the builtin `[` — both only ever in shell variables
 * and pipes, never in argv — printing only `password=match|mismatch`.
 *   - Berkeley DB (Debian, CentOS 7): `db_dump` prints key and value in hex; the key is
 *     `user\0realm\0userPassword`, the value the cleartext password.
 *   - GDBM (Fedora ≥ 35, RHEL 9): `gdbm_dump` prints them in base64, wrapped.
 * When neither tool can read the db, the read fails and says what to install: never a guess. A
 * playbook that cannot install them may pass `passwordCheck: "on-create"` (the password is then
 * set when the user is created and never compared).
 *
 * Postfix in group `sasl` (needed to read the chroot copy on Debian) is the separate `groupMember` step.
 */
import { keyValues, needTool } from "../shell/read-output.ts";
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { joinCommands, raw, secretStdin, sh, type ShellCommand } from "../shell/sh.ts";
import { isSecret, type Secret } from "../shell/secret.ts";
import type { ExecResult } from "../transport/transport.ts";
import { metadataCommand, normalizeMode } from "./file.ts";
import { accountName, fileMode, parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const name = z
  .string()
  .regex(/^[^\s@:\0-][^\s@:\0]*$/, "must be a user or realm name (no spaces, '@' or ':')")
  // Longer names break sasldblistusers2's listing of the whole db (found with a 100 KiB name).
  .max(255, "must be a user or realm name of at most 255 characters");

const sasldbUserParams = z.strictObject({
  user: name,
  realm: name,
  // By brand, not instanceof: a playbook may hold a Secret made by another copy of the module.
  password: z
    .custom<Secret>(isSecret, "must be a secret (secret(…) or secretVar())")
    // saslpasswd2 -p drops a final line break (so the stored password would never match) and
    // refuses a lone one; a NUL cannot travel in a shell word.
    .refine((s) => !/[\0\r\n]/.test(s.reveal()), "must not contain a NUL byte or a line break")
    // saslpasswd2 silently stores a longer password cut short (found with 100 KiB): never matches.
    .refine((s) => Buffer.byteLength(s.reveal()) <= 255, "must be at most 255 bytes"),
  state: z.enum(["present", "absent"]).default("present"),
  dbPath: z.string().startsWith("/").default("/etc/sasldb2"),
  owner: accountName.optional(),
  group: accountName.optional(),
  mode: fileMode.optional(),
  /** Where smtpd (chrooted) finds the db: "/var/spool/postfix/etc/sasldb2" on Debian; null: none. */
  chrootCopy: z.string().startsWith("/").nullable().default(null),
  passwordCheck: z.enum(["verify", "on-create"]).default("verify"),
  notify: z.array(z.string()).optional(),
});

export type SasldbUserParams = z.input<typeof sasldbUserParams>;

interface Meta {
  owner: string;
  group: string;
  mode: string;
}

export interface SasldbUserState {
  /** The db's metadata, or null when the db does not exist. */
  db: Meta | null;
  user: boolean;
  /** "unchecked": the user is absent or passwordCheck is "on-create". */
  password: "match" | "mismatch" | "unchecked";
  /** The chroot copy: absent, differing bytes, or identical bytes with this metadata. */
  copy: "absent" | "differs" | Meta | null;
}

/**
 * What diff decided: set (add, or reset) the password, delete the user, chown/chmod the db to
 * what is given (after a change of its metadata, or on the db created by the set), refresh the chroot copy.
 */
export interface SasldbUserPlan {
  set: boolean;
  del: boolean;
  metadata: boolean;
  copy: boolean;
}

export interface SasldbUserChange extends Change {
  plan: SasldbUserPlan;
}

// Long: a step factory: read, diff and apply share the parsed parameters in one closure.
export function sasldbUser(input: SasldbUserParams): Step<SasldbUserState> {
  const p = parseStepParams("sasldbUser", sasldbUserParams, input);
  const who = `${p.user}@${p.realm}`;
  const mode = p.mode ? normalizeMode(p.mode) : undefined;
  const wanted = (db: Meta | null): Meta | null =>
    db ? { owner: p.owner ?? db.owner, group: p.group ?? db.group, mode: mode ?? db.mode } : null;

  function plan(s: SasldbUserState) {
    const set = p.state === "present" && (!s.user || s.password === "mismatch");
    const del = p.state === "absent" && s.user;
    const dbWillExist = s.db !== null || set;
    const meta: string[] = [];
    if (s.db && p.owner && s.db.owner !== p.owner) meta.push(`owner ${s.db.owner} → ${p.owner}`);
    if (s.db && p.group && s.db.group !== p.group) meta.push(`group ${s.db.group} → ${p.group}`);
    if (s.db && mode && s.db.mode !== mode) meta.push(`mode ${s.db.mode} → ${mode}`);
    if (!s.db && set) {
      if (p.owner) meta.push(`owner → ${p.owner}`);
      if (p.group) meta.push(`group → ${p.group}`);
      if (mode) meta.push(`mode → ${mode}`);
    }
    const want = wanted(s.db);
    const copyOk =
      typeof s.copy === "object" &&
      s.copy !== null &&
      want !== null &&
      s.copy.owner === want.owner &&
      s.copy.group === want.group &&
      s.copy.mode === want.mode;
    const copy = p.chrootCopy !== null && dbWillExist && (set || del || meta.length > 0 || !copyOk);
    return { set, del, meta, copy };
  }

  return {
    kind: "sasldb-user",
    name: `sasldb user ${who} (${p.dbPath})`,
    notify: p.notify,
    provides: [pathResource(p.dbPath), ...(p.chrootCopy ? [pathResource(p.chrootCopy)] : [])],
    requires: [pathResource(p.dbPath), ...(p.chrootCopy ? [pathResource(p.chrootCopy)] : [])],
    read: () => ({
      command: readCommand(p),
      parse: (result) => parseRead(result, p.passwordCheck, who, p.dbPath),
      requiresTools: ["sasldblistusers2"],
    }),
    diff(current): SasldbUserChange | null {
      const { set, del, meta, copy } = plan(current);
      const parts: string[] = [];
      // The password itself never appears here: only that it differs.
      if (set) parts.push(current.user ? `reset password of ${who} (stored password differs)` : `add ${who}`);
      if (del) parts.push(`remove ${who}`);
      parts.push(...meta);
      if (copy) parts.push(`sync chroot copy ${p.chrootCopy}`);
      return parts.length
        ? { summary: parts.join(", "), plan: { set, del, metadata: meta.length > 0 || (set && !current.db), copy } }
        : null;
    },
    async apply({ session }, _current, change: SasldbUserChange) {
      const { set, del, metadata, copy } = change.plan;
      const commands: ShellCommand[] = [];
      if (set) commands.push(sh`${secretStdin(p.password)} saslpasswd2 -p -c -u ${p.realm} -f ${p.dbPath} -- ${p.user}`);
      if (del) commands.push(sh`saslpasswd2 -d -u ${p.realm} -f ${p.dbPath} -- ${p.user}`);
      if (metadata) {
        const metaCommand = metadataCommand(p.dbPath, p.owner, p.group, mode);
        if (metaCommand.text) commands.push(metaCommand);
      }
      if (copy && p.chrootCopy) {
        const dir = p.chrootCopy.slice(0, p.chrootCopy.lastIndexOf("/")) || "/";
        const tmp = `${p.chrootCopy}.provision-tmp`;
        // cp -p keeps owner/group/mode; rename makes the swap atomic for a running smtpd.
        commands.push(sh`mkdir -p -- ${dir} && cp -p -- ${p.dbPath} ${tmp} && mv -f -- ${tmp} ${p.chrootCopy}`);
      }
      if (commands.length) await session.runOrThrow(joinCommands(commands, " && "));
    },
  };
}

function readCommand(p: z.output<typeof sasldbUserParams>): ShellCommand {
  const key = Buffer.from(`${p.user}\0${p.realm}\0userPassword`);
  const compare =
    p.passwordCheck === "verify"
      ? sh`pw=unverifiable
if command -v db_dump >/dev/null 2>&1 && db_dump "$db" >/dev/null 2>&1; then
  want=$(${secretStdin(p.password)} od -A n -t x1 -v | tr -d ' \\n')
  have=$(db_dump "$db" | awk -v k=${` ${key.toString("hex")}`} 'f { print substr($0, 2); exit } $0 == k { f = 1 }')
  if [ "$have" = "$want" ]; then pw=match; else pw=mismatch; fi
elif command -v gdbm_dump >/dev/null 2>&1 && gdbm_dump "$db" >/dev/null 2>&1; then
  want=$(${secretStdin(p.password)} base64 | tr -d '\\n')
  have=$(gdbm_dump "$db" | awk -v k=${key.toString("base64")} ${raw(GDBM_AWK)})
  if [ "$have" = "$want" ]; then pw=match; else pw=mismatch; fi
fi
echo "password=$pw"`
      : sh`:`;
  const copy = p.chrootCopy
    ? sh`c=${p.chrootCopy}
if [ ! -e "$c" ]; then echo copy=absent; elif cmp -s "$db" "$c"; then echo "copy=$(stat -c '%U %G %04a' -- "$c")"; else echo copy=differs; fi`
    : sh`:`;
  return sh`db=${p.dbPath}
${needTool("sasldblistusers2")}
if [ ! -e "$db" ]; then echo db=absent; exit 0; fi
echo "db=$(stat -c '%U %G %04a' -- "$db")"
${copy}
if sasldblistusers2 -f "$db" 2>/dev/null | grep -qxF -- ${`${p.user}@${p.realm}: userPassword`}; then echo user=present; else echo user=absent; exit 0; fi
${compare}`;
}

/**
 * gdbm_dump's ASCII format: header lines start with '#', each datum is base64 on one or more
 * lines, closed by the next '#' line; data alternate key, value. Print the value after key k.
 */
const GDBM_AWK = `'/^#/ { if (b != "") { if (f) { print b; exit } f = (n % 2 == 0 && b == k); n++ } b = ""; next } { b = b $0 }'`;

function parseRead(result: ExecResult, passwordCheck: string, who: string, dbPath: string): SasldbUserState {
  if (result.exitCode !== 0) {
    throw new ReadFailedError(`cannot read ${dbPath}: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  const v = keyValues(result.stdout.toString("utf8"));
  const meta = (text: string | undefined): Meta | null => {
    const [owner, group, mode] = (text ?? "").split(" ");
    return owner && group && mode ? { owner, group, mode } : null;
  };
  const dbText = v.get("db");
  if (dbText === "absent") return { db: null, user: false, password: "unchecked", copy: v.has("copy") ? "absent" : null };
  const db = meta(dbText);
  if (!db) throw new ReadFailedError(`cannot stat ${dbPath}`);
  const copyText = v.get("copy");
  const copy = copyText === undefined ? null : copyText === "absent" || copyText === "differs" ? copyText : meta(copyText);
  const user = v.get("user") === "present";
  let password: SasldbUserState["password"] = "unchecked";
  if (user && passwordCheck === "verify") {
    const pw = v.get("password");
    if (pw === "match" || pw === "mismatch") password = pw;
    else {
      throw new ReadFailedError(
        `cannot compare the password of ${who}: neither db_dump (Berkeley DB: db-util / libdb-utils) nor gdbm_dump (gdbm) can read ${dbPath}; ` +
          `install one, or use passwordCheck: "on-create"`,
      );
    }
  }
  return { db, user, password, copy };
}
