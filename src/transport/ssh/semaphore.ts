/**
 * A counting semaphore for SSH channels: at most `limit` sessions open on one connection (below
 * OpenSSH's default MaxSessions of 10); extra callers wait in FIFO order. `fail` rejects every
 * waiter and every later acquire (the connection is gone: nobody may wait forever).
 */
export class Semaphore {
  #available: number;
  #waiters: { resolve: (release: () => void) => void; reject: (error: Error) => void }[] = [];
  #failure: Error | undefined;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`semaphore limit must be a positive integer: ${limit}`);
    this.#available = limit;
  }

  get inUse(): number {
    return this.limit - this.#available;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves with a release function (idempotent) once a slot is free. */
  acquire(): Promise<() => void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#available > 0) {
      this.#available -= 1;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  fail(error: Error): void {
    this.#failure ??= error;
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) waiter.reject(error);
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next.resolve(this.#releaser());
      else this.#available += 1;
    };
  }
}
