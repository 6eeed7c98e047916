/**
 * The CLI's connection flags for a test fleet, from its credentials alone (no vitest): the
 * integration tests' fleetCliArgs/fleetSshArgs (test/integration/support/cli.ts) and scripts run
 * outside vitest (test/support/record-bare-mail.ts, with the fleet file's data) build them here.
 * `--ssh-config /dev/null` by default, so the user's own ~/.ssh/config cannot change what a test
 * connects to.
 */
export interface FleetCredentials {
  privateKeyPath: string;
  knownHostsPath: string;
}

export interface FleetSshOptions {
  /** A key file other than the fleet's (a test of a missing key). */
  identity?: string;
  /** A known_hosts file other than the fleet's (a test of host key checking). */
  knownHosts?: string;
  /** An ssh_config instead of none at all. */
  sshConfig?: string;
}

/** `--identity … --known-hosts … --ssh-config …`: for runs that select hosts by inventory (`-i`). */
export function sshCliArgs(fleet: FleetCredentials, options: FleetSshOptions = {}): string[] {
  return [
    "--identity",
    options.identity ?? fleet.privateKeyPath,
    "--known-hosts",
    options.knownHosts ?? fleet.knownHostsPath,
    "--ssh-config",
    options.sshConfig ?? "/dev/null",
  ];
}

/** `--host <address>` (each, in order), `--user root` (or `user`) and sshCliArgs. */
export function hostCliArgs(
  fleet: FleetCredentials,
  hosts: string | readonly string[],
  options: FleetSshOptions & { user?: string } = {},
): string[] {
  const addresses = typeof hosts === "string" ? [hosts] : hosts;
  return [...addresses.flatMap((address) => ["--host", address]), "--user", options.user ?? "root", ...sshCliArgs(fleet, options)];
}
