/**
 * The facts round trip, and the plan cache's part in it (plan-cache.ts): when the controller has
 * this host's facts from the last run, the steps built from them say which remote reads this run
 * will make, and those reads (with the owed-handlers read) travel in the same script as the facts.
 * Their results go to the read cache by exact command text (ReadCache.sentAhead), which uses one
 * only for a real step whose command is byte-identical: a stale plan costs a round trip, never a
 * wrong answer. The facts this run saw are then kept for the next one.
 *
 * The planned steps' local reads (a probe from the controller: verify smtp's connect, EHLO and
 * login, ~5 round trips of its own) start as soon as they are planned, while the connection is
 * made (loadPlanAhead reads the cache and plans the steps then), towards the cached address — but
 * what identifies the playbook waits for the connection to confirm that address: a probe's login
 * (the playbook's credentials) waits behind `beforeLogin` (LocalRead.local), and when the connection
 * reached another address (an ssh config that no longer names it: maybe someone else's server now)
 * the probe ends before its login and its result is dropped. The connection, banner, EHLO and TLS
 * handshake go ahead, as the SSH handshake does before the SSH login (src/cli/early-connections.ts).
 * Their results are used only when the facts the host gave are exactly the cached ones — the same
 * playbook, vars, facts and address build the same steps — and only for the step at the same
 * position with the same kind and name; otherwise they are dropped and the read runs again (a probe reads,
 * it changes nothing, so running one for nothing costs time only).
 */
import { isDeepStrictEqual } from "node:util";
import { gatherFacts } from "../facts/custom-facts.ts";
import type { HostInfo, Playbook } from "../playbook/playbook.ts";
import { isFlushHandlers, isLocalRead } from "../playbook/step.ts";
import type { ShellCommand } from "../shell/sh.ts";
import type { HostSession } from "../transport/host-session.ts";
import { TransportError, type ExecResult } from "../transport/transport.ts";
import type { CachedFacts, CachedPlan, PlanCache } from "./plan-cache.ts";
import { readPendingCommand } from "./pending-handlers.ts";
import { encodeBatch, splitBatchOutput } from "./read-batch.ts";
import { asError } from "./describe-error.ts";
import type { LocalReadAhead, ReadCache } from "./read-cache.ts";

export interface FactsRoundTrip {
  session: HostSession;
  playbook: Playbook;
  /** The host as the playbook sees it (the steps built from the cached facts see it too). */
  host: HostInfo;
  planCache?: PlanCache | undefined;
  /** What loadPlanAhead made of the cache, while the connection was made. */
  ahead: Promise<PlanAhead | undefined>;
  /** Where the results of the reads sent ahead go. */
  reads: ReadCache;
  /** Called for each round trip, before it is made (a failed one counts too). */
  countRoundTrip: () => void;
}

/** The cached plan, the remote reads it plans, and its local reads (started, logins gated: see the file's comment). */
export interface PlanAhead {
  cached: CachedPlan;
  remote: ShellCommand[];
  local: LocalReadAhead[];
}

/**
 * Read the plan cache and plan its reads from the cached facts and address: called before the
 * host's connection is made, so this work overlaps the SSH handshake. Starts the planned local
 * reads, their logins behind `reached` (the address the connection reached: it must be the cached
 * one). Never rejects.
 */
export async function loadPlanAhead(input: {
  playbook: Playbook;
  vars: unknown;
  hostName: string;
  planCache?: PlanCache | undefined;
  reached: Promise<string>;
}): Promise<PlanAhead | undefined> {
  const cached = await input.planCache?.load().catch(() => undefined);
  if (!cached) return undefined;
  const plan = plannedReads(input.playbook, input.vars, cached.facts, { name: input.hostName, address: cached.address });
  const confirmed = input.reached.then((address) => {
    if (address !== cached.address) throw new Error(`the connection reached ${address}, not ${cached.address}: no login there`);
  });
  // Nobody may wait on it (no local read planned), and a rejection is an outcome, not a crash.
  confirmed.catch(() => undefined);
  return { cached, remote: plan.remote, local: plan.local.map((planned) => startLocalRead(planned, confirmed)) };
}

/** The built-in and custom facts, in one round trip with the reads the cached facts plan. */
export async function gatherFactsWithReadsAhead(trip: FactsRoundTrip): Promise<CachedFacts> {
  const facts = await gather(trip);
  await trip.planCache?.save({ facts, address: trip.host.address });
  return facts;
}

async function gather({ session, playbook, host, ahead, reads, countRoundTrip }: FactsRoundTrip): Promise<CachedFacts> {
  countRoundTrip();
  const facts = gatherFacts(playbook.facts ?? {});
  const planned = await ahead;
  // Probes towards another address than this connection reached ended before their login (see the file's comment).
  const locals = planned && planned.cached.address === host.address ? planned.local : [];
  const real = await gatherWith(session, facts, planned?.remote ?? [], reads, countRoundTrip);
  // The same playbook, vars, facts and address build the same steps: only then is a local result theirs.
  if (planned && locals.length > 0 && sameFacts(real, planned.cached.facts)) reads.localAhead(locals);
  return real;
}

async function gatherWith(
  session: HostSession,
  facts: ReturnType<typeof gatherFacts>,
  ahead: readonly ShellCommand[],
  reads: ReadCache,
  countRoundTrip: () => void,
): Promise<CachedFacts> {
  if (ahead.length === 0) return facts.parse(await session.run(facts.command));
  const batch = encodeBatch([facts.command, ...ahead]);
  let results: ExecResult[];
  try {
    results = splitBatchOutput(batch, await session.run(batch.command));
  } catch (error) {
    if (error instanceof TransportError) throw error;
    // The script did not finish (a read killed the shell?): the facts alone, as without a cache.
    countRoundTrip();
    return facts.parse(await session.run(facts.command));
  }
  reads.sentAhead(new Map(ahead.map((command, i) => [command.text, results[i + 1] as ExecResult])));
  return facts.parse(results[0] as ExecResult);
}

/** A planned local read, started now, its login behind `beforeLogin`; its outcome never rejects (a failure is an outcome). */
function startLocalRead(planned: PlannedLocalRead, beforeLogin: Promise<void>): LocalReadAhead {
  let outcome: LocalReadAhead["outcome"];
  try {
    outcome = planned.local(beforeLogin).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error: asError(error) }),
    );
  } catch (error) {
    outcome = Promise.resolve({ ok: false as const, error: asError(error) });
  }
  return { index: planned.index, kind: planned.kind, name: planned.name, outcome };
}

/** The facts as the cache keeps them (JSON: undefined fields dropped) equal the cached ones. */
function sameFacts(real: CachedFacts, cached: CachedFacts): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(real)), cached);
}

export interface PlannedLocalRead {
  /** The step's position in the list the cached facts built. */
  index: number;
  kind: string;
  name: string;
  local: (beforeLogin?: Promise<void>) => Promise<unknown>;
}

export interface PlannedReads {
  /** Remote reads, and the owed-handlers read: sent in the facts script. */
  remote: ShellCommand[];
  /** Local reads (probes from the controller): started beside it. */
  local: PlannedLocalRead[];
}

/**
 * The reads the steps built from `facts` (the cached ones) would make, and the owed-handlers
 * read: what to send with the facts, and what to start beside them. Anything that fails here
 * only means less is done ahead.
 */
export function plannedReads(playbook: Playbook, vars: unknown, facts: CachedFacts, host: HostInfo): PlannedReads {
  const commands = new Map<string, ShellCommand>();
  const local: PlannedLocalRead[] = [];
  try {
    const pending = readPendingCommand(playbook.name, facts.uid);
    commands.set(pending.text, pending);
    for (const [index, item] of playbook.steps({ vars, facts, host } as never).entries()) {
      if (isFlushHandlers(item)) continue;
      try {
        const spec = item.read();
        if (isLocalRead(spec)) local.push({ index, kind: item.kind, name: item.name, local: spec.local });
        else commands.set(spec.command.text, spec.command);
      } catch {
        // This step's read fails with the real facts too, or not: the preflight decides.
      }
    }
  } catch {
    return { remote: [], local: [] };
  }
  return { remote: [...commands.values()], local };
}
