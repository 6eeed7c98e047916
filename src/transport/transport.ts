/**
 * The driver interface every transport implements (mock, local, ssh). Deliberately small: one
 * `exec`, raw bytes in and out. Everything else — quoting, sudo, secrets on stdin, file writes,
 * round-trip counting — is built once on top of it (HostSession, remote-file), so every transport
 * gets it for free and the shared contract test covers them all.
 */
/**
 * The environment variable every command of one connection carries on the host (a random id per
 * transport): the host lock looks for live processes holding its run's id before it breaks a lock
 * whose holder has gone (see src/run/host-lock.ts) — a dead controller's commands may still run.
 */
export const RUN_ID_ENV = "PROVISION_RUN";

/**
 * What a command reads on stdin. Parts are written one after the other, never joined: a header
 * line before a 1 GiB file's content must not cost a second copy of the content.
 */
export type Stdin = Buffer | string | readonly Buffer[];

/** The parts of `stdin`, as Buffers (no copy of a Buffer). */
export function stdinParts(stdin: Stdin | undefined): readonly Buffer[] {
  if (stdin === undefined) return [];
  if (typeof stdin === "string") return [Buffer.from(stdin, "utf8")];
  return Buffer.isBuffer(stdin) ? [stdin] : stdin;
}

/** Write every part, then end the stream. */
export function endWithStdin(stream: { write(chunk: Buffer): unknown; end(): unknown }, stdin: Stdin | undefined): void {
  for (const part of stdinParts(stdin)) stream.write(part);
  stream.end();
}

export interface ExecOptions {
  /** Bytes written to the command's stdin, then stdin is closed. */
  stdin?: Stdin;
  /** Kill the command and throw a TransportError of kind "timeout" after this many milliseconds. */
  timeoutMs?: number;
}

export interface ExecResult {
  /** The command's exit code; 128+N (as a shell reports it) when killed by signal N. */
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface Transport {
  /** The host's name as the user wrote it (inventory name or --host). */
  readonly host: string;
  /**
   * The address this transport really connected to (after ssh config HostName and the inventory's
   * address), for what must reach the host from the controller too (an SMTP check). Unset for a
   * transport with no network address (local, mock): the caller's own idea of the address stands.
   */
  readonly address?: string;
  /**
   * Run a shell command line on the host (with the host's `sh -c`). Never throws because the
   * command failed: a non-zero exit is a result. Throws TransportError when the transport itself
   * fails (cannot connect, connection lost, timeout).
   */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Release the connection. Idempotent. */
  close(): Promise<void>;
}

export type TransportErrorKind =
  | "connect" // could not reach or log in to the host
  | "host-key" // host key unknown or changed: refused before any command
  | "auth" // authentication refused
  | "timeout" // a command or the connection timed out
  | "lost" // the connection dropped while in use
  | "sudo"; // privilege escalation would need a password or was refused

export class TransportError extends Error {
  override readonly name = "TransportError";
  constructor(
    readonly host: string,
    readonly kind: TransportErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${host}: ${message}`, options);
  }
}
