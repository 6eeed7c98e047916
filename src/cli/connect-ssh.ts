/**
 * The SSH side of connectHost: the inventory's settings for the host first, then the command
 * line's --user/--port/--identity over them; ~/.ssh/config fills in the rest inside connectSsh.
 */
import { mask } from "../shell/mask.ts";
import { Secret } from "../shell/secret.ts";
import { connectSsh, type BecomeOptions } from "../transport/ssh/index.ts";
import { TransportError, type Transport } from "../transport/transport.ts";
import type { ConnectionArgs } from "./options.ts";
import type { ConnectTarget } from "./connect.ts";

export async function connectSshHost(
  name: string,
  args: ConnectionArgs,
  target?: ConnectTarget,
  authGate?: Promise<void>,
): Promise<Transport> {
  const sshArgs = target?.sshArgs ?? {};
  // Command line > the inventory's own vars > what its ssh args say > ~/.ssh/config.
  const identityFiles = args.identity.length > 0 ? args.identity : (target?.identityFiles ?? sshArgs.identityFiles);
  const user = args.user ?? target?.user ?? sshArgs.user;
  const port = args.port ?? target?.port ?? sshArgs.port;
  const knownHostsFiles = args.knownHosts.length > 0 ? args.knownHosts : sshArgs.knownHostsFiles;
  return connectSsh({
    host: name,
    ...(target?.address !== undefined ? { hostname: target.address } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(identityFiles && identityFiles.length > 0 ? { identityFiles } : {}),
    ...(knownHostsFiles && knownHostsFiles.length > 0 ? { knownHostsFiles } : {}),
    ...(args.sshConfig !== undefined ? { sshConfigPath: args.sshConfig } : {}),
    ...(sshArgs.proxyCommand !== undefined ? { proxyCommand: sshArgs.proxyCommand } : {}),
    ...(sshArgs.proxyJump !== undefined ? { proxyJump: sshArgs.proxyJump } : {}),
    ...(target?.password ? { password: target.password } : {}),
    acceptNewHostKeys: args.acceptNewHostKeys || sshArgs.acceptNewHostKeys === true,
    ...(target?.become || args.become ? { become: becomeOptions(name, target) } : {}),
    ...(authGate ? { authGate } : {}),
    // -vv: the SSH protocol's own trace, masked like everything else that is printed.
    ...(args.verbosity >= 2 ? { debug: (message: string) => void process.stderr.write(`provision: ssh ${name}: ${mask(message)}\n`) } : {}),
  });
}

/**
 * sudo (default) or su, as root or `becomeUser`. The password comes from the inventory
 * (ansible_become_password, e.g. vault-encrypted) or the environment, never from argv; it is sent
 * on stdin.
 */
function becomeOptions(name: string, target: ConnectTarget | undefined): BecomeOptions {
  const method = target?.becomeMethod ?? "sudo";
  if (method !== "sudo" && method !== "su") {
    throw new TransportError(name, "connect", `ansible_become_method=${method} is not supported (sudo and su are)`);
  }
  const fromEnv = process.env.PROVISION_BECOME_PASSWORD;
  const password = target?.becomePassword ?? (fromEnv ? new Secret(fromEnv, { shortValues: "whole-words" }) : undefined);
  return { method, ...(target?.becomeUser !== undefined ? { user: target.becomeUser } : {}), ...(password ? { password } : {}) };
}
