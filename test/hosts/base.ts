/**
 * The base root filesystem every host overlays: Debian 12 minbase + the packages a mail host
 * needs, built once and cached outside the repo. Built into a temp dir and renamed into place, so
 * a killed build never leaves a half base; rebuilt when BASE_VERSION (or the package list) changes.
 */
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { BASE_DIR, CACHE_DIR, TEST_USER_SUDO_PASSWORD } from "./paths.ts";
import { check, run } from "./run.ts";
import { ensurePrereqs } from "./prereqs.ts";

/** Bump when the build recipe below changes in a way existing bases must not keep. */
const BASE_VERSION = 1;

const PACKAGES = [
  "openssh-server",
  "postfix",
  "sasl2-bin",
  "libsasl2-modules",
  "db-util",
  "iptables",
  "ssl-cert",
  "procps",
  "iproute2",
  "python3",
  "python3-apt",
  "systemd",
  "systemd-sysv",
  "sudo",
  "ca-certificates",
  // The rest of a real server (DKIM, other firewalls, brute-force protection, cron, updates): the
  // steps that manage them are tested against the real programs. Their services are disabled in
  // the base (DISABLED_UNITS): a test host boots as neutral as before, and a test enables what it needs.
  "opendkim",
  "opendkim-tools",
  "nftables",
  "ufw",
  "firewalld",
  "fail2ban",
  "unattended-upgrades",
  "cron",
  "curl",
  "openssl",
  "tzdata",
  "dbus",
];

/** Installed but off at boot: each would change the firewall, the mail flow or the load of every host. */
const DISABLED_UNITS = [
  "opendkim.service",
  "nftables.service",
  "ufw.service",
  "firewalld.service",
  "fail2ban.service",
  "unattended-upgrades.service",
  "cron.service",
];

/** Units that are useless or slow in a container without consoles, disks or a real network. */
const MASKED_UNITS = [
  "getty@.service",
  "getty.target",
  "console-getty.service",
  "serial-getty@.service",
  "getty-static.service",
  "systemd-networkd.service",
  "systemd-networkd.socket",
  "systemd-networkd-wait-online.service",
  "systemd-timesyncd.service",
  "systemd-resolved.service",
  "systemd-udevd.service",
  "systemd-firstboot.service",
  "systemd-remount-fs.service",
  "systemd-modules-load.service",
  "systemd-logind.service",
  "systemd-journald-audit.socket",
  "systemd-pstore.service",
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
  "apt-daily.service",
  "apt-daily-upgrade.service",
  "e2scrub_all.timer",
  "e2scrub_all.service",
  "e2scrub_reap.service",
  "fstrim.timer",
  "dpkg-db-backup.timer",
  "man-db.timer",
  "systemd-tmpfiles-clean.timer",
];

const STAMP_FILE = ".provision-testhosts-base";
export const BASE_STAMP = createHash("sha256")
  // Nothing instance-specific (gateway, proxy port) may enter the base: every instance shares it,
  // and a rebuild swaps it out from under the running hosts of the other instances.
  .update(JSON.stringify({ BASE_VERSION, PACKAGES, MASKED_UNITS, DISABLED_UNITS }))
  .digest("hex")
  .slice(0, 16);

/** The Debian mirror this machine already uses (the only one reachable here). */
export function hostMirror(): string {
  const candidates: string[] = [];
  const dir = "/etc/apt/sources.list.d";
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
  for (const file of ["/etc/apt/sources.list", ...files]) {
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, "utf8");
    if (file.endsWith(".sources")) {
      // deb822 stanzas: take URIs of a stanza whose Suites name the plain release.
      for (const stanza of text.split(/\n\s*\n/)) {
        const uris = /^URIs:\s*(.+)$/m.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        if (suites.includes("bookworm")) candidates.push(...uris);
      }
    } else {
      for (const m of text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/gm)) candidates.push(m[1] as string);
    }
  }
  const uri = candidates.find((u) => u.startsWith("http://"));
  if (!uri) throw new Error("no http:// Debian mirror for bookworm in /etc/apt/sources.list(.d)");
  return uri.replace(/\/+$/, "");
}

/** The mirror host named in the base's own sources.list: the only host the apt proxy serves. */
export function baseMirrorHost(): string {
  const text = fs.readFileSync(path.join(BASE_DIR, "etc/apt/sources.list"), "utf8");
  const uri = /^deb\s+(?:\[[^\]]*\]\s+)?(http:\/\/\S+)/m.exec(text)?.[1];
  if (!uri) throw new Error(`no http:// mirror in ${BASE_DIR}/etc/apt/sources.list`);
  return new URL(uri).hostname;
}

export function baseIsCurrent(): boolean {
  try {
    return fs.readFileSync(path.join(BASE_DIR, STAMP_FILE), "utf8").trim() === BASE_STAMP;
  } catch {
    return false;
  }
}

export async function ensureBase(log: (msg: string) => void = () => {}): Promise<void> {
  await ensurePrereqs(log);
  if (baseIsCurrent()) return;
  fs.mkdirSync(CACHE_DIR, { recursive: true, mode: 0o700 });
  removeAbandonedBuilds();
  const mirror = hostMirror();
  const tmp = path.join(CACHE_DIR, `base.build-${process.pid}`);
  const t0 = Date.now();
  log(`building base rootfs (debootstrap bookworm from ${mirror}); ~90 s`);
  // Its own mount namespace: the proc/sys mounts debootstrap makes inside the target vanish with
  // it even if we are killed, so an abandoned build dir is always safe to delete.
  await check("unshare", ["--mount", "--fork", "--kill-child", "debootstrap", "--variant=minbase", "bookworm", tmp, mirror], {
    timeoutMs: 900_000,
  });
  log(`debootstrap done in ${((Date.now() - t0) / 1000).toFixed(1)} s; installing packages`);
  await installInChroot(tmp);
  fs.writeFileSync(path.join(tmp, STAMP_FILE), BASE_STAMP + "\n");
  // Swap in atomically; the old base (if any) is moved aside first, then deleted.
  if (fs.existsSync(BASE_DIR)) fs.renameSync(BASE_DIR, path.join(CACHE_DIR, `base.old-${process.pid}`));
  fs.renameSync(tmp, BASE_DIR);
  removeAbandonedBuilds();
  log(`base ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Leftovers of killed builds (their pid is gone) and replaced bases. */
function removeAbandonedBuilds(): void {
  for (const entry of fs.readdirSync(CACHE_DIR)) {
    const m = /^base\.(build|old)-(\d+)$/.exec(entry);
    if (!m) continue;
    const pid = Number(m[2]);
    if (m[1] === "build" && pid !== process.pid && fs.existsSync(`/proc/${pid}`)) continue; // a live build
    if (m[1] === "build" && pid === process.pid) continue;
    const dir = path.join(CACHE_DIR, entry);
    // Never recurse into a mounted /proc or /sys (a build from before this used private mounts).
    if (fs.readFileSync("/proc/self/mountinfo", "utf8").includes(` ${dir}/`)) {
      throw new Error(`${dir} has mounts in it; unmount them (umount -R) and retry`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Everything after debootstrap, in one shell script run in a private mount namespace (so the
 * proc/dev mounts the postinsts want vanish with it, even if we are killed).
 */
async function installInChroot(root: string): Promise<void> {
  const script = String.raw`
set -eu
R=$1
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
cp /etc/resolv.conf "$R/etc/resolv.conf"
# No daemon may start during the build.
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod 755 "$R/usr/sbin/policy-rc.d"
C() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
printf '%s\n' 'postfix postfix/main_mailer_type select Internet Site' 'postfix postfix/mailname string testhost.invalid' | C debconf-set-selections
C apt-get update -q
C apt-get install -y -q --no-install-recommends ${PACKAGES.join(" ")}
C apt-get clean
rm -f "$R/usr/sbin/policy-rc.d"

# Host keys are per host (installed at start); the image's own must not be shared.
rm -f "$R"/etc/ssh/ssh_host_*
mkdir -p "$R/etc/ssh/sshd_config.d"
cat > "$R/etc/ssh/sshd_config.d/provision-testhosts.conf" <<'EOC'
# Test hosts: root by key only, one host key (ed25519, generated per host), no DNS lookups.
PermitRootLogin prohibit-password
PasswordAuthentication no
HostKey /etc/ssh/ssh_host_ed25519_key
UseDNS no
EOC

# Users: deploy (passwordless sudo) and deploy2 (sudo needs a password). '*' (not '!') keeps
# deploy's account unlocked for key login while no password works.
C useradd -m -s /bin/bash deploy
C useradd -m -s /bin/bash deploy2
C usermod -p '*' deploy
printf 'deploy2:%s\n' '${TEST_USER_SUDO_PASSWORD}' | C chpasswd
printf 'deploy ALL=(ALL:ALL) NOPASSWD: ALL\n' > "$R/etc/sudoers.d/deploy"
printf 'deploy2 ALL=(ALL:ALL) ALL\n' > "$R/etc/sudoers.d/deploy2"
chmod 440 "$R/etc/sudoers.d/deploy" "$R/etc/sudoers.d/deploy2"
for h in root home/deploy home/deploy2; do
  mkdir -p "$R/$h/.ssh"; chmod 700 "$R/$h/.ssh"
done
C chown deploy:deploy /home/deploy/.ssh
C chown deploy2:deploy2 /home/deploy2/.ssh

# Postfix: neutral names (reset per host), no network needed to start.
C postconf -e 'myhostname = testhost.invalid' 'mydestination = $myhostname, localhost.localdomain, localhost' 'relayhost =' 'inet_protocols = ipv4' 'smtp_dns_support_level = disabled'
echo testhost.invalid > "$R/etc/mailname"

# systemd in a container: mask what only slows boot or needs hardware/network.
for u in ${MASKED_UNITS.join(" ")}; do ln -sf /dev/null "$R/etc/systemd/system/$u"; done
C systemctl disable ${DISABLED_UNITS.join(" ")}
# Each boot gets a fresh machine-id (empty file = systemd generates one).
: > "$R/etc/machine-id"; rm -f "$R/var/lib/dbus/machine-id"

# apt goes through the harness's proxy on the bridge gateway (per instance: written per host in
# host.ts); nothing resolves names here.
printf 'nameserver 127.0.0.1\n' > "$R/etc/resolv.conf"
echo testhost > "$R/etc/hostname"
`;
  const r = await run("unshare", ["--mount", "--fork", "--kill-child", "sh", "-c", script, "sh", root], {
    timeoutMs: 900_000,
  });
  if (r.exitCode !== 0) {
    throw new Error(`base package install failed (exit ${r.exitCode}):\n${(r.stdout + r.stderr).slice(-3000)}`);
  }
}
