import { TransportError, type Transport } from "../transport/transport.ts";
import type { RunArgs } from "./args.ts";

// Replaced when the ssh2 transport lands.
export async function connectSshHost(name: string, _args: RunArgs): Promise<Transport> {
  throw new TransportError(name, "connect", "the SSH transport is not available yet");
}
