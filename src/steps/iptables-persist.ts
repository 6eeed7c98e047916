/**
 * iptablesPersist: the saved rules file equals the live rules, so they survive a reboot.
 * Debian: /etc/iptables/rules.v4 (rules.v6), what netfilter-persistent restores at boot; RHEL:
 * /etc/sysconfig/iptables (ip6tables), what the iptables service restores. Paths come from facts.
 *
 * Compared modulo what changes on every save without meaning anything: `#` comment lines (they
 * carry a timestamp) and packet/byte counters (`[12:3456]` → `[0:0]`). Apply on RHEL uses
 * `service iptables save` when the iptables service is installed (it honours the service's own
 * config), otherwise — and always on Debian — writes the `iptables-save` output atomically.
 */
import { section, sectionLine } from "../shell/read-output.ts";
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import type { Facts } from "../facts/facts.ts";
import { sh } from "../shell/sh.ts";
import { parseFileState, readFileCommand, writeRemoteFile } from "../transport/remote-file.ts";
import { parseStepParams } from "./params.ts";
import { pathResource } from "../playbook/resources.ts";

const iptablesPersistParams = z.strictObject({
  family: z.enum(["ipv4", "ipv6"]).default("ipv4"),
  /** Override the distro's path (from facts). */
  path: z.string().startsWith("/").optional(),
  notify: z.array(z.string()).optional(),
});

export type IptablesPersistParams = z.input<typeof iptablesPersistParams>;

export interface IptablesPersistState {
  /** `iptables-save` output, as printed. */
  live: string;
  /** The saved file's content, or null when it does not exist. */
  saved: string | null;
  /** RHEL: the iptables (ip6tables) service's init script is installed. */
  hasSaveService: boolean;
}

/** What diff decided: RHEL's `service iptables save`, or the live rules (as read) written to the file. */
export type IptablesPersistPlan = { action: "service-save" } | { action: "write"; text: string };

export interface IptablesPersistChange extends Change {
  plan: IptablesPersistPlan;
}

export function iptablesPersist(facts: Pick<Facts, "osFamily" | "paths">, input: IptablesPersistParams = {}): Step<IptablesPersistState> {
  const p = parseStepParams("iptablesPersist", iptablesPersistParams, input);
  const v6 = p.family === "ipv6";
  const path = p.path ?? (v6 ? facts.paths.ip6tablesSaveFile : facts.paths.iptablesSaveFile);
  const save = v6 ? "ip6tables-save" : "iptables-save";
  const service = v6 ? "ip6tables" : "iptables";
  // Only RHEL's service has a `save` action; `service iptables save` writes /etc/sysconfig/…
  const useService = facts.osFamily === "rhel" && p.path === undefined;
  return {
    kind: "iptables-persist",
    name: `${save} → ${path}`,
    notify: p.notify,
    provides: [pathResource(path)],
    // What is saved is the live ruleset: unknown in --check while an earlier rule change is pending.
    requires: [`iptables:${p.family}:*`, pathResource(path)],
    read: () => ({
      // `|| exit` keeps the tool's own exit: a missing iptables-save is the shell's 127, which the
      // runner words (requiresTools); `|| exit 3` made it "iptables-save failed: …: not found".
      command: sh`${save} || exit
${section("file")}; ${readFileCommand(path)}
printf '\\n%s\\n' ${sectionLine("service")}; if [ -x /usr/libexec/iptables/${service}.init ]; then echo yes; fi`,
      requiresTools: [save],
      parse(result) {
        if (result.exitCode !== 0) {
          throw new ReadFailedError(`${save} failed: ${result.stderr.toString("utf8").trim() || `exit ${result.exitCode}`}`);
        }
        const out = result.stdout.toString("utf8");
        // The file's content may hold anything: the service section is the last marker line.
        const fileAt = out.indexOf(`${sectionLine("file")}\n`);
        const serviceAt = out.lastIndexOf(`\n${sectionLine("service")}\n`);
        if (fileAt < 0 || serviceAt < 0) throw new ReadFailedError(`unexpected output from ${save}`);
        const fileOut = Buffer.from(out.slice(fileAt + `${sectionLine("file")}\n`.length, serviceAt));
        const file = parseFileState({ exitCode: 0, stdout: fileOut, stderr: Buffer.alloc(0) }, path);
        return {
          live: out.slice(0, fileAt),
          saved: file.exists ? (file.content?.toString("utf8") ?? "") : null,
          hasSaveService: out.slice(serviceAt).includes("\nyes"),
        };
      },
    }),
    diff(current): IptablesPersistChange | null {
      const before = current.saved === null ? "" : normalizeSave(current.saved);
      const after = normalizeSave(current.live);
      if (current.saved !== null && before === after) return null;
      return {
        summary: current.saved === null ? `create ${path}` : `update ${path}`,
        diff: { label: path, before, after },
        // What was read is what is saved: the runner reads again after any earlier apply.
        plan: useService && current.hasSaveService ? { action: "service-save" } : { action: "write", text: current.live },
      };
    },
    async apply({ session }, _current, change: IptablesPersistChange) {
      if (change.plan.action === "service-save") {
        await session.runOrThrow(sh`service ${service} save`);
        return;
      }
      const dir = path.slice(0, path.lastIndexOf("/")) || "/";
      await session.runOrThrow(sh`mkdir -p -- ${dir}`);
      await writeRemoteFile(session, path, change.plan.text);
    },
  };
}

/** Drop comments and blank lines, zero the counters: what remains is the ruleset itself. */
export function normalizeSave(text: string): string {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => line.replace(/^(:\S+ \S+ )\[\d+:\d+\]$/, "$1[0:0]").replace(/^\[\d+:\d+\] /, ""))
    .join("\n")
    .concat("\n");
}
