/**
 * Opening the ssh2 connections for one target: the target itself, or a ProxyJump chain. Each hop
 * is resolved through the ssh config, host-key-verified and authenticated on its own; the hop after
 * it runs over a `forwardOut` channel of the one before (passed as `sock`). Jumps are handled as
 * OpenSSH does for `-J a,b target`: target via b, b via a (overriding b's own ProxyJump), a via its
 * own config. Every failure becomes a TransportError naming the host.
 */
import type { Duplex } from "node:stream";
import ssh2 from "ssh2";
import type { AuthHandlerMiddleware, Client, ClientChannel } from "ssh2";
import type { Secret } from "../../shell/secret.ts";
import { TransportError } from "../transport.ts";
import { makeAuthHandler } from "./auth.ts";
import { recordDirectEndpoint, takePreconnected } from "./preconnected.ts";
import { spawnProxyCommand } from "./proxy-command.ts";
import { authBehindServiceRequest } from "./auth-behind-service.ts";
import { signWithoutAsking } from "./signed-first.ts";
import { hostKeyAlgorithms, loadKnownHosts, makeHostVerifier } from "./host-verifier.ts";
import { resolveSshTarget, type JumpSpec, type SshTarget, type SshTargetOverrides } from "./ssh-config.ts";

const MAX_JUMP_DEPTH = 8;

export interface HopSettings {
  readyTimeout: number;
  keepaliveInterval: number;
  keepaliveCountMax: number;
  homeDir: string;
  agentSocket?: string;
  passphrase?: string;
  promptPassphrase?: (keyFile: string) => Promise<string | undefined>;
  /** Only for the final target (never sent to a jump host). */
  password?: Secret;
  /** Key files to use for a jump host whose config names none. */
  fallbackIdentityFiles?: string[];
  /** How to resolve a jump host (config path, known_hosts, acceptNew…). */
  jumpOverrides: SshTargetOverrides;
  /** ssh2 debug output, for troubleshooting. */
  debug?: (message: string) => void;
  /** Where to say what the ssh config sets that provision does not honour. */
  warn?: (message: string) => void;
  /** Authentication (and a ProxyCommand's start) waits for it; a rejection closes the connection unauthenticated. */
  authGate?: Promise<void>;
}

export interface Hop {
  target: SshTarget;
  client: Client;
}

/**
 * Connect to `target` (through its jumps). Returns the hops, first jump first, target last.
 * Errors name `label` (the host the user asked for) and say which hop failed.
 */
export async function connectChain(target: SshTarget, settings: HopSettings, label = target.alias, depth = 0): Promise<Hop[]> {
  if (depth > MAX_JUMP_DEPTH) {
    throw new TransportError(label, "connect", `ProxyJump chain longer than ${MAX_JUMP_DEPTH} hops (a loop in the ssh config?)`);
  }
  const role = depth === 0 ? "" : `jump host ${target.alias} `;
  for (const warning of target.warnings) settings.warn?.(warning);
  if (target.proxyCommand !== undefined)
    return [{ target, client: await connectViaCommand(target, target.proxyCommand, settings, label, role) }];
  if (target.proxyJump.length === 0) {
    return [{ target, client: await connectHop(target, settings, undefined, label, role) }];
  }
  const jumps = target.proxyJump;
  const last = jumps[jumps.length - 1] as JumpSpec;
  const jumpTarget = resolveJump(last, settings, label);
  if (jumps.length > 1) {
    // `-J a,b`: b is reached through a, whatever b's own config says (ProxyCommand included).
    jumpTarget.proxyJump = jumps.slice(0, -1);
    delete jumpTarget.proxyCommand;
  }
  // A password is for the target only: never offer it to a jump host.
  const before = await connectChain(jumpTarget, { ...settings, password: undefined }, label, depth + 1);
  const via = before[before.length - 1] as Hop;
  try {
    const stream = await forwardOut(via, target, settings.readyTimeout, label);
    const client = await connectHop(target, settings, stream, label, role);
    return [...before, { target, client }];
  } catch (error) {
    for (const hop of before) hop.client.end();
    throw error;
  }
}

/** Over a ProxyCommand's stdio; a failure says what the command printed on stderr. */
async function connectViaCommand(target: SshTarget, command: string, settings: HopSettings, label: string, role: string): Promise<Client> {
  // The command may log in somewhere itself (`ssh -W` through a bastion): not before the gate opens.
  if (settings.authGate) await settings.authGate.catch((reason: unknown) => Promise.reject(notAuthenticated(label, reason)));
  const proxy = spawnProxyCommand(command);
  try {
    const client = await connectHop(target, settings, proxy.socket, label, role);
    // However the connection ends (close, keepalive loss, error), the command ends with it.
    client.once("close", () => proxy.socket.destroy());
    return client;
  } catch (error) {
    proxy.socket.destroy();
    const stderr = await proxy.finalStderr();
    if (!(error instanceof TransportError) || stderr === "") throw error;
    throw new TransportError(label, error.kind, `${error.message.replace(/^[^:]*: /, "")} (through ProxyCommand ${command}: ${stderr})`, {
      cause: error,
    });
  }
}

/** The gate was closed (the run stopped before using the connection): no login was attempted. */
function notAuthenticated(label: string, reason: unknown): TransportError {
  const why = reason instanceof Error ? reason.message : String(reason);
  return new TransportError(label, "connect", `connection closed before authentication: ${why}`, { cause: reason });
}

function resolveJump(spec: JumpSpec, settings: HopSettings, forHost: string): SshTarget {
  try {
    const target = resolveSshTarget(spec.host, {
      ...settings.jumpOverrides,
      ...(spec.user !== undefined ? { user: spec.user } : {}),
      ...(spec.port !== undefined ? { port: spec.port } : {}),
    });
    if (!target.identityFilesConfigured && settings.fallbackIdentityFiles?.length) {
      target.identityFiles = [...settings.fallbackIdentityFiles];
    }
    return target;
  } catch (error) {
    throw new TransportError(forHost, "connect", `cannot resolve jump host ${spec.host}: ${(error as Error).message}`, { cause: error });
  }
}

function forwardOut(via: Hop, target: SshTarget, timeoutMs: number, label: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(
        new TransportError(
          label,
          "timeout",
          `jump host ${via.target.alias} did not open a tunnel to ${target.hostname}:${target.port} within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    via.client.forwardOut("127.0.0.1", 0, target.hostname, target.port, (error, channel) => {
      clearTimeout(timer);
      if (timedOut) {
        channel?.close();
        return;
      }
      if (error) {
        reject(
          new TransportError(
            label,
            "connect",
            `jump host ${via.target.alias} cannot reach ${target.hostname}:${target.port}: ${error.message}`,
            { cause: error },
          ),
        );
        return;
      }
      resolve(channel);
    });
  });
}

/**
 * The auth handler behind the gate: ssh2 asks for the first method once the key exchange is done,
 * so the handshake (TCP, KEX, host key check) runs before the gate opens and the login after it.
 */
function gatedAuth(
  gate: Promise<void> | undefined,
  handler: AuthHandlerMiddleware,
  cancel: (reason: unknown) => void,
): AuthHandlerMiddleware {
  if (!gate) return handler;
  let opened = false;
  return (methodsLeft, partialSuccess, callback) => {
    if (opened) return handler(methodsLeft, partialSuccess, callback);
    gate.then(
      () => {
        opened = true;
        handler(methodsLeft, partialSuccess, callback);
      },
      (reason: unknown) => cancel(reason),
    );
  };
}

/**
 * One SSH connection (directly, or over `sock`), verified and authenticated. A direct one uses the
 * socket bin/preconnect.js opened to this very endpoint, if any (preconnected.ts); should that
 * socket fail before the login (the host closed an idle connection, say), a fresh connection is
 * made: the socket was only a head start. A failed login or host key is not retried.
 */
export async function connectHop(
  target: SshTarget,
  settings: HopSettings,
  sock: Duplex | undefined,
  label: string,
  role = "",
): Promise<Client> {
  if (sock !== undefined) return connectOnce(target, settings, sock, label, role);
  const warm = takePreconnected(target.hostname, target.port);
  if (warm === undefined) return connectOnce(target, settings, undefined, label, role);
  let gateClosed = false;
  settings.authGate?.catch(() => {
    gateClosed = true;
  });
  try {
    return await connectOnce(target, settings, warm, label, role, true);
  } catch (error) {
    if (!(error instanceof TransportError) || error.kind !== "connect" || gateClosed) throw error;
    return connectOnce(target, settings, undefined, label, role);
  }
}

// Long: one hop's connection in order (host-key policy, authentication, the ssh2 client's events and failures), read top to bottom.
async function connectOnce(
  target: SshTarget,
  settings: HopSettings,
  sock: Duplex | undefined,
  label: string,
  role: string,
  preconnected = false,
): Promise<Client> {
  const policy = {
    label,
    role,
    hostname: target.hostname,
    port: target.port,
    ...(target.hostKeyAlias ? { hostKeyAlias: target.hostKeyAlias } : {}),
    userKnownHostsFiles: target.userKnownHostsFiles,
    globalKnownHostsFiles: target.globalKnownHostsFiles,
    acceptNewHostKeys: target.acceptNewHostKeys,
  };
  const known = await loadKnownHosts(policy);
  const verifier = makeHostVerifier(policy, known);
  const auth = makeAuthHandler({
    user: target.user,
    identityFiles: target.identityFiles,
    homeDir: settings.homeDir,
    ...(settings.agentSocket ? { agentSocket: settings.agentSocket } : {}),
    ...(settings.password ? { password: settings.password } : {}),
    ...(settings.passphrase !== undefined ? { passphrase: settings.passphrase } : {}),
    ...(settings.promptPassphrase ? { promptPassphrase: settings.promptPassphrase } : {}),
  });
  const where = `${role}${target.user}@${target.hostname}:${target.port}`;
  // ssh2 is CommonJS: Node's ESM loader exposes only its default export reliably.
  const client = new ssh2.Client();

  return new Promise<Client>((resolve, reject) => {
    let settled = false;
    const fail = (error: TransportError) => {
      if (settled) return;
      settled = true;
      client.removeListener("ready", onReady);
      // Keep an error listener: a late error on a dead client must not crash the process.
      client.on("error", () => undefined);
      client.end();
      if (sock) sock.destroy();
      reject(error);
    };
    const onReady = () => {
      if (settled) return;
      settled = true;
      client.removeListener("error", onError);
      client.removeListener("close", onClose);
      // Commands are small request/response exchanges: without this, Nagle's algorithm and the
      // host's delayed ACKs add ~40 ms to many of them.
      client.setNoDelay(true);
      if (sock === undefined || preconnected) recordDirectEndpoint(target.hostname, target.port);
      resolve(client);
    };
    const onError = (error: Error & { level?: string; code?: string }) => {
      const refusal = verifier.refusal();
      if (refusal) return fail(refusal);
      if (error.level === "client-authentication") {
        const offered = auth.tried.length > 0 ? auth.tried.join(", ") : "nothing (no ssh-agent, no key file, no password)";
        const skipped = auth.skipped.length > 0 ? `; not usable: ${auth.skipped.join("; ")}` : "";
        const server = auth.serverMethods() ? `; the server accepts: ${auth.serverMethods()?.join(", ")}` : "";
        return fail(
          new TransportError(label, "auth", `authentication failed for ${where}: tried ${offered}${skipped}${server}`, { cause: error }),
        );
      }
      if (error.level === "client-timeout") {
        return fail(
          new TransportError(label, "timeout", `no SSH handshake with ${where} within ${settings.readyTimeout} ms`, { cause: error }),
        );
      }
      return fail(new TransportError(label, "connect", `cannot connect to ${where}: ${error.message}`, { cause: error }));
    };
    const onClose = () => {
      const refusal = verifier.refusal();
      fail(refusal ?? new TransportError(label, "connect", `connection to ${where} closed during the handshake`));
    };
    client.on("ready", onReady);
    client.on("error", onError);
    client.on("close", onClose);
    // A gate closed before the login ends the handshake now, at whatever stage it is.
    settings.authGate?.catch((reason: unknown) => fail(notAuthenticated(label, reason)));
    // A socket that closed while the known hosts were read (a ProxyCommand that exited at once)
    // would never tell ssh2, which then waits for its readyTimeout.
    if (sock?.destroyed) return fail(new TransportError(label, "connect", `connection to ${where} closed before the SSH handshake`));
    try {
      client.connect({
        host: target.hostname,
        port: target.port,
        username: target.user,
        ...(sock ? { sock } : {}),
        readyTimeout: settings.readyTimeout,
        keepaliveInterval: settings.keepaliveInterval,
        keepaliveCountMax: settings.keepaliveCountMax,
        hostVerifier: verifier.verify,
        authHandler: gatedAuth(settings.authGate, auth.handler, (reason) => fail(notAuthenticated(label, reason))),
        algorithms: { serverHostKey: hostKeyAlgorithms(known) as never },
        ...(settings.debug ? { debug: settings.debug } : {}),
      });
      signWithoutAsking(client);
      authBehindServiceRequest(client);
    } catch (error) {
      fail(new TransportError(label, "connect", `cannot connect to ${where}: ${(error as Error).message}`, { cause: error }));
    }
  });
}
