/**
 * The host lock as one run holds it (host-lock.ts has the lock itself): taken lazily, before the
 * first change, in one round trip with a fresh read of every remaining step (what was read before
 * may be another run's half-done work); released at the end in one round trip with whatever must
 * happen still under it (settling the owed-handlers record).
 */
import { joinCommands, type ShellCommand } from "../shell/sh.ts";
import type { HostSession } from "../transport/host-session.ts";
import type { ExecResult } from "../transport/transport.ts";
import {
  acquireLockCommand,
  brokenLockMessage,
  HostLockedError,
  lockedMessage,
  newLockOwner,
  parseLockResult,
  releaseLockCommand,
  type LockOwner,
} from "./host-lock.ts";
import type { ReadCache } from "./read-cache.ts";

export class RunLock {
  /** Set while this run holds the lock. */
  #owner: LockOwner | undefined;

  constructor(
    readonly session: HostSession,
    readonly host: string,
  ) {}

  get held(): boolean {
    return this.#owner !== undefined;
  }

  /**
   * Take the lock in one round trip with a fresh read of step `from` and every later step (in
   * `reads`). Returns the warning to give when it broke another run's stale lock — never silent:
   * whose it was, and why it counted as dead. Throws HostLockedError when another run holds it
   * (or it cannot be taken).
   */
  async acquire(reads: ReadCache, from: number): Promise<string | undefined> {
    const owner = newLockOwner();
    const indices = reads.stepIndices(from);
    reads.forget(indices);
    const lockResult = await reads.read(indices, acquireLockCommand(owner));
    const outcome = parseLockResult(lockResult as ExecResult, this.host);
    if (!outcome.acquired) {
      reads.forget(indices);
      throw new HostLockedError(lockedMessage(this.host, outcome));
    }
    this.#owner = owner;
    return brokenLockMessage(this.host, outcome);
  }

  /**
   * Release the lock if this run holds it, in one round trip after `first` (still under the lock).
   * Never throws: a lock left behind is freed as stale, and a record left unsettled only makes the
   * next run run a handler once more.
   */
  async release(first: readonly ShellCommand[]): Promise<void> {
    const owner = this.#owner;
    if (!owner) return;
    this.#owner = undefined;
    await this.session.run(joinCommands([...first, releaseLockCommand(owner)], "\n")).catch(() => undefined);
  }
}
