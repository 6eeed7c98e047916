/**
 * The SSH transport (ssh2): one connection per host, reused for every command, at most
 * `maxChannels` (8) session channels at a time — below OpenSSH's default MaxSessions (10) — the
 * rest queue. Every command runs as `/bin/sh -c <command>` (through sudo when `become` is set and
 * the login user is not root), so the login shell (bash, zsh…) never changes its meaning.
 *
 * Failure is bounded, never a hang:
 * - connect: readyTimeout (15 s) per hop;
 * - per command: `timeoutMs` → the channel gets signal TERM (relayed to the command's process
 *   group by the host's timeout(1), see host-timeout.ts), then KILL and close a second later, and
 *   exec throws TransportError "timeout"; its slot is freed when the host closes the channel (or
 *   after a grace);
 * - a dead connection is noticed by SSH keepalives (15 s × 3) or the socket closing; every running,
 *   queued and later exec then throws TransportError "lost".
 */
import { randomBytes } from "node:crypto";
import net from "node:net";
import os from "node:os";
import type { Client, ClientChannel } from "ssh2";
import type { Secret } from "../../shell/secret.ts";
import { endWithStdin, TransportError, type ExecOptions, type Stdin, type ExecResult, type Transport } from "../transport.ts";
import { agentSocketFromEnv, PASSPHRASE_ENV } from "./auth.ts";
import { connectChain, type Hop } from "./connect.ts";
import { Semaphore } from "./semaphore.ts";
import { resolveSshTarget, type SshTarget } from "./ssh-config.ts";
import { underHostTimeout } from "./host-timeout.ts";
import { becomeCommand, stripSuPrompt, sudoFailure, sudoStdin, suFailure, type BecomeOptions } from "./sudo.ts";

export interface SshOptions {
  /** The host as the user wrote it: an ssh config alias, a name or an address. */
  host: string;
  /** Overrides HostName from the ssh config. */
  hostname?: string;
  port?: number;
  /** Login user (default: ssh config User, else the local user name). */
  user?: string;
  /** Private key files, tried in order (default: ssh config IdentityFile, else ~/.ssh/id_{ed25519,ecdsa,rsa}). */
  identityFiles?: string[];
  /** Password authentication, only when set. */
  password?: Secret;
  /** Passphrase for encrypted keys (default: env PROVISION_SSH_PASSPHRASE, else a prompt on a TTY). */
  passphrase?: Secret;
  /** Ask for a key passphrase (default: on the terminal when stdin is a TTY). */
  promptPassphrase?: (keyFile: string) => Promise<string | undefined>;
  /** ssh-agent socket (default: env SSH_AUTH_SOCK); false: do not use an agent. */
  agent?: string | false;
  /** known_hosts files (default: ssh config UserKnownHostsFile, else ~/.ssh/known_hosts). New keys go to the first. */
  knownHostsFiles?: string[];
  /** Trust and record an unknown host key (the CLI's --accept-new-host-keys). A changed key is refused anyway. */
  acceptNewHostKeys?: boolean;
  /** ssh config file (default ~/.ssh/config); false: none. */
  sshConfigPath?: string | false;
  /** ProxyJump value, overriding the config's ("none" disables it). */
  proxyJump?: string;
  /** ProxyCommand (`%h %p %r %n %%` expanded), overriding the config's and its ProxyJump ("none" disables it). */
  proxyCommand?: string;
  /** Where to say what the ssh config sets that provision does not honour (default: stderr, once per message). */
  warn?: (message: string) => void;
  /** Run commands as another user (default root) through sudo or su; sudo is skipped when it would change nothing. */
  become?: BecomeOptions;
  /** SSH handshake timeout per hop, ms (default 15000). */
  readyTimeout?: number;
  /** Keepalive interval, ms (default 15000); 0 disables. */
  keepaliveInterval?: number;
  /** Unanswered keepalives before the connection counts as lost (default 3). */
  keepaliveCountMax?: number;
  /** Concurrent session channels (default 8; keep below the host's MaxSessions). */
  maxChannels?: number;
  /** Home directory for ~ expansion and default files (default os.homedir()). */
  homeDir?: string;
  /** Environment to read SSH_AUTH_SOCK and PROVISION_SSH_PASSPHRASE from (default process.env). */
  env?: NodeJS.ProcessEnv;
  debug?: (message: string) => void;
  /**
   * Open the connection now but log in only when this resolves (the CLI's early connections,
   * src/cli/early-connections.ts); when it rejects, the connection is closed before any login.
   */
  authGate?: Promise<void>;
}

const DEFAULTS = { readyTimeout: 15_000, keepaliveInterval: 15_000, keepaliveCountMax: 3, maxChannels: 8 };
/** After a timeout, how long a channel may keep its slot while the host closes it. */
const CLOSE_GRACE_MS = 10_000;
/** Retries of a refused channel open (MaxSessions taken), within this window. */
const OPEN_RETRIES = 20;
const OPEN_RETRY_WINDOW_MS = 10_000;

/** Connect (through ProxyJump hosts if configured), verify host keys, authenticate. */
export async function connectSsh(options: SshOptions): Promise<SshTransport> {
  const env = options.env ?? process.env;
  const homeDir = options.homeDir ?? os.homedir();
  let target: SshTarget;
  try {
    target = resolveSshTarget(options.host, {
      ...(options.hostname !== undefined ? { hostname: options.hostname } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.identityFiles !== undefined ? { identityFiles: options.identityFiles } : {}),
      ...(options.proxyJump !== undefined ? { proxyJump: options.proxyJump } : {}),
      ...(options.proxyCommand !== undefined ? { proxyCommand: options.proxyCommand } : {}),
      ...(options.knownHostsFiles !== undefined ? { knownHostsFiles: options.knownHostsFiles } : {}),
      ...(options.acceptNewHostKeys !== undefined ? { acceptNewHostKeys: options.acceptNewHostKeys } : {}),
      ...(options.sshConfigPath !== undefined ? { sshConfigPath: options.sshConfigPath } : {}),
      homeDir,
    });
  } catch (error) {
    throw new TransportError(options.host, "connect", (error as Error).message, { cause: error });
  }
  const become = effectiveBecome(options.become, target.user);
  if (become?.method === "su" && become.password === undefined && target.user !== "root") {
    // su would take the command's first stdin line as the password.
    throw new TransportError(
      options.host,
      "sudo",
      `become method su as ${target.user} needs ${become.user ?? "root"}'s password: set ansible_become_password (e.g. vault-encrypted) or PROVISION_BECOME_PASSWORD`,
    );
  }
  const agentSocket = options.agent === false ? undefined : (options.agent ?? agentSocketFromEnv(env));
  const passphrase = options.passphrase?.reveal() ?? (env[PASSPHRASE_ENV] || undefined);
  const hops = await connectChain(target, {
    readyTimeout: options.readyTimeout ?? DEFAULTS.readyTimeout,
    keepaliveInterval: options.keepaliveInterval ?? DEFAULTS.keepaliveInterval,
    keepaliveCountMax: options.keepaliveCountMax ?? DEFAULTS.keepaliveCountMax,
    homeDir,
    ...(agentSocket ? { agentSocket } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(options.promptPassphrase ? { promptPassphrase: options.promptPassphrase } : {}),
    ...(options.password ? { password: options.password } : {}),
    ...(options.identityFiles ? { fallbackIdentityFiles: target.identityFiles } : {}),
    jumpOverrides: {
      ...(options.knownHostsFiles !== undefined ? { knownHostsFiles: options.knownHostsFiles } : {}),
      ...(options.acceptNewHostKeys !== undefined ? { acceptNewHostKeys: options.acceptNewHostKeys } : {}),
      ...(options.sshConfigPath !== undefined ? { sshConfigPath: options.sshConfigPath } : {}),
      homeDir,
    },
    ...(options.debug ? { debug: options.debug } : {}),
    ...(options.authGate ? { authGate: options.authGate } : {}),
    warn: options.warn ?? warnOnce,
  });
  return new SshTransport(options.host, hops, {
    maxChannels: options.maxChannels ?? DEFAULTS.maxChannels,
    ...(become ? { become } : {}),
  });
}

/** sudo to root from root changes nothing; any other become does. */
function effectiveBecome(become: BecomeOptions | undefined, loginUser: string): BecomeOptions | undefined {
  if (!become) return undefined;
  return loginUser === "root" && (become.user ?? "root") === "root" ? undefined : become;
}

const warned = new Set<string>();
/** The same ssh config directive would warn for every host it applies to: say it once. */
function warnOnce(message: string): void {
  const key = message.replace(/ \(host [^)]*\)$/, "");
  if (warned.has(key)) return;
  warned.add(key);
  process.stderr.write(`provision: warning: ${message}\n`);
}

type Pending = (error: TransportError) => void;

export class SshTransport implements Transport {
  readonly #hops: Hop[];
  readonly #client: Client;
  readonly #channels: Semaphore;
  readonly #pending = new Set<Pending>();
  /** Clients whose connection has closed. */
  readonly #ended = new Set<Client>();
  readonly #become: BecomeOptions | undefined;
  #lost: TransportError | undefined;
  #closed = false;
  /** Every command of this connection carries it on the host as PROVISION_RUN (see RUN_ID_ENV). */
  readonly runId = randomBytes(8).toString("hex");

  /** Use connectSsh. */
  constructor(
    readonly host: string,
    hops: Hop[],
    options: { maxChannels: number; become?: BecomeOptions },
  ) {
    const last = hops[hops.length - 1];
    if (!last) throw new Error("SshTransport needs at least one connection");
    this.#hops = hops;
    this.#client = last.client;
    this.#channels = new Semaphore(options.maxChannels);
    // connectSsh drops a become that changes nothing (sudo to root from root).
    this.#become = options.become;
    for (const hop of hops) {
      const name = hop === last ? "" : ` (via jump host ${hop.target.alias})`;
      hop.client.on("error", (error: Error) => this.#markLost(`connection lost${name}: ${error.message}`, error));
      hop.client.on("close", () => {
        this.#ended.add(hop.client);
        this.#markLost(`connection closed${name}`);
      });
    }
  }

  /** The login user on the host. */
  get user(): string {
    return this.#target.user;
  }

  /** The final hop's HostName (after ssh config and overrides): what was really connected to. */
  get address(): string {
    return this.#target.hostname;
  }

  /** Where the connection goes (user, address, port, jumps), for messages and tests. */
  get target(): SshTarget {
    return this.#target;
  }

  get #target(): SshTarget {
    return (this.#hops[this.#hops.length - 1] as Hop).target;
  }

  /** True when commands run through sudo. */
  get becomes(): boolean {
    return this.#become !== undefined;
  }

  /** The exact command line sent to the host for `command` (never holds a secret). */
  wireCommand(command: string, timeoutMs?: number): string {
    // Host-side backstop a second after our own timeout (see host-timeout.ts).
    const killAfter = timeoutMs === undefined ? undefined : timeoutMs / 1000 + 1;
    if (this.#become) return becomeCommand(command, this.#become, killAfter, this.runId);
    return `exec ${underHostTimeout(command, killAfter, this.runId)}`;
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.#closed) throw new TransportError(this.host, "lost", "the connection was closed (exec after close)");
    if (this.#lost) throw this.#lost;
    const wire = this.wireCommand(command, options.timeoutMs);
    const stdin = this.#become ? sudoStdin(this.#become.password, options.stdin) : options.stdin;
    const release = await this.#channels.acquire();
    const raw = await this.#run(wire, stdin, options.timeoutMs, release);
    const su = this.#become?.method === "su";
    const result = su && this.#become?.password ? { ...raw, stderr: stripSuPrompt(raw.stderr) } : raw;
    if (this.#become) {
      const problem = su ? suFailure(result, this.user, this.#become.user ?? "root") : sudoFailure(result, this.user);
      if (problem) {
        const stderr = result.stderr.toString("utf8").trim().split("\n").slice(-3).join("\n");
        throw new TransportError(this.host, "sudo", `${problem}\n${stderr}`);
      }
    }
    return result;
  }

  // Long: one exec's life (channel, stdin, timeout and grace, a lost connection, `open`'s retries) shares its settle-once state in one closure.
  #run(wire: string, stdin: Stdin | undefined, timeoutMs: number | undefined, release: () => void): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      const freeSlot = () => {
        clearTimeout(graceTimer);
        release();
      };
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#pending.delete(onLost);
        outcome();
      };
      const onLost: Pending = (error) => {
        finish(() => reject(error));
        freeSlot();
      };
      this.#pending.add(onLost);
      if (this.#lost) return onLost(this.#lost);

      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              finish(() => reject(new TransportError(this.host, "timeout", `command timed out after ${timeoutMs} ms`)));
              if (channel) this.#kill(channel);
              // The slot stays taken until the host closes the channel (it counts against MaxSessions).
              graceTimer = setTimeout(freeSlot, CLOSE_GRACE_MS);
            }, timeoutMs);

      const openStarted = Date.now();
      const open = (attempt: number) =>
        this.#client.exec(wire, (error, opened) => {
          if (error) {
            if (this.#lost) {
              freeSlot();
              return finish(() => reject(this.#lost));
            }
            // The host refuses a session while its MaxSessions are taken — e.g. by a timed-out
            // command still dying. Retry a little (bounded in count and time), then give up.
            if (!settled && attempt < OPEN_RETRIES && Date.now() - openStarted < OPEN_RETRY_WINDOW_MS) {
              setTimeout(() => {
                if (settled) return freeSlot();
                open(attempt + 1);
              }, 100 * attempt);
              return;
            }
            freeSlot();
            return finish(() =>
              reject(
                new TransportError(
                  this.host,
                  "connect",
                  `cannot open a session channel after ${attempt} attempts: ${error.message} ` +
                    `(the host's MaxSessions is taken — below ${this.#channels.limit}, or by commands that timed out and still run)`,
                  { cause: error },
                ),
              ),
            );
          }
          channel = opened;
          const stdout: Buffer[] = [];
          const stderr: Buffer[] = [];
          let exitCode: number | undefined;
          let closed = false;
          let stderrEnded = false;
          const done = () => {
            if (!closed || !stderrEnded) return;
            freeSlot();
            if (exitCode === undefined) {
              finish(() =>
                reject(this.#lost ?? new TransportError(this.host, "lost", "the host closed the channel without an exit status")),
              );
              return;
            }
            const code = exitCode;
            finish(() => resolve({ exitCode: code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) }));
          };
          opened.on("data", (chunk: Buffer) => stdout.push(chunk));
          opened.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
          opened.stderr.on("end", () => {
            stderrEnded = true;
            done();
          });
          opened.on("exit", (code: number | null, signal?: string) => {
            exitCode = code ?? 128 + signalNumber(signal);
          });
          opened.on("close", () => {
            closed = true;
            // stderr may already be finished without an 'end' (destroyed); do not wait for it then.
            if (opened.stderr.readableEnded || opened.stderr.destroyed) stderrEnded = true;
            done();
          });
          // A command that does not read its stdin: writes after it exits are not an error.
          opened.on("error", () => undefined);
          if (settled) {
            // Timed out (or lost) before the channel opened.
            opened.close();
            return;
          }
          endWithStdin(opened, stdin);
        });
      open(1);
    });
  }

  /**
   * Stop a timed-out command: TERM first — where sshd delivers it, timeout(1) relays it to the
   * command's whole process group (host-timeout.ts) and sudo to the command (a KILLed sudo or
   * timeout would leave the command running) — then KILL and close the channel a second later.
   * Where sshd ignores signal requests, the host-side backstop stops the command at that moment.
   */
  #kill(channel: ClientChannel): void {
    const send = (signal: string) => {
      try {
        channel.signal(signal);
      } catch {
        // the host may not support signals: closing the channel (and the backstop) is all we have
      }
    };
    send("TERM");
    const later = setTimeout(() => {
      send("KILL");
      channel.close();
    }, 1_000);
    channel.once("close", () => clearTimeout(later));
  }

  #markLost(message: string, cause?: unknown): void {
    if (this.#lost) return;
    this.#lost = new TransportError(this.host, "lost", message, { cause });
    this.#channels.fail(this.#lost);
    for (const pending of [...this.#pending]) pending(this.#lost);
    for (const hop of this.#hops) hop.client.end();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closes = this.#hops.map(
      (hop) =>
        new Promise<void>((resolve) => {
          if (this.#ended.has(hop.client)) return resolve();
          const timer = setTimeout(() => {
            hop.client.destroy();
            resolve();
          }, 2_000);
          hop.client.once("close", () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    );
    this.#markLost("the connection was closed");
    for (const hop of [...this.#hops].reverse()) hop.client.end();
    // A direct connection need not wait for the host's answer to the disconnect (a round trip at the
    // end of every run): once the disconnect and our FIN are handed to the kernel, which still
    // delivers them, the socket is let go. Through a jump or a ProxyCommand the hops close in order.
    const direct = this.#hops.length === 1 ? directSocket((this.#hops[0] as Hop).client) : undefined;
    if (direct) {
      if (direct.writableFinished) direct.destroy();
      else direct.once("finish", () => direct.destroy());
    }
    await Promise.all(closes);
  }
}

/** The TCP socket ssh2 opened itself (its `_sock`); undefined over a given stream (ProxyCommand, jump). */
function directSocket(client: Client): net.Socket | undefined {
  const sock = (client as unknown as { _sock?: unknown })._sock;
  return sock instanceof net.Socket ? sock : undefined;
}

function signalNumber(signal: string | undefined): number {
  if (!signal) return 0;
  const name = (signal.startsWith("SIG") ? signal : `SIG${signal}`) as NodeJS.Signals;
  return os.constants.signals[name] ?? 0;
}
