/**
 * systemdDaemonReload with outputs recorded on a Debian 12 test host
 * (`systemctl show -p NeedDaemonReload -p DropInPaths -- opendkim.service`): converged (the
 * drop-in loaded), and right after a new drop-in directory was written — where systemd 252 still
 * says NeedDaemonReload=no, so only the missing DropInPaths entry shows the drift.
 */
import { describe, expect, it } from "vitest";
import { systemdDaemonReload } from "../../../src/steps/systemd-daemon-reload.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

const DROP_IN = "/etc/systemd/system/opendkim.service.d/provision.conf";
const LOADED = `DropInPaths=${DROP_IN}\nNeedDaemonReload=no\n`;
const NEW_DROP_IN = "DropInPaths=\nNeedDaemonReload=no\n"; // recorded: a new opendkim.service.d/provision.conf, before daemon-reload

async function runWith(stdout: string, mode: "check" | "apply", exitCode = 0) {
  const mock = mockHost("debian12")
    .on((c) => c.startsWith("systemctl show -p NeedDaemonReload"), { stdout, exitCode })
    .on("systemctl daemon-reload", {});
  const result = await run(mock, mode, () => [systemdDaemonReload({ unit: "opendkim", dropIn: DROP_IN })]);
  return { step: result.step!, mock };
}

describe("systemdDaemonReload", () => {
  it("systemd says the unit is current → ok, nothing sent", async () => {
    const { step, mock } = await runWith(LOADED, "apply");
    expect(step.status).toBe("ok");
    expect(applied(mock)).toEqual([]);
  });

  it("a new drop-in systemd has not loaded (NeedDaemonReload still no) → daemon-reload", async () => {
    const { step, mock } = await runWith(NEW_DROP_IN, "apply");
    expect(step.summary).toBe("systemctl daemon-reload (opendkim.service changed on disk)");
    expect(applied(mock)).toEqual(["systemctl daemon-reload"]);
  });

  it("systemd says a loaded file changed on disk → daemon-reload", async () => {
    const { step, mock } = await runWith(LOADED.replace("=no", "=yes"), "apply");
    expect(step.summary).toBe("systemctl daemon-reload (opendkim.service changed on disk)");
    expect(applied(mock)).toEqual(["systemctl daemon-reload"]);
  });

  it("an answer that is not yes/no is a read failure, not a guess", async () => {
    const { step } = await runWith("", "check", 1);
    expect(step.status).toBe("failed");
    expect(step.error).toMatch(/cannot ask systemd about opendkim\.service/);
  });
});
