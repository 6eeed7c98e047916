/**
 * Every test host is a systemd (and dbus) that takes ~6 inotify instances, and all hosts count
 * against one user's limit — root's, whatever namespace they run in. Debian's default of 128 stops
 * the 22nd host's systemd (its sshd never starts: "did not answer in time"), so the harness raises
 * the limit to what the fleet needs, never lowers it, and says so.
 */
import { readFile, writeFile } from "node:fs/promises";

const LIMIT_FILE = "/proc/sys/fs/inotify/max_user_instances";
/** Measured: 107 instances for 21 systemd hosts + 21 for their dbus-daemons. Room for more, and for the controller. */
const PER_HOST = 12;
const FOR_THE_MACHINE = 256;

export async function ensureInotifyInstances(hostCount: number, log: (m: string) => void): Promise<void> {
  const needed = hostCount * PER_HOST + FOR_THE_MACHINE;
  const current = Number((await readFile(LIMIT_FILE, "utf8")).trim());
  if (Number.isInteger(current) && current >= needed) return;
  await writeFile(LIMIT_FILE, `${needed}\n`);
  log(`raised fs.inotify.max_user_instances ${current} → ${needed} (each host's systemd and dbus take ~6)`);
}
