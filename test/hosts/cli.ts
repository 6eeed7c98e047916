/**
 * Manual control of the test hosts (needs root):
 *   npx tsx test/hosts/cli.ts base        build the base rootfs if missing/outdated
 *   npx tsx test/hosts/cli.ts up <N>      start N hosts (clears stale state first), leave them running
 *   npx tsx test/hosts/cli.ts down        stop every host and remove all harness state
 *   npx tsx test/hosts/cli.ts status      print the running fleet (from the fleet JSON)
 */
import { cleanupStale, ensureBase, readFleet, startHosts, FLEET_FILE } from "./harness.ts";

const log = (m: string) => console.error(`[testhosts] ${m}`);
const [command, arg] = process.argv.slice(2);

async function main(): Promise<number> {
  switch (command) {
    case "base":
      await ensureBase(log);
      return 0;
    case "up": {
      const count = Number(arg ?? "4");
      const fleet = await startHosts({ count, log });
      console.log(FLEET_FILE);
      for (const h of fleet.hosts) console.log(`${h.name} ${h.address}`);
      console.log(`ssh -i ${fleet.privateKeyPath} -o UserKnownHostsFile=${fleet.knownHostsPath} root@${fleet.hosts[0]?.address}`);
      return 0;
    }
    case "down":
      await cleanupStale();
      log("all test hosts and harness state removed");
      return 0;
    case "status": {
      const fleet = readFleet();
      if (!fleet) {
        console.log("no fleet running");
        return 1;
      }
      console.log(FLEET_FILE);
      for (const h of fleet.hosts) console.log(`${h.name} ${h.address}`);
      return 0;
    }
    default:
      console.error("usage: cli.ts base | up <N> | down | status");
      return 2;
  }
}

process.exitCode = await main();
