import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BOOT_MARKER_COMMAND, parseBootMarker, reboot } from "../../../src/steps/reboot.ts";
import { command } from "../../../src/steps/command.ts";
import { TransportError } from "../../../src/transport/transport.ts";
import { runHost } from "../../../src/run/host-runner.ts";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { mockHost } from "./system-hosts.ts";

/** BOOT_MARKER_COMMAND's output on a Debian 12 test host (the boot id is its machine's: shared kernel). */
const REAL = "boot_id=1e0d6fef-4991-4616-8d21-e6958b9a8aaf\npid1_start=538075\n";
const AFTER_RESTART = "boot_id=1e0d6fef-4991-4616-8d21-e6958b9a8aaf\npid1_start=612301\n";
const AFTER_REBOOT = "boot_id=5b0c3a11-77aa-4e0e-9d1b-0f2c9e3b7a10\npid1_start=412\n";

/**
 * A host that goes down on the reboot command and, after `downFor` connects, answers with
 * `afterwards` — or the same marker forever (`afterwards: REAL`).
 */
function rebootingHost(afterwards: string, downFor = 2) {
  const mock = mockHost("debian12").on(":", { exitCode: 0 });
  let booted = false;
  let connects = 0;
  mock.on(
    (c) => c === BOOT_MARKER_COMMAND.text,
    () => ({ stdout: booted ? afterwards : REAL }),
  );
  mock.on(/systemctl reboot/, () => {
    booted = true;
    return { exitCode: 0 };
  });
  mock.on(/^touch \/etc\/needs-reboot$/, { exitCode: 0 });
  const connect = async () => {
    connects += 1;
    if (booted && connects <= 1 + downFor) throw new TransportError(mock.host, "connect", "connect ECONNREFUSED");
    return mock.reopen();
  };
  return { mock, connect, connects: () => connects };
}

async function runWith(host: ReturnType<typeof rebootingHost>, params: Parameters<typeof reboot>[0]) {
  const playbook = definePlaybook({
    name: "t",
    vars: z.object({}),
    steps: () => [command({ command: "touch /etc/needs-reboot", notify: ["reboot"] })],
    handlers: () => ({ reboot: reboot(params) }),
  });
  return runHost({ playbook, vars: {}, host: { name: host.mock.host, address: host.mock.host }, connect: host.connect, mode: "apply" });
}

describe("reboot handler", () => {
  it("parses the marker captured on a real host", () => {
    expect(parseBootMarker({ exitCode: 0, stdout: Buffer.from(REAL), stderr: Buffer.alloc(0) })).toBe(
      "1e0d6fef-4991-4616-8d21-e6958b9a8aaf/538075",
    );
    expect(() => parseBootMarker({ exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from("cat: denied\n") })).toThrow(
      "cannot read the boot id: cat: denied",
    );
  });

  it.each([
    ["a new boot id (a machine rebooted)", AFTER_REBOOT],
    ["the same boot id but a new PID 1 (a container restarted)", AFTER_RESTART],
  ])("returns once the host is back: %s, reconnecting through refused connects", async (_title, after) => {
    const host = rebootingHost(after, 2);
    const report = await runWith(host, { pollSeconds: 0.01, timeoutSeconds: 5 });
    expect(report.handlers, JSON.stringify(report)).toEqual([{ name: "reboot", status: "ran" }]);
    // first connect, two refused while down, one that answers the new marker
    expect(host.connects()).toBe(4);
    // the reboot is issued detached, so its command returns before sshd goes away
    const issued = host.mock.commands.find((c) => c.command.includes("systemctl reboot"))?.command;
    expect(issued).toBe("nohup sh -c 'sleep 1; systemctl reboot || reboot' >/dev/null 2>&1 </dev/null &");
  });

  it("the same marker is not success: it fails after the bounded time, saying why", async () => {
    const host = rebootingHost(REAL, 0);
    const started = Date.now();
    const report = await runWith(host, { pollSeconds: 0.05, timeoutSeconds: 1 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(report.handlers[0]?.status).toBe("failed");
    expect(report.handlers[0]?.error).toContain("did not come back within 1 s (last: reachable, but not rebooted yet");
  });

  it("a host that never answers again fails after the bounded time with the last connect error", async () => {
    const host = rebootingHost(AFTER_REBOOT, 1_000_000);
    const report = await runWith(host, { pollSeconds: 0.05, timeoutSeconds: 1 });
    expect(report.handlers[0]?.error).toContain("did not come back within 1 s (last: ");
    expect(report.handlers[0]?.error).toContain("ECONNREFUSED");
    // bounded in attempts too: at most timeout/poll + 1 reconnects
    expect(host.connects()).toBeLessThanOrEqual(1 + 21);
  });

  it("--check never reboots: would run", async () => {
    const host = rebootingHost(AFTER_REBOOT);
    const playbook = definePlaybook({
      name: "t",
      vars: z.object({}),
      steps: () => [command({ command: "touch /etc/needs-reboot", notify: ["reboot"] })],
      handlers: () => ({ reboot: reboot() }),
    });
    const report = await runHost({ playbook, vars: {}, host: { name: "h", address: "h" }, connect: host.connect, mode: "check" });
    expect(report.handlers).toEqual([{ name: "reboot", status: "would-run" }]);
    expect(host.mock.commands.some((c) => c.command.includes("reboot"))).toBe(false);
  });

  it("refuses bad parameters", () => {
    expect(() => reboot({ timeoutSeconds: 0 })).toThrow(/timeoutSeconds/);
    expect(() => reboot({ timeoutSecs: 5 } as never)).toThrow(/unknown parameter "timeoutSecs"/);
  });
});
