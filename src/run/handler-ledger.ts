/**
 * The host runner's handlers: which are notified (by this run's steps, or owed by an earlier run
 * that did not finish), which the host's pending record holds (pending-handlers.ts), which ran,
 * and whether the record must be settled at the end.
 */
import type { ShellCommand } from "../shell/sh.ts";
import { settlePendingCommand } from "./pending-handlers.ts";

export class HandlerLedger {
  /** Notified and not run yet. */
  #notified = new Set<string>();
  /** Handler names the host's pending record holds (read at preflight, recorded by this run). */
  #owedOnHost = new Set<string>();
  /** Handlers notified only because an earlier run owed them (their reports say so). */
  #owedByEarlierRun = new Set<string>();
  /** A handler ran, or an owed one was taken back: the host's record must be rewritten (with the lock release, at the end). */
  #ranAny = false;

  /** The host's record, read at preflight: names this playbook still has are owed and notified. */
  loadOwed(names: Iterable<string>, known: Record<string, unknown>): void {
    for (const name of names) {
      // A name this playbook no longer has cannot run; settling the record drops it.
      if (!(name in known)) continue;
      this.#owedOnHost.add(name);
      this.#owedByEarlierRun.add(name);
      this.#notified.add(name);
    }
  }

  /** A step changed (or would change) and notifies these. */
  notify(targets: readonly string[]): void {
    for (const target of targets) {
      this.#notified.add(target);
      this.#owedByEarlierRun.delete(target);
    }
  }

  /** Of these targets, the ones the host's record does not hold yet (to record before the change). */
  toOwe(targets: readonly string[]): string[] {
    return targets.filter((name) => !this.#owedOnHost.has(name));
  }

  /** These are now in the host's record. */
  owe(names: readonly string[]): void {
    for (const name of names) this.#owedOnHost.add(name);
  }

  /**
   * A step owed these before applying and then changed nothing — it said so (a command's changedWhen),
   * or it failed with the host provably as before (HostUnchangedError, a write its validation refused).
   * They are owed no more, and the host's record is rewritten at the end without them. Only names
   * recorded for that step: toOwe never returns a name an earlier step or run already owed.
   */
  disown(names: readonly string[]): void {
    for (const name of names) {
      if (this.#owedOnHost.delete(name)) this.#ranAny = true;
    }
  }

  get hasNotified(): boolean {
    return this.#notified.size > 0;
  }

  /** The notified handlers in declared order (like Ansible's), each once; they are no longer notified. */
  takeDue(declared: readonly string[]): string[] {
    const due = declared.filter((name) => this.#notified.has(name));
    this.#notified.clear();
    return due;
  }

  /** Notified but never run (the run failed first). */
  takeLeft(): string[] {
    const left = [...this.#notified];
    this.#notified.clear();
    return left;
  }

  isOwedByEarlierRun(name: string): boolean {
    return this.#owedByEarlierRun.has(name);
  }

  ran(name: string): void {
    this.#owedOnHost.delete(name);
    this.#owedByEarlierRun.delete(name);
    this.#ranAny = true;
  }

  /** The command that rewrites the host's record, when a handler ran (else none). */
  settleCommand(playbook: string, uid: number): ShellCommand[] {
    return this.#ranAny ? [settlePendingCommand(playbook, uid, [...this.#owedOnHost])] : [];
  }
}
