/**
 * The floor: what connecting to the hosts and running one command costs at least, measured as a
 * process like the tools are. ssh2 from Node (bench/floor-ssh2.mjs: all hosts in parallel, plain
 * JavaScript) and OpenSSH (`ssh HOST true`, all hosts in parallel, no ControlMaster).
 */
import path from "node:path";
import { hostArg } from "./distance.ts";
import type { TestFleet, TestHost } from "./fleet.ts";
import { node, REPO } from "./tools.ts";

export type FloorKind = "floor-ssh2" | "floor-openssh";
export const FLOORS: FloorKind[] = ["floor-ssh2", "floor-openssh"];

export function floorCommand(kind: FloorKind, fleet: TestFleet, hosts: TestHost[]): string[] {
  if (kind === "floor-ssh2") {
    return [node(), path.join(REPO, "bench/floor-ssh2.mjs"), fleet.privateKeyPath, fleet.knownHostsPath, "root", ...hosts.map(hostArg)];
  }
  const ssh = [
    "ssh",
    "-n",
    "-i",
    fleet.privateKeyPath,
    "-o",
    `UserKnownHostsFile=${fleet.knownHostsPath}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "ControlMaster=no",
    "-o",
    "ControlPath=none",
    "-F",
    "/dev/null",
  ].join(" ");
  // One shell starts them all and fails if any failed.
  const script = `pids=; while [ $# -gt 0 ]; do ${ssh} -p "$2" "root@$1" true & pids="$pids $!"; shift 2; done; rc=0; for p in $pids; do wait "$p" || rc=1; done; exit $rc`;
  return ["sh", "-c", script, "sh", ...hosts.flatMap((h) => [h.address, String(h.port)])];
}
