/**
 * Where and how to connect to a host, from explicit options and ~/.ssh/config (parsed by the
 * `ssh-config` package, directive names case-insensitive, first value wins as in OpenSSH).
 * Explicit options win over the config file, the config file over defaults.
 *
 * Honoured: HostName (with `%h`), User, Port, IdentityFile (several; `~`, `%d`, `%u`, `%h`, `%r`
 * expanded), ProxyJump (`none` or a comma-separated list of `[user@]host[:port]` or
 * `ssh://[user@]host[:port]`), ProxyCommand (`%h %p %r %n %%` expanded; run locally, its stdio
 * is the connection — see proxy-command.ts; it wins over a ProxyJump of the config),
 * UserKnownHostsFile, GlobalKnownHostsFile, HostKeyAlias, StrictHostKeyChecking, and Include
 * (ssh-config-file.ts). `Match exec` blocks are NOT evaluated (reading a config must never run a
 * local command); other Match criteria are. Every other directive in effect for the host is a
 * warning naming it and its file:line (`SshTarget.warnings`), never a silent drop.
 *
 * StrictHostKeyChecking: `accept-new` = acceptNewHostKeys; `no`/`off` is treated as
 * `accept-new` too — an unknown host is trusted and recorded, but a CHANGED key is still refused
 * (OpenSSH with `no` would connect anyway; we never do). `yes`/`ask` = refuse unknown hosts.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import SSHConfig, { glob as sshGlob } from "ssh-config";
import { expandIncludes } from "./ssh-config-file.ts";

export interface JumpSpec {
  host: string;
  user?: string;
  port?: number;
}

export interface SshTarget {
  /** The host as the user wrote it (alias, inventory name). */
  alias: string;
  /** What to connect to (HostName or the alias itself). */
  hostname: string;
  port: number;
  user: string;
  /** Absolute paths, in the order to try. Empty means "the defaults that exist". */
  identityFiles: string[];
  /** True when identityFiles came from options or the config (not the built-in defaults). */
  identityFilesConfigured: boolean;
  /** Jump hosts, first hop first. */
  proxyJump: JumpSpec[];
  /** known_hosts files to read; the first is where new keys are written. */
  userKnownHostsFiles: string[];
  /** Read-only known_hosts files (GlobalKnownHostsFile). */
  globalKnownHostsFiles: string[];
  /** The name looked up in known_hosts instead of the host name (HostKeyAlias). */
  hostKeyAlias?: string;
  /** From StrictHostKeyChecking or the option: trust and record an unknown host. */
  acceptNewHostKeys: boolean;
  /** A local command whose stdin/stdout is the connection (tokens expanded); excludes proxyJump. */
  proxyCommand?: string;
  /** Directives in effect that provision does not honour, each with its file:line. */
  warnings: string[];
}

export interface SshTargetOverrides {
  hostname?: string;
  port?: number;
  user?: string;
  identityFiles?: string[];
  /** A ProxyJump value ("none" disables the config's). */
  proxyJump?: string;
  /** A ProxyCommand (tokens not yet expanded; "none" disables the config's). Wins over proxyJump. */
  proxyCommand?: string;
  knownHostsFiles?: string[];
  acceptNewHostKeys?: boolean;
  /** Config file to read; default ~/.ssh/config; false to read none. */
  sshConfigPath?: string | false;
  /** Home directory for `~` (default os.homedir()). */
  homeDir?: string;
  /** Local user name, the default remote user (default os.userInfo().username). */
  localUser?: string;
}

/** Resolve a host alias through options and the ssh config file (read synchronously). */
export function resolveSshTarget(alias: string, overrides: SshTargetOverrides = {}): SshTarget {
  const homeDir = overrides.homeDir ?? os.homedir();
  const configPath = overrides.sshConfigPath === undefined ? path.join(homeDir, ".ssh", "config") : overrides.sshConfigPath;
  let text = "";
  if (configPath !== false) {
    try {
      text = readFileSync(configPath, "utf8");
    } catch (error) {
      // A missing default config is normal; a missing explicit one is a mistake.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || overrides.sshConfigPath !== undefined) {
        throw new Error(`cannot read ssh config ${configPath}: ${(error as Error).message}`, { cause: error });
      }
    }
  }
  if (text === "" || configPath === false) return resolveSshTargetFromText(text, alias, overrides);
  const expanded = expandIncludes(text, configPath, homeDir);
  const target = resolveSshTargetFromText(expanded.text, alias, overrides, expanded.origins);
  target.warnings.unshift(...expanded.warnings);
  return target;
}

/**
 * The pure part: resolve against config text. `origins` (file:line of each line, see
 * ssh-config-file.ts) makes warnings name where a directive is; without it, they say "line N".
 */
// Long: ssh_config's keywords mapped one by one onto the target, in ssh's own precedence.
export function resolveSshTargetFromText(
  configText: string,
  alias: string,
  overrides: SshTargetOverrides = {},
  origins?: string[],
): SshTarget {
  const homeDir = overrides.homeDir ?? os.homedir();
  const localUser = overrides.localUser ?? safeLocalUser();
  const computed = configText.trim() === "" ? {} : computeConfig(configText, alias);
  const first = (key: string): string | undefined => {
    const value = computed[key.toLowerCase()];
    if (Array.isArray(value)) return value[0];
    return value;
  };
  const all = (key: string): string[] => {
    const value = computed[key.toLowerCase()];
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [value];
  };

  const hostname = overrides.hostname ?? expandTokens(first("HostName") ?? alias, { h: alias });
  const user = overrides.user ?? first("User") ?? localUser;
  const portText = first("Port");
  const port = overrides.port ?? (portText ? parsePort(portText, `Port in ssh config for ${alias}`) : 22);
  const tokens = { h: hostname, r: user, u: localUser, d: homeDir, p: String(port), n: alias };
  const expand = (file: string) => expandPath(expandTokens(file, tokens), homeDir);

  const configuredIdentities = overrides.identityFiles ?? all("IdentityFile");
  const identityFiles = configuredIdentities.filter((file) => file.toLowerCase() !== "none").map(expand);

  // An explicit ProxyJump (option, inventory) beats the config's ProxyCommand, and vice versa.
  const commandText = overrides.proxyCommand ?? (overrides.proxyJump === undefined ? first("ProxyCommand") : undefined);
  const proxyCommand =
    commandText && commandText.toLowerCase() !== "none"
      ? expandTokens(commandText, { h: hostname, p: String(port), r: user, n: alias })
      : undefined;
  const jumpText = proxyCommand !== undefined ? undefined : (overrides.proxyJump ?? first("ProxyJump"));
  const proxyJump = jumpText && jumpText.toLowerCase() !== "none" ? parseProxyJump(jumpText) : [];

  const userKnown = overrides.knownHostsFiles ?? splitWords(all("UserKnownHostsFile"));
  const userKnownHostsFiles = (userKnown.length > 0 ? userKnown : ["~/.ssh/known_hosts"])
    .filter((file) => file.toLowerCase() !== "none")
    .map(expand);
  const globalKnown =
    overrides.knownHostsFiles !== undefined
      ? []
      : (() => {
          const configured = splitWords(all("GlobalKnownHostsFile"));
          return (configured.length > 0 ? configured : ["/etc/ssh/ssh_known_hosts"]).filter((f) => f.toLowerCase() !== "none").map(expand);
        })();

  const strict = first("StrictHostKeyChecking")?.toLowerCase();
  const acceptNewHostKeys = overrides.acceptNewHostKeys ?? (strict === "accept-new" || strict === "no" || strict === "off");
  const hostKeyAlias = first("HostKeyAlias");

  return {
    alias,
    hostname,
    port,
    user,
    identityFiles,
    identityFilesConfigured: configuredIdentities.length > 0,
    proxyJump,
    userKnownHostsFiles,
    globalKnownHostsFiles: globalKnown,
    ...(hostKeyAlias ? { hostKeyAlias } : {}),
    acceptNewHostKeys,
    ...(proxyCommand !== undefined ? { proxyCommand } : {}),
    warnings: unhonouredDirectives(configText, alias, Object.keys(computed), origins),
  };
}

/** Directives provision acts on (lower case); every other one in effect is a warning. */
const HONOURED = new Set([
  "host",
  "match",
  "include",
  "hostname",
  "user",
  "port",
  "identityfile",
  "proxyjump",
  "proxycommand",
  "userknownhostsfile",
  "globalknownhostsfile",
  "hostkeyalias",
  "stricthostkeychecking",
]);

/** One warning per directive in effect that is not honoured, at the first line that sets it for this host. */
function unhonouredDirectives(text: string, alias: string, keys: string[], origins: string[] | undefined): string[] {
  const ignored = new Set(keys.filter((key) => !HONOURED.has(key)));
  if (ignored.size === 0) return [];
  const found = new Map<string, string>();
  let active = true;
  text.split("\n").forEach((line, index) => {
    const match = /^\s*([A-Za-z]+)(?:\s*=\s*|\s+)(.*?)\s*$/.exec(line);
    if (!match) return;
    const name = (match[1] as string).toLowerCase();
    // Host patterns decide; a Match block is taken as applying (compute() already evaluated it).
    if (name === "host") active = hostPatternsMatch(match[2] as string, alias);
    else if (name === "match") active = true;
    else if (active && ignored.has(name) && !found.has(name)) {
      found.set(name, `${origins?.[index] || `line ${index + 1}`}: ${match[1]} is not honoured by provision: ignored (host ${alias})`);
    }
  });
  return [...ignored].map((key) => found.get(key) ?? `ssh config: ${key} is not honoured by provision: ignored (host ${alias})`);
}

function hostPatternsMatch(patterns: string, alias: string): boolean {
  const list = patterns
    .split(/\s+/)
    .filter(Boolean)
    .map((p) => p.replace(/^"(.*)"$/, "$1"));
  return sshGlob(list, alias);
}

function computeConfig(text: string, alias: string): Record<string, string | string[]> {
  // Query by host only: passing a User to ssh-config's compute would pre-seed `User` itself.
  return SSHConfig.parse(text).compute(alias, { ignoreCase: true, matchExec: false });
}

/** `a,b` / `user@host:port` / `ssh://user@host:port` / `[v6addr]:port` → JumpSpec[]. */
export function parseProxyJump(value: string): JumpSpec[] {
  return value
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map(parseJumpSpec);
}

export function parseJumpSpec(text: string): JumpSpec {
  let rest = text.startsWith("ssh://") ? text.slice("ssh://".length).replace(/\/$/, "") : text;
  let user: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  let host = rest;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1] ?? "";
    if (bracketed[2]) port = parsePort(bracketed[2], `ProxyJump ${text}`);
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon >= 0 && rest.indexOf(":") === colon) {
      host = rest.slice(0, colon);
      port = parsePort(rest.slice(colon + 1), `ProxyJump ${text}`);
    }
  }
  if (host === "" || user === "") throw new Error(`invalid ProxyJump host: ${JSON.stringify(text)}`);
  return { host, ...(user !== undefined ? { user } : {}), ...(port !== undefined ? { port } : {}) };
}

function parsePort(text: string, what: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port in ${what}: ${JSON.stringify(text)}`);
  return port;
}

function splitWords(values: string[]): string[] {
  return values.flatMap((value) => value.split(/\s+/)).filter((word) => word !== "");
}

/** `%h`, `%r`, … as ssh_config(5) TOKENS (the subset that makes sense here); `%%` → `%`. */
export function expandTokens(value: string, tokens: Record<string, string>): string {
  return value.replace(/%(.)/g, (match, letter: string) => (letter === "%" ? "%" : (tokens[letter] ?? match)));
}

/** `~` and `~/…` → the home directory; a relative path is taken from the cwd, as OpenSSH does. */
export function expandPath(file: string, homeDir: string): string {
  if (file === "~") return homeDir;
  if (file.startsWith("~/")) return path.join(homeDir, file.slice(2));
  return path.resolve(file);
}

function safeLocalUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? "root";
  }
}
