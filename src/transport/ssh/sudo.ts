/**
 * Privilege escalation with sudo, for a login user that is not root. Every command is wrapped so
 * it runs as root under `/bin/sh -c`; the sudo password (a Secret) travels only on stdin.
 *
 * Without a password: `exec sudo -n -- /bin/sh -c <command>` (-n: never prompt; fail instead).
 * `exec` makes sudo the session's process, so a signal sent on timeout reaches sudo, which relays
 * it to the command.
 *
 * With a password, plain `sudo -S -p '' -- …` with `password\n` prepended to stdin is NOT safe on
 * its own: sudo reads the password line only when it actually prompts. It does not prompt when the
 * user has NOPASSWD or when credentials are cached — and without a tty, sudo keys its cache on the
 * parent process, which is the sshd process shared by every channel of one connection — so the
 * password line would become the first line of the command's stdin (and e.g. land in a file being
 * written). Measured on sudo 1.9: `sudo -S -p ''` itself consumes exactly the first line (it reads
 * byte by byte) and the command gets the rest intact. So the wrapper decides on the host:
 *
 *   if sudo -n true 2>/dev/null                 # no password needed (NOPASSWD or cached)
 *   then IFS= read -r _ || :; set -- -n         # drop the password line ourselves
 *   else set -- -k -S -p ''                     # -k: ignore the cache, so sudo always reads it
 *   fi; exec sudo "$@" -- /bin/sh -c <command>
 *
 * The shell's `read` also reads a pipe byte by byte (POSIX), so either way the command receives
 * stdin minus exactly the first line. Cost: one extra `sudo -n true` on the host per command.
 * `become.user` other than root adds `-u USER` (then sudo runs even for a root login).
 *
 * `su` (Ansible's `ansible_become_method=su`): the password is the TARGET user's. Measured on
 * Debian 12 (util-linux su, PAM): without a tty, su reads the password from stdin — exactly the
 * first line, the command then gets the rest intact — and prints its "Password: " prompt on
 * stderr (stripped from the result). su has no credential cache, but as root it asks for nothing,
 * so the password line would reach the command: the wrapper drops it itself then:
 *
 *   if [ "$(id -u)" = 0 ]; then IFS= read -r _ || :; fi; exec su -s /bin/sh -c <command> -- USER
 *
 * Without a password, su is used only from a root login (su would read the command's first
 * stdin line as the password otherwise: refused when connecting, see ssh-transport.ts).
 * An su that insists on a terminal ("must be run from a terminal": BSD, busybox) is reported.
 */
import { quote } from "../../shell/quote.ts";
import { underHostTimeout } from "./host-timeout.ts";
import type { Secret } from "../../shell/secret.ts";
import { stdinParts, type ExecResult, type Stdin } from "../transport.ts";

export interface BecomeOptions {
  method: "sudo" | "su";
  /** Whom to become (default root). */
  user?: string;
  /** sudo: the login user's password; su: the target user's. Sent on stdin only. Omit for NOPASSWD sudo. */
  password?: Secret;
}

/** The command line for `command` run as `become.user` through sudo or su. Never holds the password. */
export function becomeCommand(command: string, become: BecomeOptions, killAfterSeconds?: number, runId?: string): string {
  const withPassword = become.password !== undefined;
  if (become.method === "su") return suCommand(command, become.user ?? "root", withPassword, killAfterSeconds, runId);
  return sudoCommand(command, withPassword, killAfterSeconds, become.user, runId);
}

export function suCommand(command: string, user: string, withPassword: boolean, killAfterSeconds?: number, runId?: string): string {
  const inner = `exec ${underHostTimeout(command, killAfterSeconds, runId)}`;
  const su = `exec su -s /bin/sh -c ${quote(inner)} -- ${quote(user)}`;
  return withPassword ? `if [ "$(id -u)" = 0 ]; then IFS= read -r _ || :; fi; ${su}` : su;
}

/** su's prompt, printed on stderr before the command's own output (when a password was read). */
export function stripSuPrompt(stderr: Buffer): Buffer {
  const prompt = Buffer.from("Password: ");
  return stderr.subarray(0, prompt.length).equals(prompt) ? stderr.subarray(prompt.length) : stderr;
}

const SU_PROBLEMS: { pattern: RegExp; explain: (user: string, target: string) => string }[] = [
  {
    pattern: /^su: Authentication failure/m,
    explain: (user, target) => `su from ${user} to ${target} refused the password (the become password must be ${target}'s)`,
  },
  { pattern: /^su: user .* does not exist/m, explain: (_user, target) => `su: user ${target} does not exist on the host` },
  {
    pattern: /^su: must be run from a terminal|^su: .*terminal/m,
    explain: () => "this host's su reads passwords only from a terminal: use become method sudo",
  },
  { pattern: /^(.*: )?su: (command )?not found/m, explain: () => "su is not installed on the host" },
];

/** When su itself failed (rather than the command it ran), say why. */
export function suFailure(result: ExecResult, user: string, target: string): string | undefined {
  if (result.exitCode !== 1 && result.exitCode !== 125 && result.exitCode !== 126 && result.exitCode !== 127) return undefined;
  const head = result.stderr.subarray(0, 4096).toString("utf8");
  for (const problem of SU_PROBLEMS) if (problem.pattern.test(head)) return problem.explain(user, target);
  return undefined;
}

/**
 * The command line sent to the host for `command` run through sudo. Never holds the password.
 *
 * `killAfterSeconds`: a host-side backstop for timeouts. sshd delivers a client's signal with the
 * login user's uid, which cannot signal the root processes sudo started, so a timed-out command
 * would keep running (and keep its session counted against MaxSessions). With this set, the
 * command runs under timeout(1) (see host-timeout.ts).
 */
export function sudoCommand(command: string, withPassword: boolean, killAfterSeconds?: number, user?: string, runId?: string): string {
  const inner = underHostTimeout(command, killAfterSeconds, runId);
  const as = user !== undefined && user !== "root" ? ` -u ${quote(user)}` : "";
  if (!withPassword) return `exec sudo -n${as} -- ${inner}`;
  return (
    `if sudo -n${as} true 2>/dev/null; then IFS= read -r _ || :; set -- -n; else set -- -k -S -p ''; fi; ` +
    `exec sudo "$@"${as} -- ${inner}`
  );
}

/** stdin for a sudo- or su-wrapped command: the password line first (when there is one), then the data. */
export function sudoStdin(password: Secret | undefined, stdin: Stdin | undefined): Stdin {
  if (password === undefined) return stdin ?? [];
  const value = password.reveal();
  if (/[\r\n]/.test(value)) throw new Error("a sudo password cannot contain a newline");
  // The password line as a part of its own: the data after it is never copied.
  return [Buffer.from(`${value}\n`, "utf8"), ...stdinParts(stdin)];
}

const SUDO_PROBLEMS: { pattern: RegExp; explain: (user: string) => string }[] = [
  // A wrong password first: sudo then also says "no password was provided" once stdin runs dry.
  {
    pattern: /^(sudo: \d+ incorrect password attempts?|Sorry, try again\.)/m,
    explain: (user) => `sudo refused the password configured for ${user} (become.password is wrong)`,
  },
  {
    pattern: /^sudo: (a password is required|a terminal is required|no password was provided|no tty present)/m,
    explain: (user) => `sudo as ${user} needs a password: set become.password (a secret) for this host, or give ${user} NOPASSWD sudo`,
  },
  {
    pattern: /^(sudo: )?.* is not in the sudoers file|^Sorry, user .* is not allowed to execute|^sudo: .*not allowed to/m,
    explain: (user) => `${user} may not run commands as root with sudo: add a sudoers rule for ${user}`,
  },
  {
    pattern: /^(sudo: (command )?not found|.*: sudo: (command )?not found|.*: \d+: sudo: not found)/m,
    explain: () => "sudo is not installed on the host: install it, or log in as root",
  },
];

/**
 * When sudo itself failed (rather than the command it ran), say why and what to configure.
 * Only lines sudo itself prints (in the first 4 KiB of stderr) count, and only with its exit codes (1, 127).
 */
export function sudoFailure(result: ExecResult, user: string): string | undefined {
  if (result.exitCode !== 1 && result.exitCode !== 127) return undefined;
  const head = result.stderr.subarray(0, 4096).toString("utf8");
  for (const problem of SUDO_PROBLEMS) {
    if (problem.pattern.test(head)) return problem.explain(user);
  }
  return undefined;
}
