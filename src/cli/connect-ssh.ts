/**
 * The SSH side of connectHost: the inventory's settings for the host first, then the command
 * line's --user/--port/--identity over them; ~/.ssh/config fills in the rest inside connectSsh.
 */
import { secret } from "../shell/secret.ts";
import { connectSsh, type BecomeOptions } from "../transport/ssh/index.ts";
import type { Transport } from "../transport/transport.ts";
import type { RunArgs } from "./args.ts";
import type { ConnectTarget } from "./connect.ts";

export async function connectSshHost(name: string, args: RunArgs, target?: ConnectTarget): Promise<Transport> {
  const identityFiles = args.identity.length > 0 ? args.identity : target?.identityFiles;
  const user = args.user ?? target?.user;
  const port = args.port ?? target?.port;
  return connectSsh({
    host: name,
    ...(target?.address !== undefined ? { hostname: target.address } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(identityFiles && identityFiles.length > 0 ? { identityFiles } : {}),
    ...(args.knownHosts.length > 0 ? { knownHostsFiles: args.knownHosts } : {}),
    ...(args.sshConfig !== undefined ? { sshConfigPath: args.sshConfig } : {}),
    acceptNewHostKeys: args.acceptNewHostKeys,
    ...(target?.become || args.become ? { become: becomeOptions() } : {}),
  });
}

/** A sudo password comes from the environment, never from argv; sudo reads it on stdin. */
function becomeOptions(): BecomeOptions {
  const password = process.env.PROVISION_BECOME_PASSWORD;
  if (!password) return { method: "sudo" };
  try {
    return { method: "sudo", password: secret(password) };
  } catch (error) {
    // A refused secret (too short, white space) names where it came from.
    throw new Error(`PROVISION_BECOME_PASSWORD: ${(error as Error).message}`);
  }
}
