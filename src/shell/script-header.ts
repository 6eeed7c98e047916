/**
 * The first line of every script the runner sends on its own behalf (the read batch, the host lock,
 * the owed-handlers record): `# provision-<name> v1 <json args>`. A comment to the shell; to a
 * reader of `-vv` output or a test double (the mock host, src/transport/mock.ts) it says which
 * script this is and with which arguments, so nothing has to recognise a script by its shell text.
 * The arguments are what the script was built from (a token, a file name, handler names), never a
 * secret; JSON keeps them on one line.
 */
import { raw } from "./sh.ts";

export const SCRIPT_HEADER_VERSION = 1;

export function scriptHeader(name: string, args: Record<string, unknown>): ReturnType<typeof raw> {
  return raw(`# provision-${name} v${SCRIPT_HEADER_VERSION} ${JSON.stringify(args)}`);
}
