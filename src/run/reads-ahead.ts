/**
 * The facts round trip, and the plan cache's part in it (plan-cache.ts): when the controller has
 * this host's facts from the last run, the steps built from them say which remote reads this run
 * will make, and those reads (with the owed-handlers read) travel in the same script as the facts.
 * Their results go to the read cache by exact command text (ReadCache.sentAhead), which uses one
 * only for a real step whose command is byte-identical: a stale plan costs a round trip, never a
 * wrong answer. The facts this run saw are then kept for the next one.
 */
import { gatherFacts } from "../facts/custom-facts.ts";
import type { HostInfo, Playbook } from "../playbook/playbook.ts";
import { isFlushHandlers, isLocalRead } from "../playbook/step.ts";
import type { ShellCommand } from "../shell/sh.ts";
import type { HostSession } from "../transport/host-session.ts";
import { TransportError, type ExecResult } from "../transport/transport.ts";
import type { CachedFacts, PlanCache } from "./plan-cache.ts";
import { readPendingCommand } from "./pending-handlers.ts";
import { encodeBatch, splitBatchOutput } from "./read-batch.ts";
import type { ReadCache } from "./read-cache.ts";

export interface FactsRoundTrip {
  session: HostSession;
  playbook: Playbook;
  vars: unknown;
  /** The host as the playbook sees it (the steps built from the cached facts see it too). */
  host: HostInfo;
  planCache?: PlanCache | undefined;
  /** Where the results of the reads sent ahead go. */
  reads: ReadCache;
  /** Called for each round trip, before it is made (a failed one counts too). */
  countRoundTrip: () => void;
}

/** The built-in and custom facts, in one round trip with the reads the cached facts plan. */
export async function gatherFactsWithReadsAhead(trip: FactsRoundTrip): Promise<CachedFacts> {
  const facts = await gather(trip);
  await trip.planCache?.save(facts);
  return facts;
}

async function gather({ session, playbook, vars, host, planCache, reads, countRoundTrip }: FactsRoundTrip): Promise<CachedFacts> {
  countRoundTrip();
  const facts = gatherFacts(playbook.facts ?? {});
  const cached = await planCache?.load();
  const ahead = cached ? plannedReads(playbook, vars, cached, host) : [];
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

/**
 * The remote reads the steps built from `facts` (the cached ones) would make, and the owed-handlers
 * read: what to send with the facts. Anything that fails here only means less is sent ahead.
 */
export function plannedReads(playbook: Playbook, vars: unknown, facts: CachedFacts, host: HostInfo): ShellCommand[] {
  const commands = new Map<string, ShellCommand>();
  try {
    const pending = readPendingCommand(playbook.name, facts.uid);
    commands.set(pending.text, pending);
    for (const item of playbook.steps({ vars, facts, host } as never)) {
      if (isFlushHandlers(item)) continue;
      try {
        const spec = item.read();
        if (!isLocalRead(spec)) commands.set(spec.command.text, spec.command);
      } catch {
        // This step's read fails with the real facts too, or not: the preflight decides.
      }
    }
  } catch {
    return [];
  }
  return [...commands.values()];
}
