/**
 * A host that stops answering mid-run: SSH keepalives notice within interval × countMax, and every
 * running, queued and later exec fails with TransportError "lost" — never a hang.
 *
 * Freezing: on the real test hosts, an iptables rule inside the host (entered with the harness's
 * hostExec) drops only this connection's packets (matched on its source port), so other tests
 * using the host are unaffected; it is removed afterwards. On the dev sshd (127.0.0.1), the sshd
 * process serving this connection is stopped with SIGSTOP (and continued afterwards).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { TestHost } from "../hosts/harness.ts";
import type { SshTransport } from "../../src/transport/ssh/index.ts";
import { TransportError } from "../../src/transport/transport.ts";
import { connectAs, devFleet, fleet, host } from "./ssh-support.ts";

async function freeze(t: SshTransport, target: TestHost): Promise<() => Promise<void>> {
  const info = (await t.exec('echo "$PPID $SSH_CLIENT"')).stdout.toString().trim().split(/\s+/);
  const [ppid, clientIp, clientPort] = info;
  if (devFleet) {
    const pid = Number(ppid);
    expect(readFileSync(`/proc/${pid}/comm`, "utf8").trim()).toBe("sshd");
    process.kill(pid, "SIGSTOP");
    return async () => {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // already gone
      }
    };
  }
  const { hostExec } = await import("../hosts/harness.ts");
  const rule = `INPUT -p tcp -s ${clientIp} --sport ${clientPort} --dport ${target.port} -j DROP`;
  const added = await hostExec(target, `iptables -I ${rule}`);
  expect(added.exitCode).toBe(0);
  return async () => {
    await hostExec(target, `iptables -D ${rule}`);
  };
}

describe.skipIf(!fleet)("ssh transport: lost connection", () => {
  it("fails running and new execs with TransportError 'lost' within keepalive bounds", async () => {
    const target = host((fleet?.hosts.length ?? 1) - 1);
    const t = await connectAs(target, "root", { keepaliveInterval: 1_000, keepaliveCountMax: 2 });
    let unfreeze: (() => Promise<void>) | undefined;
    try {
      expect((await t.exec("echo alive")).stdout.toString()).toBe("alive\n");
      const running = t.exec("sleep 30").then(
        () => undefined,
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, 300));
      unfreeze = await freeze(t, target);
      const started = Date.now();
      const next = await t.exec("echo hello").then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      expect(next).toBeInstanceOf(TransportError);
      expect((next as TransportError).kind).toBe("lost");
      expect((next as TransportError).host).toBe(target.address);
      expect(elapsed).toBeLessThan(15_000);
      const runningError = await running;
      expect(runningError).toBeInstanceOf(TransportError);
      expect((runningError as TransportError).kind).toBe("lost");
      // Later execs fail at once.
      const later = Date.now();
      await expect(t.exec("true")).rejects.toMatchObject({ kind: "lost" });
      expect(Date.now() - later).toBeLessThan(100);
    } finally {
      await unfreeze?.();
      await t.close();
    }
  }, 40_000);

  it("close() is idempotent and later execs fail as 'lost'", async () => {
    const t = await connectAs(host(0), "root");
    await t.close();
    await t.close();
    await expect(t.exec("true")).rejects.toMatchObject({ kind: "lost" });
  });
});
