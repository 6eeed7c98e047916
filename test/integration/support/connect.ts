/**
 * Connect to a test host over real SSH (the ssh2 transport), as root or as the sudo user, with
 * host keys verified against the fleet's known_hosts.
 */
import { HostSession } from "../../../src/transport/host-session.ts";
import type { Transport } from "../../../src/transport/transport.ts";
import { testFleet, type FleetHost } from "./fleet.ts";

export type TestUser = "root" | "deploy";

export async function connectTestHost(host: FleetHost, user: TestUser = "root"): Promise<Transport> {
  const fleet = testFleet();
  const { connectSsh } = await import("../../../src/transport/ssh/index.ts");
  return connectSsh({
    host: host.address,
    port: host.port,
    user,
    identityFiles: [fleet.privateKeyPath],
    knownHostsFiles: [fleet.knownHostsPath],
    ...(user === "root" ? {} : { become: { method: "sudo" as const } }),
  } as never);
}

export async function testSession(host: FleetHost, user: TestUser = "root"): Promise<HostSession> {
  return new HostSession(await connectTestHost(host, user));
}
