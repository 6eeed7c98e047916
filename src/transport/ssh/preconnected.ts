/**
 * The engine's side of bin/preconnect.js: TCP connections opened before the engine loaded, to the
 * endpoints the last run with the same host selection reached. Absent (no registry) when the
 * engine runs without bin/provision.js (tests, the API): then every connection is made here.
 */
import type { Socket } from "node:net";

interface Preconnect {
  take(host: string, port: number): Socket | undefined;
  record(host: string, port: number): void;
  setLimit(count: number): void;
}

function registry(): Preconnect | undefined {
  return (globalThis as Record<symbol, Preconnect | undefined>)[Symbol.for("provision.preconnect")];
}

/** A connected (or connecting) socket to exactly this endpoint, not yet used by anyone, or undefined. */
export function takePreconnected(host: string, port: number): Socket | undefined {
  return registry()?.take(host, port);
}

/** A direct connection reached this endpoint: the next run with the same selection pre-connects to it. */
export function recordDirectEndpoint(host: string, port: number): void {
  registry()?.record(host, port);
}

/** Keep at most this many endpoints for the next run (the hosts a run starts at once). */
export function limitPreconnections(count: number): void {
  registry()?.setLimit(count);
}
