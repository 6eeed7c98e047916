/**
 * nftablesPersist: the file the nftables service loads at boot (Debian: /etc/nftables.conf, what
 * `nftables.service` runs `nft -f` on) holds the live ruleset, so it survives a reboot — the
 * counterpart of iptablesPersist. The file is written whole:
 *
 *   #!/usr/sbin/nft -f
 *   flush ruleset
 *   <nft -s list ruleset>
 *
 * `-s` (stateless) leaves out counters, which change on every packet. The whole live ruleset is
 * saved (on Debian 12 that includes iptables-nft's tables: they are live rules too), checked with
 * `nft -c -f` on the temp file before it replaces the real one, written atomically. Compared
 * modulo blank and comment lines. This step does not enable the nftables service: that is a
 * `service` step, the user's choice (enabling it at boot applies the file, `flush ruleset` first).
 *
 * With `table: { family, name }` only that table is saved, and the file replaces only it at boot
 * (`table … {}` + `delete table …` + the table, no `flush ruleset`): rules other tools own —
 * iptables-nft's tables restored by netfilter-persistent, fail2ban's — are neither saved here nor
 * wiped when the file is loaded, and their changes are no drift of this file.
 */
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import { needTool, section, sections } from "../shell/read-output.ts";
import { sh } from "../shell/sh.ts";
import { fileWrite, parseFileState, readFileCommand, runFileWrite } from "../transport/remote-file.ts";
import { filePath, parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const nftablesPersistParams = z.strictObject({
  path: filePath.default("/etc/nftables.conf"),
  /** Save (and replace at boot) this one table only, not the whole ruleset. */
  table: z
    .strictObject({
      family: z.enum(["inet", "ip", "ip6", "arp", "bridge", "netdev"]),
      name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, "must be an nftables name (letters, digits, _ . -)"),
    })
    .optional(),
  notify: z.array(z.string()).optional(),
});

export type NftablesPersistParams = z.input<typeof nftablesPersistParams>;

export interface NftablesPersistState {
  /** `nft -s list ruleset`, as printed. */
  live: string;
  /** The file's content, or null when it does not exist. */
  saved: string | null;
}

export interface NftablesPersistChange extends Change {
  /** The file's new text: the header and the live ruleset as read. */
  plan: { text: string };
}

export const NFTABLES_HEADER = "#!/usr/sbin/nft -f\nflush ruleset\n\n";

/** The header of a one-table file: create the table if missing, then delete it, then define it (one transaction). */
export function nftablesTableHeader(family: string, name: string): string {
  return `#!/usr/sbin/nft -f\ntable ${family} ${name}\ndelete table ${family} ${name}\n\n`;
}

export function nftablesPersist(input: NftablesPersistParams = {}): Step<NftablesPersistState> {
  const p = parseStepParams("nftablesPersist", nftablesPersistParams, input);
  const header = p.table ? nftablesTableHeader(p.table.family, p.table.name) : NFTABLES_HEADER;
  // A missing table lists as nothing (the file then only deletes it): exit 0 with empty output.
  // nft missing: needTool's exit 127, which the runner words (requiresTools); nft failing: exit 3.
  const list = p.table
    ? sh`${needTool("nft")}
if nft list table ${p.table.family} ${p.table.name} >/dev/null 2>&1; then nft -s list table ${p.table.family} ${p.table.name} || exit 3; fi`
    : sh`${needTool("nft")}
nft -s list ruleset || exit 3`;
  return {
    kind: "nftables-persist",
    name: p.table ? `nft list table ${p.table.family} ${p.table.name} → ${p.path}` : `nft list ruleset → ${p.path}`,
    notify: p.notify,
    provides: [pathResource(p.path)],
    // What is saved is the live ruleset: unknown in --check while an earlier rule change is pending.
    // Trees (`nftables:*`): a bare "nftables" overlapped no rule's `nftables:inet:filter:input`, so a
    // pending rule left this step claiming an update that apply would not make. One table: only its
    // chains; the whole ruleset: every nft chain and every iptables-nft one.
    requires: p.table
      ? [`nftables:${p.table.family}:${p.table.name}:*`, pathResource(p.path)]
      : ["nftables:*", "iptables:*", pathResource(p.path)],
    read: () => ({
      command: sh`${list}
${section("file")}; ${readFileCommand(p.path)}`,
      requiresTools: ["nft"],
      parse(result) {
        if (result.exitCode !== 0)
          throw new ReadFailedError(`nft list ruleset failed: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
        const parts = sections(result.stdout.toString("utf8"), ["file"]);
        const live = parts.get("");
        const saved = parts.get("file");
        if (!live || !saved) throw new ReadFailedError("unexpected output from nft list ruleset");
        const file = parseFileState({ exitCode: 0, stdout: Buffer.from(saved.body), stderr: Buffer.alloc(0) }, p.path);
        return { live: live.body, saved: file.exists ? (file.content?.toString("utf8") ?? "") : null };
      },
    }),
    diff(current): NftablesPersistChange | null {
      const after = header + current.live;
      if (current.saved !== null && normalizeNft(current.saved) === normalizeNft(after)) return null;
      return {
        summary: current.saved === null ? `create ${p.path}` : `update ${p.path}`,
        diff: { label: p.path, before: current.saved ?? "", after },
        // What was read is what is saved: the runner reads again after any earlier apply.
        plan: { text: after },
      };
    },
    async apply({ session }, _current, change: NftablesPersistChange) {
      await runFileWrite(session, fileWrite(p.path, change.plan.text, { mode: "0755", validate: "nft -c -f %s" }));
    },
  };
}

/** Without blank and comment lines (a saved file may carry its own), each line trimmed. */
export function normalizeNft(text: string): string {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .join("\n");
}
