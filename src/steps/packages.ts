/**
 * packages: a list of packages installed, absent, or at the candidate version ("latest"), with
 * apt, dnf or yum as the facts say: `packages(ctx.facts, { names, state })`. Taking the facts
 * (not probing in the read) keeps the read one small query and the commands testable.
 *
 * One read for the whole list: `dpkg-query -W` (exit 1 when some name is unknown: parsed anyway)
 * or `rpm -q`. "latest" also needs the candidate version, a read-only query: `apt-cache policy`,
 * `dnf|yum -q check-update` (exit 100 = updates listed).
 *
 * apt cache: refreshed before installing when the lists are empty, when `updateCache` is set, or
 * when an install fails with "Unable to locate package" (then retried once). With
 * `cacheMaxAgeSeconds`, a cache older than that is itself a change ("refresh apt cache") — that
 * is what keeps it idempotent: the refresh touches the stamp apt's periodic job uses. `updateCache`
 * alone never counts as a change (it would make every run "changed"). On dnf/yum, metadata expiry
 * is the package manager's own (metadata_expire); `updateCache` adds `--refresh` (dnf) or runs
 * `yum clean expire-cache` first, and `cacheMaxAgeSeconds` is ignored.
 */
import { SECTION_PREFIX as SECTION } from "../shell/read-output.ts";
import { z } from "zod";
import { ReadFailedError, type Change, type Step } from "../playbook/step.ts";
import type { Facts } from "../facts/facts.ts";
import { joinCommands, raw, sh, type ShellCommand } from "../shell/sh.ts";
import type { HostSession } from "../transport/host-session.ts";
import { parseStepParams } from "./params.ts";
import { EVERYTHING, pathTree } from "../playbook/resources.ts";

const PACKAGE_SOURCES = ["/etc/apt", "/var/lib/dpkg", "/var/lib/apt", "/etc/yum.repos.d", "/etc/dnf", "/etc/yum.conf", "/var/lib/rpm"];

const packageName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.+_:~-]*$/, "must be a package name");

const packagesParams = z.strictObject({
  names: z.array(packageName).min(1),
  state: z.enum(["installed", "absent", "latest"]).default("installed"),
  updateCache: z.boolean().optional(),
  cacheMaxAgeSeconds: z.number().int().positive().optional(),
  notify: z.array(z.string()).optional(),
});

export type PackagesParams = z.input<typeof packagesParams>;

export interface PackagesState {
  /** Installed version per package name (absent: not installed). */
  installed: Map<string, string>;
  /** Candidate version per name ("latest" only; absent: unknown or nothing newer — see `upgradable`). */
  candidate: Map<string, string>;
  /** rpm: names `check-update` lists (an update is available). */
  upgradable: Set<string>;
  /** apt: seconds since the cache was last refreshed (null: never / unknown); only with cacheMaxAgeSeconds. */
  cacheAge: number | null;
  /** apt: no package lists at all (a fresh image): installing needs `apt-get update` first. */
  cacheEmpty: boolean;
}

/**
 * What diff decided. apt: refresh the lists first (stale, asked for, or none at all for an install),
 * then install (new and upgrades alike) and remove; dnf/yum: refresh the metadata, install the new
 * ones, upgrade the installed ones ("latest"), remove.
 */
export type PackagesPlan =
  | { manager: "apt"; update: boolean; install: string[]; remove: string[] }
  | { manager: "dnf" | "yum"; refresh: boolean; install: string[]; upgrade: string[]; remove: string[] };

export interface PackagesChange extends Change {
  plan: PackagesPlan;
}

const APT_STAMP = "/var/lib/apt/periodic/update-success-stamp";
const APT_ENV = raw("DEBIAN_FRONTEND=noninteractive");
const APT_OPTS = raw("-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold");

// Long: a step factory: read, diff and apply share the parsed parameters and the package manager in one closure.
export function packages(facts: Pick<Facts, "packageManager">, input: PackagesParams): Step<PackagesState> {
  const p = parseStepParams("packages", packagesParams, input);
  const pm = facts.packageManager;
  const base = (name: string) => name.replace(/:[^:]*$/, ""); // apt's "name:arch" → name
  return {
    kind: "packages",
    name: `packages ${p.state} ${p.names.join(" ")}`,
    notify: p.notify,
    // An install runs maintainer scripts: anything may change. What is installable comes from the
    // package state and the sources (an earlier step may add a repository).
    provides: [EVERYTHING],
    requires: ["packages", ...PACKAGE_SOURCES.map(pathTree)],
    read() {
      if (pm === "unknown") throw new ReadFailedError("no package manager found on the host (apt-get, dnf or yum)");
      return pm === "apt"
        ? { command: aptRead(p.names, p.state === "latest", p.cacheMaxAgeSeconds !== undefined), parse: parseAptRead }
        : { command: rpmRead(pm, p.names, p.state === "latest"), parse: parseRpmRead };
    },
    diff(current): PackagesChange | null {
      const { install, remove } = wanted(current);
      const parts: string[] = [];
      if (cacheStale(current))
        parts.push(`refresh apt cache (${current.cacheAge === null ? "never refreshed" : `${current.cacheAge}s old`})`);
      const fresh = install.filter((n) => !current.installed.has(base(n)));
      const upgrade = install.filter((n) => current.installed.has(base(n)));
      if (fresh.length) parts.push(`install ${fresh.join(" ")}`);
      if (upgrade.length) {
        parts.push(
          `upgrade ${upgrade.map((n) => `${n} ${current.installed.get(base(n))} → ${current.candidate.get(base(n)) ?? "newer"}`).join(", ")}`,
        );
      }
      if (remove.length) parts.push(`remove ${remove.join(" ")}`);
      return parts.length ? { summary: parts.join("; "), plan: planFor(current, install, remove) } : null;
    },
    async apply({ session }, _current, change: PackagesChange) {
      const { plan } = change;
      if (plan.manager === "apt") await aptApply(session, plan);
      else await rpmApply(session, plan);
    },
  };

  function planFor(s: PackagesState, install: string[], remove: string[]): PackagesPlan {
    if (pm === "apt") {
      return { manager: "apt", update: p.updateCache === true || cacheStale(s) || (install.length > 0 && s.cacheEmpty), install, remove };
    }
    if (pm === "unknown") throw new ReadFailedError("no package manager found on the host (apt-get, dnf or yum)");
    const fresh = install.filter((n) => !s.installed.has(n));
    const upgrade = install.filter((n) => s.installed.has(n));
    return { manager: pm, refresh: p.updateCache === true, install: fresh, upgrade, remove };
  }

  function cacheStale(s: PackagesState): boolean {
    return pm === "apt" && p.cacheMaxAgeSeconds !== undefined && (s.cacheAge === null || s.cacheAge > p.cacheMaxAgeSeconds);
  }

  /** The names to install (or upgrade) and to remove. */
  function wanted(s: PackagesState): { install: string[]; remove: string[] } {
    if (p.state === "absent") return { install: [], remove: p.names.filter((n) => s.installed.has(base(n))) };
    const install = p.names.filter((n) => {
      const have = s.installed.get(base(n));
      if (have === undefined) return true;
      if (p.state !== "latest") return false;
      if (pm === "apt") {
        const candidate = s.candidate.get(base(n));
        return candidate !== undefined && candidate !== have;
      }
      return s.upgradable.has(base(n));
    });
    return { install, remove: [] };
  }
}

function aptRead(names: string[], latest: boolean, cacheAge: boolean): ShellCommand {
  return joinCommands(
    [
      // ${Status} is "want ok state": installed only when the last word is "installed".
      sh`dpkg-query -W -f='${raw("${Package}\\t${Status}\\t${Version}\\n")}' -- ${names} 2>/dev/null; echo "${SECTION}rc $?"`,
      sh`set -- /var/lib/apt/lists/*_Packages*; if [ -e "$1" ]; then echo ${SECTION}lists; fi`,
      latest ? sh`echo ${SECTION}policy; LC_ALL=C apt-cache policy -- ${names} 2>/dev/null` : sh`:`,
      cacheAge
        ? sh`echo ${SECTION}age; now=$(date +%s); t=$(stat -c %Y ${APT_STAMP} /var/lib/apt/lists 2>/dev/null | sort -n | tail -n 1); echo "$now \${t:-none}"`
        : sh`:`,
    ],
    "\n",
  );
}

export function parseAptRead(result: { stdout: Buffer }): PackagesState {
  const text = result.stdout.toString("utf8");
  const rc = /@provision:rc (\d+)/.exec(text)?.[1];
  // dpkg-query: 0 all found, 1 some name unknown (still parsed), anything else: broken.
  if (rc === undefined || Number(rc) > 1) throw new ReadFailedError(`dpkg-query failed (exit ${rc ?? "?"})`);
  const state: PackagesState = {
    installed: new Map(),
    candidate: new Map(),
    upgradable: new Set(),
    cacheAge: null,
    cacheEmpty: !text.includes(`${SECTION}lists\n`),
  };
  let section = "";
  let policyName = "";
  for (const line of text.split("\n")) {
    if (line.startsWith(SECTION)) {
      section = line.slice(SECTION.length).split(" ")[0] ?? "";
      continue;
    }
    if (section === "") {
      const [name, status, version] = line.split("\t");
      if (name && version && status?.split(" ").at(-1) === "installed") state.installed.set(name, version);
    } else if (section === "policy") {
      const header = /^(\S+):$/.exec(line);
      if (header?.[1]) policyName = header[1].replace(/:[^:]*$/, "");
      const candidate = /^\s+Candidate: (\S+)/.exec(line)?.[1];
      if (candidate && candidate !== "(none)" && policyName) state.candidate.set(policyName, candidate);
    } else if (section === "age") {
      const [now, then] = line.split(" ");
      if (now && then && then !== "none") state.cacheAge = Math.max(0, Number(now) - Number(then));
    }
  }
  return state;
}

async function aptApply(session: HostSession, plan: Extract<PackagesPlan, { manager: "apt" }>): Promise<void> {
  const { install, remove } = plan;
  const update = sh`apt-get -q update && mkdir -p /var/lib/apt/periodic && touch ${APT_STAMP}`;
  const updated = plan.update;
  if (updated) await session.runOrThrow(update);
  if (install.length) {
    const command = sh`${APT_ENV} apt-get ${APT_OPTS} install -- ${install}`;
    const first = await session.run(command);
    if (first.exitCode !== 0) {
      // A stale cache names packages it no longer has: refresh once and retry.
      const stale = /Unable to locate package|has no installation candidate|Failed to fetch|404\s+Not Found/.test(
        first.stderr.toString("utf8"),
      );
      if (updated || !stale)
        await session.runOrThrow(command); // throws with the real error
      else {
        await session.runOrThrow(update);
        await session.runOrThrow(command);
      }
    }
  }
  if (remove.length) await session.runOrThrow(sh`${APT_ENV} apt-get ${APT_OPTS} remove -- ${remove}`);
}

function rpmRead(pm: "dnf" | "yum", names: string[], latest: boolean): ShellCommand {
  // rpm -q prints "package X is not installed" (on stdout) and exits with the number missing.
  return joinCommands(
    [
      sh`rpm -q --qf '${raw("%{NAME}\\t%{EPOCH}:%{VERSION}-%{RELEASE}.%{ARCH}\\n")}' -- ${names}; echo "${SECTION}rc $?"`,
      latest ? sh`echo ${SECTION}updates; ${pm} -q check-update -- ${names} 2>/dev/null; echo "${SECTION}cu $?"` : sh`:`,
    ],
    "\n",
  );
}

export function parseRpmRead(result: { stdout: Buffer }): PackagesState {
  const text = result.stdout.toString("utf8");
  if (!/@provision:rc \d+/.test(text)) throw new ReadFailedError("rpm -q failed");
  const cu = /@provision:cu (\d+)/.exec(text)?.[1];
  // check-update: 0 nothing to update, 100 updates listed, else an error (no repo reachable…).
  if (cu !== undefined && cu !== "0" && cu !== "100") throw new ReadFailedError(`check-update failed (exit ${cu})`);
  const state: PackagesState = { installed: new Map(), candidate: new Map(), upgradable: new Set(), cacheAge: null, cacheEmpty: false };
  let section = "";
  for (const line of text.split("\n")) {
    if (line.startsWith(SECTION)) {
      section = line.slice(SECTION.length).split(" ")[0] ?? "";
      continue;
    }
    if (section === "") {
      const [name, version] = line.split("\t");
      if (name && version) state.installed.set(name, version.replace(/^\(none\):/, ""));
    } else if (section === "updates") {
      // "name.arch   version   repo"; skip headers like "Obsoleting Packages".
      const m = /^(\S+)\.[^.\s]+\s+(\S+)\s+\S+$/.exec(line);
      if (m?.[1] && m[2]) {
        state.upgradable.add(m[1]);
        state.candidate.set(m[1], m[2]);
      }
    }
  }
  return state;
}

async function rpmApply(session: HostSession, plan: Extract<PackagesPlan, { manager: "dnf" | "yum" }>): Promise<void> {
  const { manager: pm, refresh, install, upgrade, remove } = plan;
  if (refresh && pm === "yum") await session.runOrThrow(sh`yum clean expire-cache`);
  const refreshFlag = refresh && pm === "dnf" ? raw(" --refresh") : raw("");
  if (install.length) await session.runOrThrow(sh`${pm} -y -q${refreshFlag} install -- ${install}`);
  // `install` of an installed package does nothing on yum: "latest" upgrades those explicitly.
  if (upgrade.length) await session.runOrThrow(sh`${pm} -y -q${refreshFlag} upgrade -- ${upgrade}`);
  if (remove.length) await session.runOrThrow(sh`${pm} -y -q remove -- ${remove}`);
}
