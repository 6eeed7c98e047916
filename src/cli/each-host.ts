/**
 * Run one task on every selected host, `--concurrency` at a time, each over its own connection
 * (for the verbs that are not playbook runs: exec, facts, run --list-steps). A host that cannot be
 * reached, or whose task throws, is a result, never an exception; results keep inventory order.
 */
import type { InventoryHost } from "../inventory/inventory.ts";
import { mapLimit } from "../run/map-limit.ts";
import { mask } from "../shell/mask.ts";
import { HostSession } from "../transport/host-session.ts";
import { TransportError, type Transport } from "../transport/transport.ts";
import { connectHost, connectTargetOf } from "./connect.ts";
import type { ConnectionArgs } from "./options.ts";

export type HostOutcome<R> =
  | { host: string; status: "ok"; value: R; durationMs: number }
  | { host: string; status: "unreachable" | "failed"; error: string; durationMs: number };

/** How a host is reached; the CLI's own (SSH or local) unless a test passes the mock's. */
export type Connector = (host: InventoryHost, args: ConnectionArgs) => Promise<Transport>;

const connectSelected: Connector = (host, args) => connectHost(connectTargetOf(host), args);

export async function eachHost<R>(
  hosts: readonly InventoryHost[],
  args: ConnectionArgs,
  task: (session: HostSession, host: InventoryHost) => Promise<R>,
  onDone?: (outcome: HostOutcome<R>) => void,
  connect: Connector = connectSelected,
): Promise<HostOutcome<R>[]> {
  return mapLimit(hosts, args.concurrency, async (host) => {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    const outcome = await runOne(host, args, task, elapsed, connect);
    onDone?.(outcome);
    return outcome;
  });
}

async function runOne<R>(
  host: InventoryHost,
  args: ConnectionArgs,
  task: (session: HostSession, host: InventoryHost) => Promise<R>,
  elapsed: () => number,
  connect: Connector,
): Promise<HostOutcome<R>> {
  let session: HostSession;
  try {
    session = new HostSession(await connect(host, args), args.commandTimeoutMs);
  } catch (error) {
    return { host: host.name, status: "unreachable", error: describe(error), durationMs: elapsed() };
  }
  try {
    return { host: host.name, status: "ok", value: await task(session, host), durationMs: elapsed() };
  } catch (error) {
    const lost = error instanceof TransportError && error.kind !== "timeout";
    return { host: host.name, status: lost ? "unreachable" : "failed", error: describe(error), durationMs: elapsed() };
  } finally {
    await session.close().catch(() => undefined);
  }
}

function describe(error: unknown): string {
  return mask(error instanceof Error ? error.message : String(error));
}
