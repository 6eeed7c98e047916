/**
 * Early connections: the SSH handshakes of the hosts a run starts first begin while the playbook
 * loads and every host's vars are validated, instead of after. Loading costs ~0.1–0.3 s and a
 * handshake 3–4 round trips (TCP, key exchange, the host key check); overlapped, a converged
 * 1-host check at 100 ms saves ~0.3 s.
 *
 * Bad input still touches no host: only the handshake runs early. The login waits behind a gate
 * (the transport's `authGate`) that `open()` opens once the input is valid; `close()` without
 * `open()` ends every connection before any login (sshd logs no session, no command runs), as
 * does a ProxyCommand, which is not even started before the gate opens.
 *
 * Only when the order is plain: no --batches and no --shard (the fleet starts its first
 * `concurrency` hosts at once, in selection order), no --accept-new-host-keys (that writes
 * known_hosts during the handshake), no list mode, SSH targets only.
 */
import { TransportError, type Transport } from "../transport/transport.ts";
import { connectHost, isLocalTarget, type ConnectTarget } from "./connect.ts";
import type { ConnectionArgs } from "./options.ts";

/** A gate held longer than this may have outlived the handshake timeout: such a failure connects again. */
const RETRY_AFTER_HELD_MS = 1_000;

export interface EarlyConnectionPlan {
  targets: readonly ConnectTarget[];
  concurrency: number;
  /** False when the run's order is not plain (batches, shard) or it makes no connection (list modes). */
  eligible: boolean;
  acceptNewHostKeys: boolean;
}

type Connect = (target: ConnectTarget, args: ConnectionArgs, authGate?: Promise<void>) => Promise<Transport>;

interface Pending {
  connection: Promise<Transport>;
  startedAt: number;
}

export class EarlyConnections {
  readonly #pending = new Map<string, Pending>();
  readonly #gate: Promise<void>;
  #openGate!: () => void;
  #closeGate!: (reason: Error) => void;
  #openedAt: number | undefined;

  constructor(
    plan: EarlyConnectionPlan,
    readonly args: ConnectionArgs,
    readonly connect: Connect = connectHost,
  ) {
    this.#gate = new Promise<void>((resolve, reject) => {
      this.#openGate = resolve;
      this.#closeGate = reject;
    });
    // A gate closed with nobody waiting must not surface as an unhandled rejection.
    this.#gate.catch(() => undefined);
    if (!plan.eligible || plan.acceptNewHostKeys) return;
    for (const target of plan.targets.slice(0, Math.max(0, plan.concurrency))) {
      if (isLocalTarget(target) || (target.connection !== undefined && target.connection !== "ssh")) continue;
      if (this.#pending.has(target.name)) continue;
      const connection = this.connect(target, args, this.#gate);
      // Its failure is reported when the host runs (take()), or dropped if it never does.
      connection.catch(() => undefined);
      this.#pending.set(target.name, { connection, startedAt: Date.now() });
    }
  }

  /** How many handshakes were started early. */
  get started(): number {
    return this.#pending.size;
  }

  /** The input is valid: the early connections may log in. */
  open(): void {
    this.#openedAt ??= Date.now();
    this.#openGate();
  }

  /**
   * The host's connection: the early one the first time (then it is gone: a reconnect connects
   * anew), else a new one. An early handshake that timed out while the gate was held long is
   * retried once, since the wait, not the host, may have caused it.
   */
  take(target: ConnectTarget): Promise<Transport> {
    const pending = this.#pending.get(target.name);
    if (!pending) return this.connect(target, this.args);
    this.#pending.delete(target.name);
    const held = (this.#openedAt ?? Date.now()) - pending.startedAt;
    return pending.connection.catch((error: unknown) => {
      if (error instanceof TransportError && error.kind === "timeout" && held > RETRY_AFTER_HELD_MS) {
        return this.connect(target, this.args);
      }
      throw error;
    });
  }

  /**
   * End every connection not taken. Before open(): none has logged in, and none will. After: the
   * hosts the run never started (none, in the plain order this is used for) are closed.
   */
  async close(): Promise<void> {
    this.#closeGate(new Error("the run ended before this host was started"));
    const left = [...this.#pending.values()];
    this.#pending.clear();
    await Promise.all(
      left.map(({ connection }) =>
        connection.then(
          (transport) => transport.close().catch(() => undefined),
          () => undefined,
        ),
      ),
    );
  }
}
