/**
 * The step contract (see docs/ARCHITECTURE.md, "The one idea"). A step never knows whether it runs in check
 * mode: the runner simply never calls `apply` then. That is what keeps `--check` exact.
 */
import type { ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";
import type { HostSession } from "../transport/host-session.ts";
import type { Facts } from "../facts/facts.ts";
import type { Resource } from "./resources.ts";
import type { StepOutput } from "../report/events.ts";

/** How a step reads its current state: a remote command and a pure parser of its result. */
export interface RemoteRead<S> {
  command: ShellCommand;
  /** Pure. Throw (ReadFailedError or any Error) when the state cannot be determined. */
  parse(result: ExecResult): S;
  /**
   * Commands the read needs on the host (`["postconf"]`). When the read fails because one is
   * missing (exit 127, the shell's "postconf: not found"), the runner fails it with one clear
   * error ("postconf not found on vps1: is Postfix installed?", src/shell/read-output.ts) instead
   * of calling `parse`. A tool the read does not run first is checked with `needTool()`.
   */
  requiresTools?: readonly string[];
}

/** A read done on the controller (e.g. an SMTP or DNS probe from here), run beside the batch. */
export interface LocalRead<S> {
  /**
   * `beforeLogin`, when given: what the read sends that identifies the playbook (a login with its
   * credentials) waits for it, and a rejection ends the read before that. The runner gives one to
   * a read it starts before the host's connection confirmed the address (reads-ahead.ts); the
   * connection, greeting and TLS handshake may go ahead meanwhile.
   */
  local(beforeLogin?: Promise<void>): Promise<S>;
}

export type ReadSpec<S> = RemoteRead<S> | LocalRead<S>;

export interface TextDiff {
  /** The file (or pseudo-file) the text belongs to; a header in the unified diff. */
  label: string;
  before: string;
  after: string;
}

export interface Change {
  /** One line: what would change ("set smtpd_banner: '$myhostname ESMTP $mail_name' → '$myhostname ESMTP'"). */
  summary: string;
  /** For text, before/after so `--diff` can show a unified diff. */
  diff?: TextDiff;
  /**
   * What this change touches, when it is narrower than everything the step may change
   * (Step.provides): a user whose password alone differs changes `user:bob:password`, not the
   * home directory a later `authorizedKey` step reads. `--check` counts this as the pending change.
   */
  provides?: readonly Resource[];
}

/** What an apply that only running could decide tells the runner (Step.apply). */
export interface ApplyOutcome {
  changed: boolean;
  /** The report's summary instead of the change's ("ran; changedWhen: no change"). */
  summary?: string;
}

export interface ApplyContext {
  session: HostSession;
  facts: Facts;
  host: string;
  /** Connect the session to the host again, as the run first did (after a reboot). */
  reconnect?: () => Promise<void>;
}

export interface Step<S = unknown> {
  /** Kind of step: "file", "postconf", … */
  readonly kind: string;
  /** What the user reads in the output: "postconf main.cf", "file /etc/postfix/sasl/smtpd.conf". */
  readonly name: string;
  read(): ReadSpec<S>;
  /**
   * Pure: current state → nothing to do (null) or the change, with its typed `plan` (the step's own
   * `interface XChange extends Change { plan: XPlan }`). Throw InvalidStepError for bad input.
   */
  diff(current: S): Change | null;
  /**
   * Make the change: carry out `change.plan`, never decide again from `current`. Absent for
   * read-only steps (verifications): a change is then a failure. Returns nothing (it changed), or
   * an ApplyOutcome when only running it could tell (a command's changedWhen): `{ changed: false }`
   * is reported ok and notifies no handler.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: most steps' apply returns nothing (an async function's Promise<void>); undefined would make every one of them write 'return undefined'.
  apply?(context: ApplyContext, current: S, change: Change): Promise<void | ApplyOutcome>;
  /** Handlers to notify when this step changes something. */
  readonly notify?: readonly string[];
  /**
   * Values the user needs from this step once it has read (or made) its state — the DKIM record
   * to publish, say. Called when the step's result is recorded; undefined or empty when there is
   * nothing to tell yet (in --check on a host where the key does not exist).
   */
  outputs?(): readonly StepOutput[] | undefined;
  /** For `--tags` / `--skip-tags` (set with `tagged()`, see tags.ts). */
  readonly tags?: readonly string[];
  /**
   * What `apply` may change (resources.ts: `path:/etc/x`, `iptables:ipv4:filter:INPUT`, `*`).
   * Undeclared: `*` (anything). A step without `apply` changes nothing.
   */
  readonly provides?: readonly Resource[];
  /**
   * What `read` and `diff` depend on. In `--check`, while an earlier step that would change (or
   * might: unknown) provides one of these, this step's result is `unknown (depends on a pending
   * change …)` — its failure, its drift and its ok alike, since apply would see another state.
   * Undeclared: `*`, but only a failed read or diff becomes unknown (a successful diff is shown as
   * it is): the behaviour users' own steps had before steps declared what they touch.
   */
  readonly requires?: readonly Resource[];
}

export interface Handler {
  /** Runs once after the steps (or at a flushHandlers marker) when a notifying step changed. */
  run(context: ApplyContext): Promise<void>;
}

/** A marker in the step list: run the handlers notified so far, here (like Ansible's flush_handlers). */
export interface FlushHandlers {
  readonly kind: "flush-handlers";
  readonly name: string;
}

/** A step of any state type: what a list of steps holds. */
// biome-ignore lint/suspicious/noExplicitAny: a playbook mixes steps of every state type; Step<unknown> would reject them (apply takes the state contravariantly).
export type AnyStep = Step<any>;
export type PlaybookItem = AnyStep | FlushHandlers;

export function flushHandlers(): FlushHandlers {
  return { kind: "flush-handlers", name: "flush handlers" };
}

export function isFlushHandlers(item: PlaybookItem): item is FlushHandlers {
  return item.kind === "flush-handlers";
}

export function isLocalRead<S>(read: ReadSpec<S>): read is LocalRead<S> {
  return "local" in read;
}

/** The step's input is wrong (an unknown Postfix parameter, say): always fatal, even in check mode. */
export class InvalidStepError extends Error {
  override readonly name = "InvalidStepError";
}

/**
 * Apply failed and left the host exactly as it was (a write refused by its validation, or whose
 * content did not arrive whole: the temp file never replaced the real one). The runner then takes
 * back the handlers it recorded as owed for this step: nothing changed, so nothing is owed.
 * Throw it only when that is certain — a step that may have changed something throws anything else.
 */
export class HostUnchangedError extends Error {
  override readonly name = "HostUnchangedError";
}

/** The read ran but the state could not be determined (a command missing, a file unreadable). */
export class ReadFailedError extends Error {
  override readonly name = "ReadFailedError";
}
