/**
 * From a host to a connected Transport: "localhost" (with no other address) runs here; any other
 * host goes over SSH. The name is looked up in ~/.ssh/config the way `ssh NAME` would; the
 * inventory's settings (address, port, user, key, become) are passed along for the SSH transport
 * to apply over it, and command-line flags (--user, --port, --identity) win over the inventory:
 * that merge is made once, in connect-ssh.ts.
 */
import type { InventoryHost } from "../inventory/inventory.ts";
import type { SshArgs } from "../inventory/ssh-args.ts";
import type { Secret } from "../shell/secret.ts";
import { LocalTransport } from "../transport/local.ts";
import { TransportError, type Transport } from "../transport/transport.ts";
import type { ConnectionArgs } from "./options.ts";

/** One host to connect to: the selected name and what the inventory says about reaching it. */
export interface ConnectTarget {
  /** The name the host was selected by (inventory name, ssh config alias, or address). */
  name: string;
  /** Address to connect to instead of the name (Ansible `ansible_host`). */
  address?: string;
  port?: number;
  user?: string;
  identityFiles?: string[];
  /** Run commands as another user (becomeUser, default root) through sudo or su. */
  become?: boolean;
  becomeUser?: string;
  /** "sudo" (default) or "su"; anything else is refused when connecting. */
  becomeMethod?: string;
  /** From the inventory (ansible_become_password); else PROVISION_BECOME_PASSWORD. */
  becomePassword?: Secret;
  /** SSH password (ansible_password). */
  password?: Secret;
  /** "ssh" (default), "local" (this machine, Ansible's ansible_connection=local); others are refused. */
  connection?: string;
  /** ansible_ssh_common_args / ansible_ssh_extra_args, mapped (ProxyCommand, ProxyJump, port, …). */
  sshArgs?: SshArgs;
}

const LOCAL_ADDRESSES = new Set(["localhost", "127.0.0.1", "::1"]);

export function isLocalTarget(target: ConnectTarget): boolean {
  if (target.connection === "local") return true;
  return (
    target.connection === undefined && target.name === "localhost" && (target.address === undefined || LOCAL_ADDRESSES.has(target.address))
  );
}

let sshModule: Promise<typeof import("./connect-ssh.ts")> | undefined;

/**
 * Load the SSH transport (ssh2 and its dependencies) now. Loaded on demand because a localhost run
 * never needs it; but the CLI calls this early when SSH hosts are selected, before the playbook is
 * imported: from then on tsx's hooks are registered and every module load goes through them.
 */
export function loadSshTransport(): Promise<typeof import("./connect-ssh.ts")> {
  sshModule ??= import("./connect-ssh.ts");
  return sshModule;
}

/** `authGate`: SSH only — handshake now, log in when it resolves (see early-connections.ts). */
export async function connectHost(target: ConnectTarget, args: ConnectionArgs, authGate?: Promise<void>): Promise<Transport> {
  if (target.connection !== undefined && target.connection !== "ssh" && target.connection !== "local") {
    throw new TransportError(target.name, "connect", `ansible_connection=${target.connection} is not supported (ssh and local are)`);
  }
  if (isLocalTarget(target)) {
    if (target.connection === "local" && target.become) {
      // LocalTransport runs as the user running provision; pretending to become would lie.
      throw new TransportError(
        target.name,
        "connect",
        "become with ansible_connection=local is not supported: run provision as the user to become",
      );
    }
    return new LocalTransport(target.name);
  }
  const { connectSshHost } = await loadSshTransport();
  return connectSshHost(target.name, args, target, authGate);
}

/** A selected host's connection settings, as the inventory gives them (connect-ssh.ts puts the flags over them). */
export function connectTargetOf(host: InventoryHost): ConnectTarget {
  return {
    name: host.name,
    ...(host.address !== undefined ? { address: host.address } : {}),
    ...(host.port !== undefined ? { port: host.port } : {}),
    ...(host.user !== undefined ? { user: host.user } : {}),
    ...(host.identityFile ? { identityFiles: [host.identityFile] } : {}),
    ...(host.become !== undefined ? { become: host.become } : {}),
    ...(host.becomeUser !== undefined ? { becomeUser: host.becomeUser } : {}),
    ...(host.becomeMethod !== undefined ? { becomeMethod: host.becomeMethod } : {}),
    ...(host.becomePassword !== undefined ? { becomePassword: host.becomePassword } : {}),
    ...(host.password !== undefined ? { password: host.password } : {}),
    ...(host.connection !== undefined ? { connection: host.connection } : {}),
    ...(host.sshArgs !== undefined ? { sshArgs: host.sshArgs } : {}),
  };
}
