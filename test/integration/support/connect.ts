/**
 * Connect to a test host over real SSH (the ssh2 transport), as root or as the sudo user, with
 * host keys verified against the fleet's known_hosts.
 */
import { HostSession } from "../../../src/transport/host-session.ts";
import type { Transport } from "../../../src/transport/transport.ts";
import { connectAs } from "../ssh-support.ts";
import type { FleetHost } from "./fleet.ts";

export type TestUser = "root" | "deploy";

export async function connectTestHost(host: FleetHost, user: TestUser = "root"): Promise<Transport> {
  return connectAs(host, user, user === "root" ? {} : { become: { method: "sudo" } });
}

export async function testSession(host: FleetHost, user: TestUser = "root"): Promise<HostSession> {
  return new HostSession(await connectTestHost(host, user));
}
