/**
 * The host lock: two apply runs on one host at once must not interleave their changes.
 *
 * What: a directory, `/run/provision.lock` (root; `mkdir` is atomic), holding an `owner` file:
 * a random token, the controller's host name, pid and user, the start time, and the HOLDER: the
 * process on the host whose life is the run's connection (the nearest `sshd`/`sshd-session`
 * ancestor of the command's shell; for the local transport the controller process itself), by pid
 * and start time (`/proc/PID/stat` field 22, so a reused pid does not count as alive).
 * A login user that is not root (and has no sudo) locks `${XDG_RUNTIME_DIR:-$HOME}/.provision.lock`.
 * `/run` is a tmpfs on every systemd host: a reboot clears a lock with its holder.
 *
 * When: only in APPLY mode, lazily — right before the first step that has something to change
 * (see host-runner). Check mode never takes it: it stays read-only (it may then report transient
 * drift while an apply runs elsewhere). A converged apply run never takes it either, so the lock
 * costs no round trip there. The acquisition travels in the same round trip as a fresh read of
 * every remaining step: state read before the lock was held may be stale (another run may have
 * changed it meanwhile), so nothing is applied from a read that preceded the lock. A changing run
 * pays two round trips: that acquire+re-read, and the release at the end (also after a failed
 * step or handler; a lost connection cannot release — the holder check below then frees it).
 *
 * Held: when the holder is alive, the run fails within ~2 s (a short wait covers a run that is
 * just ending) with the holder's identity and what to do. Stale: the holder process no longer
 * exists on the host (the controller died or was killed, the connection was cut: sshd ends the
 * session) AND no command of that run is still running — the lock is then broken and taken, no
 * human needed. A dead controller's commands can outlive it (over SSH until their timeout(1)
 * backstop stops them; locally the transport's watchdog kills them at once), so the owner file
 * records the run's id (PROVISION_RUN, which every command of a connection carries, see
 * RUN_ID_ENV) and a process whose environment holds it keeps the lock held ("its run's commands
 * are still running"). The caller reports a broken lock (whose it was and why): see
 * brokenLockMessage. Age alone never breaks a lock
 * whose holder lives (a long package upgrade is not a dead run). Fallbacks: an owner file missing
 * for more than 2 minutes (a writer killed between mkdir and write), or a host without /proc
 * (liveness cannot be checked) and a lock older than 60 minutes, count as stale.
 * Known limit: a connection whose network path died without a FIN keeps its sshd session alive
 * until sshd notices (ClientAlive / TCP keepalive): the lock then looks held, and the message says
 * how to remove it by hand.
 *
 * Breaking a stale lock is serialised by a second directory, `<lock>.break` (itself considered
 * dead after 60 s), and the owner is re-read under it, so two runs that both find the lock stale
 * cannot both take it.
 *
 * Only POSIX sh, plus `stat -c` and /proc as on Linux (both already assumed by the steps).
 */
import { keyValues } from "../shell/read-output.ts";
import { scriptHeader } from "../shell/script-header.ts";
import { randomBytes } from "node:crypto";
import os from "node:os";
import { raw, sh, type ShellCommand } from "../shell/sh.ts";
import { RUN_ID_ENV, type ExecResult } from "../transport/transport.ts";

/** The lock's path when the commands run as root. */
export const ROOT_LOCK_PATH = "/run/provision.lock";
/** First line of the lock fragments, so test doubles (the mock transport) can recognise them. */

const NO_OWNER_STALE_SECONDS = 120;
const NO_PROC_STALE_SECONDS = 3600;
const BREAK_MUTEX_STALE_SECONDS = 60;
/** Attempts while the holder is alive (0.5 s apart): a run that is just ending gets ~2 s to go. */
const HELD_ATTEMPTS = 5;

export interface LockOwner {
  token: string;
  controller: string;
  controllerPid: number;
  user: string;
  /** ISO time the lock was taken (controller clock). */
  started: string;
}

export function newLockOwner(now = new Date()): LockOwner {
  let user = "unknown";
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry for our uid: keep "unknown"
  }
  return {
    token: randomBytes(12).toString("hex"),
    controller: os.hostname(),
    controllerPid: process.pid,
    user,
    started: now.toISOString(),
  };
}

/** Where the lock lives, chosen on the host (root → /run). Shell syntax: sets $L. */
const LOCK_PATH = raw(`if [ "$(id -u)" = 0 ]; then L=${ROOT_LOCK_PATH}; else L="\${XDG_RUNTIME_DIR:-\${HOME:-/tmp}}/.provision.lock"; fi`);

/** One line per owner field; values are single words or quoted by `sh`. */
function ownerLines(owner: LockOwner): string {
  return [
    `token=${owner.token}`,
    `controller=${owner.controller}`,
    `controller_pid=${owner.controllerPid}`,
    `user=${owner.user}`,
    `started=${owner.started}`,
  ]
    .map((line) => line.replace(/[\r\n]/g, " "))
    .join("\n");
}

/**
 * Try to take the lock. Prints `lock=acquired` (plus `lock_broke=…` when a stale lock was broken),
 * `lock=held` with `owner.KEY=VALUE` lines and `age=SECONDS`, or `lock=error` with `error=…`.
 * Exits 0 in every case: the caller decides.
 */
// Long: one shell script (a single round trip): take the lock, or say whose it is and whether it is stale.
export function acquireLockCommand(owner: LockOwner): ShellCommand {
  return sh`${scriptHeader("lock acquire", { token: owner.token })}
${LOCK_PATH}
info=${ownerLines(owner)}
st() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
running() { [ -n "$1" ] && cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -qxF -- "${raw(RUN_ID_ENV)}=$1"; }
alive() { [ -n "$1" ] && [ -n "$2" ] && [ -r "/proc/$1/stat" ] && [ "$(st "$1")" = "$2" ]; }
now() { date +%s; }
age() { m=$(stat -c %Y "$1" 2>/dev/null) || m=$(now); echo $(( $(now) - m )); }
h=$PPID; p=$$; i=0; broke=; bo=
while [ "$i" -lt 16 ] && [ -r "/proc/$p/stat" ]; do
  case "$(cat "/proc/$p/comm" 2>/dev/null)" in sshd|sshd-session) h=$p; break ;; esac
  p=$(sed 's/.*) //' "/proc/$p/stat" | cut -d' ' -f2)
  case "$p" in ''|0|1) break ;; esac
  i=$((i + 1))
done
n=0
while :; do
  if err=$(mkdir -- "$L" 2>&1); then
    if printf '%s\nholder_pid=%s\nholder_start=%s\nrun=%s\n' "$info" "$h" "$(st "$h")" "\${${raw(RUN_ID_ENV)}:-}" > "$L/owner"; then
      echo lock=acquired
      if [ -n "$broke" ]; then printf 'lock_broke=%s\n' "$broke"; printf '%s\n' "$bo" | sed -n 's/^\\([a-z_]*\\)=/broken.\\1=/p'; fi
      exit 0
    fi
    rm -rf -- "$L"; echo lock=error; echo "error=cannot write $L/owner"; exit 0
  fi
  if [ ! -d "$L" ]; then
    # Gone between our mkdir and this test: another run broke a stale lock. Try again; an error only
    # when the lock cannot be made at all (its directory is missing, or it keeps vanishing).
    n=$((n + 1))
    if [ -d "\${L%/*}" ] && [ "$n" -lt ${raw(String(HELD_ATTEMPTS))} ]; then continue; fi
    echo lock=error; printf 'error=cannot create %s: %s\n' "$L" "$err" | head -n 1; exit 0
  fi
  o=$(cat -- "$L/owner" 2>/dev/null)
  hp=$(printf '%s\n' "$o" | sed -n 's/^holder_pid=//p')
  hs=$(printf '%s\n' "$o" | sed -n 's/^holder_start=//p')
  a=$(age "$L")
  stale=; why=
  if [ -z "$o" ]; then
    [ "$a" -le ${raw(String(NO_OWNER_STALE_SECONDS))} ] || stale="no owner recorded, $a s old"
  elif [ -d /proc/self ] && [ -n "$hs" ]; then
    if ! alive "$hp" "$hs"; then
      if running "$(printf '%s\n' "$o" | sed -n 's/^run=//p')"; then why="its holder (pid $hp) has exited but commands of its run are still running on the host"
      else stale="its holder (pid $hp on this host) has exited"; fi
    fi
  elif [ "$a" -gt ${raw(String(NO_PROC_STALE_SECONDS))} ]; then
    stale="holder cannot be checked, $a s old"
  fi
  if [ -n "$stale" ]; then
    if [ -d "$L.break" ] && [ "$(age "$L.break")" -gt ${raw(String(BREAK_MUTEX_STALE_SECONDS))} ]; then rmdir -- "$L.break" 2>/dev/null; fi
    if mkdir -- "$L.break" 2>/dev/null; then
      if [ "$(cat -- "$L/owner" 2>/dev/null)" = "$o" ]; then rm -rf -- "$L"; broke=$stale; bo=$o; fi
      rmdir -- "$L.break"
      [ -z "$broke" ] || continue
    fi
  fi
  n=$((n + 1))
  if [ "$n" -ge ${raw(String(HELD_ATTEMPTS))} ]; then break; fi
  sleep 0.5 2>/dev/null || sleep 1
done
echo lock=held
echo "path=$L"
echo "age=$a"
[ -z "$why" ] || echo "why=$why"
printf '%s\n' "$o" | sed -n 's/^\\([a-z_]*\\)=/owner.\\1=/p'
exit 0`;
}

/** Remove the lock if (and only if) it is still ours. */
export function releaseLockCommand(owner: Pick<LockOwner, "token">): ShellCommand {
  return sh`${scriptHeader("lock release", { token: owner.token })}
${LOCK_PATH}
if [ "$(sed -n 's/^token=//p' "$L/owner" 2>/dev/null)" = ${owner.token} ]; then rm -rf -- "$L"; fi`;
}

export type LockOutcome =
  /** brokeStale: why a stale lock was broken; brokenOwner: its owner fields (whose it was). */
  | { acquired: true; brokeStale?: string; brokenOwner?: Record<string, string> }
  /** why: set when the holder is gone but the lock is held all the same (its commands still run). */
  | { acquired: false; holder: Record<string, string>; path: string; ageSeconds: number; why?: string };

/** The host is being provisioned by another run (or its lock could not be taken). */
export class HostLockedError extends Error {
  override readonly name = "HostLockedError";
}

export function parseLockResult(result: ExecResult, host: string): LockOutcome {
  const values = keyValues(result.stdout.toString("utf8"), { keep: "first" });
  const state = values.get("lock");
  const prefixed = (prefix: string) => {
    const fields: Record<string, string> = {};
    for (const [key, value] of values) if (key.startsWith(prefix)) fields[key.slice(prefix.length)] = value;
    return fields;
  };
  if (state === "acquired") {
    const broke = values.get("lock_broke");
    return broke ? { acquired: true, brokeStale: broke, brokenOwner: prefixed("broken.") } : { acquired: true };
  }
  if (state === "held") {
    const why = values.get("why");
    return {
      acquired: false,
      holder: prefixed("owner."),
      path: values.get("path") ?? ROOT_LOCK_PATH,
      ageSeconds: Number(values.get("age") ?? "0"),
      ...(why ? { why } : {}),
    };
  }
  const why = values.get("error") ?? (result.stderr.toString("utf8").trim().split("\n").slice(-3).join(" ") || `exit ${result.exitCode}`);
  throw new HostLockedError(`${host}: cannot take the host lock: ${why}`);
}

/** "host X is being provisioned by root@ctl (pid 42) since …; if that run died, remove …". */
export function lockedMessage(host: string, outcome: Extract<LockOutcome, { acquired: false }>): string {
  const h = outcome.holder;
  const who = h.controller
    ? `${h.user ?? "?"}@${h.controller} (controller pid ${h.controller_pid ?? "?"})`
    : "an unknown run (no owner recorded yet)";
  const since = h.started ? ` since ${h.started}` : "";
  const holder = h.holder_pid ? `, holder process ${h.holder_pid} on the host` : "";
  const why = outcome.why ? `: ${outcome.why}` : "";
  return (
    `host ${host} is being provisioned by ${who}${since} (lock ${outcome.path}, ${outcome.ageSeconds} s old${holder})${why}; ` +
    `if that run died, remove ${outcome.path} on the host`
  );
}

/** "broke the stale host lock of root@ctl (controller pid 42) since …: its holder … has exited". */
export function brokenLockMessage(host: string, outcome: Extract<LockOutcome, { acquired: true }>): string | undefined {
  if (!outcome.brokeStale) return undefined;
  const h = outcome.brokenOwner ?? {};
  const who = h.controller
    ? `${h.user ?? "?"}@${h.controller} (controller pid ${h.controller_pid ?? "?"})`
    : "an unknown run (no owner recorded)";
  const since = h.started ? ` since ${h.started}` : "";
  return `host ${host}: broke the stale host lock of ${who}${since}: ${outcome.brokeStale}`;
}
