/**
 * Run a command under the host's timeout(1), so a timed-out command stops with all its children.
 *
 * Why: when we give up on a command, sshd closing the channel stops nothing on the host, and the
 * SSH "signal" request we send is not delivered by every sshd (Debian 12's OpenSSH 9.2 ignores it:
 * measured) — a `sleep`, an `apt-get` or a `dpkg` the command started would keep running, holding
 * locks. GNU timeout runs the command in a process group of its own and, `killAfterSeconds` after
 * the start (a second after our own timeout), KILLs that whole group: the host-side backstop that
 * works whatever the sshd. Where our TERM does arrive, timeout relays it to the group at once.
 * A host without timeout(1) runs the command plainly (then nothing stops its children); busybox's
 * timeout signals the command, not its group.
 */
import { quote } from "../../shell/quote.ts";
import { RUN_ID_ENV } from "../transport.ts";

/** `runId` (hex): exported to the command as PROVISION_RUN (inside sudo, which resets the environment). */
export function underHostTimeout(command: string, killAfterSeconds?: number, runId?: string): string {
  if (runId !== undefined && !/^[0-9a-f]+$/.test(runId)) throw new Error(`a run id is hex: ${runId}`);
  const mark = runId === undefined ? "" : `${RUN_ID_ENV}=${runId}; export ${RUN_ID_ENV}; `;
  if (killAfterSeconds === undefined) {
    return mark ? `/bin/sh -c ${quote(`${mark}exec /bin/sh -c "$1"`)} sh ${quote(command)}` : `/bin/sh -c ${quote(command)}`;
  }
  const seconds = Math.max(1, Math.ceil(killAfterSeconds));
  return `/bin/sh -c ${quote(`${mark}command -v timeout >/dev/null 2>&1 && exec timeout -s KILL ${seconds} /bin/sh -c "$1"; exec /bin/sh -c "$1"`)} sh ${quote(command)}`;
}
