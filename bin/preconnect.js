// Pre-connection: the TCP connections to the hosts the last run with the same host selection
// reached are opened first thing, before the engine loads (~0.2–0.3 s of CPU), so the TCP
// handshake and the host's sshd start-up (a fork and re-exec per connection, ~50–80 ms of the
// host's CPU) happen meanwhile. ssh2 then runs the SSH handshake over the socket (its `sock`).
//
// A socket is only a head start, never a decision: src/transport/ssh/connect.ts takes one only for
// the exact host name and port this run's configuration resolves to for a direct connection (no
// ProxyCommand, no jump), before any byte of SSH is sent; the host key is checked as always. An
// unused socket is closed unused (no SSH ident is ever sent on it; sshd logs a preauth close),
// and one whose handshake fails is not retried on (a fresh connection is). Nothing else is sent
// before the playbook and the vars are valid: the login still waits behind the auth gate
// (src/cli/early-connections.ts).
//
// Plain JavaScript, loaded before anything else: one small file read. The hint file holds only
// `host:port` pairs; its key is a digest of the directory and the options that select hosts
// (never of other arguments, which may hold a secret: `--var`, a command for `exec`).
// PROVISION_PRECONNECT=off turns it off.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { cacheDir } from "./cache-dir.js";

const FORMAT = 1;
/** A socket not taken within this long is closed (a host the run reaches much later connects anew). */
const UNUSED_AFTER_MS = 5_000;
/** Never more pre-connections than this, whatever the hint says. */
const MAX_ENDPOINTS = 64;
/** The verbs that connect to hosts. */
const CONNECTING_VERBS = new Set(["run", "exec", "facts"]);
/** The options whose values decide which hosts a run reaches and how (ports, the ssh config). */
const SELECTING_OPTIONS = new Set(["--host", "-i", "--inventory", "--group", "--limit", "--port", "--ssh-config"]);

/** @param {readonly string[]} argv @returns {string[]} */
export function selectionOf(argv) {
  const [verb, ...rest] = argv;
  const parts = [String(verb)];
  // `run`'s playbook is its first positional argument: a run of another playbook reaches other hosts.
  if (verb === "run" && rest[0] !== undefined && !rest[0].startsWith("-")) parts.push(`playbook=${rest[0]}`);
  for (let i = 0; i < rest.length; i += 1) {
    const token = rest[i];
    if (token === "--") break;
    const eq = token.indexOf("=");
    if (token.startsWith("--") && eq > 0 && SELECTING_OPTIONS.has(token.slice(0, eq))) parts.push(token);
    else if (SELECTING_OPTIONS.has(token) && rest[i + 1] !== undefined) {
      parts.push(`${token}=${rest[i + 1]}`);
      i += 1;
    }
  }
  return parts;
}

const hintDir = () => cacheDir("endpoints");

/** @param {readonly string[]} argv */
function hintFile(argv) {
  const key = createHash("sha256")
    .update(JSON.stringify([FORMAT, process.cwd(), selectionOf(argv)]))
    .digest("hex");
  return join(hintDir(), `${key}.json`);
}

/** @param {string} file @returns {string[]} */
function readHint(file) {
  try {
    const data = JSON.parse(readFileSync(file, "utf8"));
    if (data?.format !== FORMAT || !Array.isArray(data.endpoints)) return [];
    return data.endpoints.filter((e) => typeof e === "string" && /^[^\s]+:\d{1,5}$/.test(e)).slice(0, MAX_ENDPOINTS);
  } catch {
    return [];
  }
}

/** @param {string} endpoint */
function splitEndpoint(endpoint) {
  const colon = endpoint.lastIndexOf(":");
  const host = endpoint.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(endpoint.slice(colon + 1)) };
}

/** @param {string} host @param {number} port */
export function endpointKey(host, port) {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Start the pre-connections for this command line and return what the engine uses: take() a
 * socket, record() an endpoint a direct connection reached, setLimit() how many the hint keeps (the
 * run's concurrency), save() the hint for the next run (once, at exit) and close() what is unused.
 * Undefined when turned off or for a verb that connects to no host.
 * @param {readonly string[]} argv
 */
export function startPreconnect(argv) {
  if (process.env.PROVISION_PRECONNECT === "off" || !CONNECTING_VERBS.has(argv[0] ?? "")) return undefined;
  const file = hintFile(argv);
  const hinted = readHint(file);
  /** @type {Map<string, import("node:net").Socket>} */
  const sockets = new Map();
  for (const endpoint of hinted) {
    const { host, port } = splitEndpoint(endpoint);
    if (!Number.isInteger(port) || port < 1 || port > 65535 || sockets.has(endpoint)) continue;
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    // Not yet anyone's: it must neither keep the process alive nor crash it.
    socket.unref();
    socket.on("error", () => socket.destroy());
    sockets.set(endpoint, socket);
  }
  const close = () => {
    for (const socket of sockets.values()) socket.destroy();
    sockets.clear();
  };
  const expiry = setTimeout(close, UNUSED_AFTER_MS);
  expiry.unref();

  /** @type {string[]} */
  const reached = [];
  let limit = MAX_ENDPOINTS;
  return {
    /** How many sockets were opened from the hint. */
    opened: sockets.size,
    /** A socket to exactly this endpoint, still usable, or undefined. @param {string} host @param {number} port */
    take(host, port) {
      const key = endpointKey(host, port);
      const socket = sockets.get(key);
      if (!socket) return undefined;
      sockets.delete(key);
      if (socket.destroyed || socket.readableEnded) {
        socket.destroy();
        return undefined;
      }
      socket.removeAllListeners("error");
      socket.ref();
      return socket;
    },
    /** A direct connection to this endpoint was made (in the order the run made them). @param {string} host @param {number} port */
    record(host, port) {
      const key = endpointKey(host, port);
      if (!reached.includes(key) && reached.length < limit) reached.push(key);
    },
    /** @param {number} count */
    setLimit(count) {
      limit = Math.max(0, Math.min(MAX_ENDPOINTS, Math.floor(count)));
      reached.splice(limit);
    },
    close,
    save() {
      if (reached.length === 0 || JSON.stringify(reached) === JSON.stringify(hinted)) return;
      try {
        mkdirSync(hintDir(), { recursive: true, mode: 0o700 });
        const temp = `${file}.${process.pid}.tmp`;
        writeFileSync(temp, `${JSON.stringify({ format: FORMAT, endpoints: reached })}\n`, { mode: 0o600 });
        renameSync(temp, file);
      } catch {
        // A hint that cannot be written is no hint: the next run connects as without it.
      }
    },
  };
}

/** bin/provision.js: start, leave the registry under Symbol.for("provision.preconnect"), save at exit. @param {readonly string[]} argv */
export function preconnect(argv) {
  const registry = startPreconnect(argv);
  if (!registry) return;
  globalThis[Symbol.for("provision.preconnect")] = registry;
  process.once("exit", () => {
    registry.close();
    registry.save();
  });
}
