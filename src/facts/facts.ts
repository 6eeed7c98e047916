/**
 * Host facts, gathered in one round trip before the steps are built: the OS family and version,
 * the package and service managers, and the distro paths steps need. Steps receive them through
 * the playbook context, so a playbook says "install postfix" and the facts say how.
 */
import { scriptHeader } from "../shell/script-header.ts";
import { keyValueLists } from "../shell/read-output.ts";
import { sh } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";

export type OsFamily = "debian" | "rhel" | "unknown";
export type PackageManager = "apt" | "dnf" | "yum" | "unknown";
export type ServiceManager = "systemd" | "sysv" | "unknown";

export interface Facts {
  hostname: string;
  osFamily: OsFamily;
  /** `ID` from /etc/os-release: debian, ubuntu, centos, rhel, rocky, almalinux, fedora… */
  distro: string;
  /** `VERSION_ID` from /etc/os-release ("12", "7", "22.04"). */
  version: string;
  packageManager: PackageManager;
  serviceManager: ServiceManager;
  /** uid of the user commands run as (after sudo, when configured). */
  uid: number;
  /** Machine architecture (`uname -m`). */
  arch: string;
  paths: DistroPaths;
}

export interface DistroPaths {
  /** Where Postfix's smtpd reads its Cyrus SASL config (smtpd.conf). */
  saslConfigDir: string;
  /** Where iptables rules persist (IPv4 / IPv6). */
  iptablesSaveFile: string;
  ip6tablesSaveFile: string;
  /** Postfix's chroot, where smtpd (chrooted on Debian) looks for /etc/sasldb2. */
  postfixChroot: string | null;
}

/**
 * One script, one round trip. Every probe is a shell builtin or a single cheap command. Its first
 * line is the runner-script header `# provision-facts v1 {}` (src/shell/script-header.ts): the mock
 * host and `-vv` readers know it by that, not by its text.
 */
export const factsCommand = sh`${scriptHeader("facts", {})}
echo "hostname=$(uname -n)"
echo "arch=$(uname -m)"
echo "uid=$(id -u)"
if [ -r /etc/os-release ]; then . /etc/os-release; echo "id=$ID"; echo "id_like=$ID_LIKE"; echo "version=$VERSION_ID"; fi
for tool in apt-get dnf yum systemctl service; do if command -v "$tool" >/dev/null 2>&1; then echo "has=$tool"; fi; done
if [ -d /run/systemd/system ]; then echo "systemd_running=1"; fi
for dir in /etc/postfix/sasl /etc/sasl2 /usr/lib64/sasl2 /usr/lib/sasl2; do if [ -d "$dir" ]; then echo "dir=$dir"; fi; done`;

export function parseFacts(result: ExecResult): Facts {
  if (result.exitCode !== 0) {
    throw new Error(`gathering facts failed (exit ${result.exitCode}): ${result.stderr.toString("utf8").trim()}`);
  }
  const values = keyValueLists(result.stdout.toString("utf8"));
  const one = (key: string): string => values.get(key)?.[0] ?? "";
  const has = new Set(values.get("has") ?? []);
  const dirs = new Set(values.get("dir") ?? []);
  const distro = one("id");
  const like = `${distro} ${one("id_like")}`;
  const osFamily: OsFamily = /debian|ubuntu/.test(like)
    ? "debian"
    : /rhel|centos|fedora|rocky|almalinux|ol\b/.test(like)
      ? "rhel"
      : "unknown";
  const packageManager: PackageManager = has.has("apt-get") ? "apt" : has.has("dnf") ? "dnf" : has.has("yum") ? "yum" : "unknown";
  const serviceManager: ServiceManager =
    values.has("systemd_running") && has.has("systemctl") ? "systemd" : has.has("service") ? "sysv" : "unknown";
  const arch = one("arch");
  return {
    hostname: one("hostname"),
    osFamily,
    distro,
    version: one("version"),
    packageManager,
    serviceManager,
    uid: Number(one("uid") || "-1"),
    arch,
    paths: distroPaths(osFamily, dirs, arch),
  };
}

function distroPaths(family: OsFamily, dirs: Set<string>, arch: string): DistroPaths {
  if (family === "debian") {
    return {
      saslConfigDir: "/etc/postfix/sasl",
      iptablesSaveFile: "/etc/iptables/rules.v4",
      ip6tablesSaveFile: "/etc/iptables/rules.v6",
      postfixChroot: "/var/spool/postfix",
    };
  }
  // RHEL family: /etc/sasl2 on current releases; old CentOS read /usr/lib64/sasl2 (or /usr/lib/sasl2
  // on 32-bit). Prefer /etc/sasl2 when it exists, as cyrus-sasl ≥ 2.1.23 on EL6+ does.
  const legacy = arch === "x86_64" || arch === "aarch64" ? "/usr/lib64/sasl2" : "/usr/lib/sasl2";
  return {
    saslConfigDir: dirs.has("/etc/sasl2") || !dirs.has(legacy) ? "/etc/sasl2" : legacy,
    iptablesSaveFile: "/etc/sysconfig/iptables",
    ip6tablesSaveFile: "/etc/sysconfig/ip6tables",
    postfixChroot: null,
  };
}
