/**
 * debconf: one preseeded debconf answer (Ansible's `debconf` module): the question exists with
 * this type (vtype) and exactly this value, and the package (`name`) is among its owners.
 *
 * Read: a few lines of Perl on Debconf's own modules, opened read-only (`Debconf::Db->load(readonly
 * => 'true')`, exactly as `debconf-show` opens it), printing the question's type, owners and value
 * (hex: byte-exact). Why not the usual tools: `debconf-get-selections` is in debconf-utils, which a
 * bare Debian 12 does not have (measured on the test hosts: `dpkg -l debconf-utils` → `un`);
 * `debconf-show` is in debconf itself but prints no type and omits passwords, so the diff could
 * not be exact. debconf and perl-base are both Essential/required on every Debian: the read needs
 * nothing installed, takes no lock and changes nothing.
 *
 * A `password` value is a Secret and is compared ON THE HOST: the read pipes it (`secretStdin`,
 * inside a script that itself travels on stdin) into the Perl, which prints only
 * `password=match|mismatch`; the summary says "password differs", never a value. Apply feeds the
 * selection line to `debconf-set-selections` on stdin (a Secret for a password), never in argv.
 *
 * Not managed: the `seen` flag (debconf-set-selections marks the question seen, as Ansible does
 * unless `unseen`). A value is one line (debconf-set-selections reads lines): a newline is refused.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { secretStdin, sh, type ShellCommand } from "../shell/sh.ts";
import { isSecret, Secret } from "../shell/secret.ts";
import type { ExecResult } from "../transport/transport.ts";
import { parseStepParams } from "./params.ts";

const VTYPES = ["boolean", "error", "multiselect", "note", "password", "select", "string", "text", "title"] as const;

const word = (what: string) =>
  z
    .string()
    .min(1)
    .regex(/^[^\s\0-][^\s\0]*$/, `must be a ${what} (no white space, not starting with '-')`);

const oneLine = z.string().refine((s) => !/[\n\r\0]/.test(s), "must be one line (debconf-set-selections reads lines)");

const debconfParams = z
  .strictObject({
    /** The package owning the question (debconf-set-selections' first field). */
    name: word("package name"),
    question: word("debconf question (e.g. tzdata/Areas)"),
    vtype: z.enum(VTYPES),
    value: z.union([oneLine, z.boolean(), z.custom<Secret>(isSecret, "must be a secret (secret(…) or secretVar())")]),
    notify: z.array(z.string()).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.vtype === "password" && !isSecret(p.value))
      ctx.addIssue({ code: "custom", path: ["value"], message: "a password must be a secret (secret(…) or secretVar())" });
    if (p.vtype !== "password" && isSecret(p.value))
      ctx.addIssue({ code: "custom", path: ["value"], message: "only a password value may be a secret" });
    if (p.vtype === "boolean" && typeof p.value === "string" && p.value !== "true" && p.value !== "false")
      ctx.addIssue({ code: "custom", path: ["value"], message: 'a boolean must be true or false ("true"/"false")' });
    if (isSecret(p.value) && /[\n\r\0]/.test(p.value.reveal()))
      ctx.addIssue({ code: "custom", path: ["value"], message: "must be one line (debconf-set-selections reads lines)" });
  });

export type DebconfParams = z.input<typeof debconfParams>;

export interface DebconfState {
  exists: boolean;
  type?: string;
  owners?: string[];
  /** The value; undefined for a password (never read back). */
  value?: string;
  /** A password compared on the host with the wanted one. */
  password?: "match" | "mismatch";
}

export interface DebconfChange extends Change {
  plan: { set: true };
}

/** Read-only, as debconf-show; the value in hex; a password only compared with stdin. */
export const READ_SCRIPT = [
  "use strict; use warnings; use Debconf::Db; use Debconf::Question;",
  "Debconf::Db->load(readonly => 'true');",
  "my $q = Debconf::Question->get($ARGV[0]);",
  'unless ($q) { print "exists=0\\n"; exit 0 }',
  "my $t = $q->type; $t = '' unless defined $t;",
  "my $o = $q->owners; $o = '' unless defined $o; print \"exists=1\\ntype=$t\\nowners=$o\\n\";",
  "my $v = $q->value; $v = '' unless defined $v; utf8::encode($v) if utf8::is_utf8($v);",
  "if ($t eq 'password') { my $w = ''; if (@ARGV > 1) { local $/; $w = <STDIN>; $w = '' unless defined $w }",
  '  print "password=", ($w eq $v ? "match" : "mismatch"), "\\n" }',
  "else { print 'value=', unpack('H*', $v), \"\\n\" }",
].join("\n");

export function debconf(input: DebconfParams): Step<DebconfState> {
  const p = parseStepParams("debconf", debconfParams, input);
  const value = typeof p.value === "boolean" ? String(p.value) : p.value;
  const resource = `debconf:${p.question}`;
  return {
    kind: "debconf",
    name: `debconf ${p.question}`,
    notify: p.notify,
    provides: [resource],
    requires: [resource],
    read: () => ({ command: readCommand(p.question, value), parse: parseDebconfState }),
    diff(current): DebconfChange | null {
      const why: string[] = [];
      if (!current.exists) why.push("not set");
      else {
        if (current.type !== p.vtype) why.push(`type ${current.type || "(none)"} → ${p.vtype}`);
        if (isSecret(value)) {
          if (current.password !== "match") why.push("password differs");
        } else if (current.value !== value) why.push(`value ${JSON.stringify(current.value ?? "")} → ${JSON.stringify(value)}`);
        if (!(current.owners ?? []).includes(p.name)) why.push(`owner ${p.name} added`);
      }
      if (why.length === 0) return null;
      const shown = isSecret(value) ? "(secret)" : JSON.stringify(value);
      const summary = current.exists ? why.join(", ") : `set ${p.vtype} ${shown} (owner ${p.name})`;
      return { summary, plan: { set: true } };
    },
    async apply({ session }) {
      const head = `${p.name} ${p.question} ${p.vtype} `;
      const stdin = isSecret(value) ? new Secret(`${head}${value.reveal()}\n`) : `${head}${value}\n`;
      await session.runOrThrow(sh`debconf-set-selections`, { stdin });
    },
  };
}

function readCommand(question: string, value: string | Secret): ShellCommand {
  if (isSecret(value)) return sh`${secretStdin(value)} perl -e ${READ_SCRIPT} -- ${question} compare`;
  return sh`perl -e ${READ_SCRIPT} -- ${question} </dev/null`;
}

export function parseDebconfState(result: ExecResult): DebconfState {
  const text = result.stdout.toString("utf8");
  if (result.exitCode !== 0 || !/^exists=[01]$/m.test(text)) {
    throw new ReadFailedError(`cannot read debconf: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
  }
  const field = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(text)?.[1];
  if (field("exists") === "0") return { exists: false };
  const state: DebconfState = {
    exists: true,
    type: field("type") ?? "",
    owners: (field("owners") ?? "").split(/,\s*/).filter((o) => o !== ""),
  };
  const password = field("password");
  if (password === "match" || password === "mismatch") state.password = password;
  const hex = field("value");
  if (hex !== undefined) {
    if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new ReadFailedError("cannot read debconf: a value that is not hex");
    state.value = Buffer.from(hex, "hex").toString("utf8");
  }
  return state;
}
