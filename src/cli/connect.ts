/**
 * From a host name to a connected Transport: "localhost" runs here; any other name goes over SSH
 * (resolved through ~/.ssh/config the way `ssh NAME` would).
 */
import { LocalTransport } from "../transport/local.ts";
import type { Transport } from "../transport/transport.ts";
import type { RunArgs } from "./args.ts";

export async function connectHost(name: string, args: RunArgs): Promise<Transport> {
  if (name === "localhost") return new LocalTransport(name);
  const { connectSshHost } = await import("./connect-ssh.ts");
  return connectSshHost(name, args);
}
