import { describe, expect, it } from "vitest";
import { reloadService, restartService, service, type ServiceParams } from "../../../src/steps/service.ts";
import { packages } from "../../../src/steps/packages.ts";
import { applied, mockHost, run, type Distro } from "./system-hosts.ts";

const systemd = (load: string, active: string, enabled: string) => `LoadState=${load}\nActiveState=${active}\nenabled=${enabled}\n`;

const cases: { title: string; distro: Distro; params: ServiceParams; read: string; summary: string | null; commands: string[] }[] = [
  {
    title: "systemd: stopped and disabled → start, enable",
    distro: "debian12",
    params: { name: "postfix", state: "running", enabled: true },
    read: systemd("loaded", "inactive", "disabled"),
    summary: "start, enable",
    commands: ["systemctl enable -- postfix && systemctl start -- postfix"],
  },
  {
    title: "systemd: converged",
    distro: "rocky9",
    params: { name: "postfix", state: "running", enabled: true },
    read: systemd("loaded", "active", "enabled"),
    summary: null,
    commands: [],
  },
  {
    title: "systemd: masked unit is unmasked before it is started",
    distro: "centos7",
    params: { name: "postfix", state: "running" },
    read: systemd("masked", "inactive", "masked"),
    summary: "start",
    commands: ["systemctl unmask -- postfix && systemctl start -- postfix"],
  },
  {
    title: "systemd: stop and disable",
    distro: "centos7",
    params: { name: "sendmail", state: "stopped", enabled: false },
    read: systemd("loaded", "active", "enabled"),
    summary: "stop, disable",
    commands: ["systemctl disable -- sendmail && systemctl stop -- sendmail"],
  },
  {
    title: "systemd: a static unit cannot be enabled — not a change",
    distro: "debian12",
    params: { name: "foo", enabled: true },
    read: systemd("loaded", "active", "static"),
    summary: null,
    commands: [],
  },
  {
    title: "sysv (CentOS 6): chkconfig or update-rc.d, service start",
    distro: "centos6",
    params: { name: "iptables", state: "running", enabled: true },
    read: "exists=yes\nstatus=3\nenabled=no\n",
    summary: "start, enable",
    commands: [
      "if command -v chkconfig >/dev/null 2>&1; then chkconfig iptables on; else update-rc.d iptables defaults >/dev/null && update-rc.d iptables enable; fi && service iptables start",
    ],
  },
  {
    title: "sysv: running and enabled",
    distro: "centos6",
    params: { name: "postfix", state: "running", enabled: true },
    read: "exists=yes\nstatus=0\nenabled=yes\n",
    summary: null,
    commands: [],
  },
];

describe("service", () => {
  it.each(cases)("$title", async (c) => {
    const reads = /^(systemctl show|n=)/;
    const check = mockHost(c.distro).on(reads, { stdout: c.read });
    const checked = await run(check, "check", (facts) => [service(facts, c.params)]);
    expect(checked.step?.status).toBe(c.summary ? "would-change" : "ok");
    expect(checked.step?.summary).toBe(c.summary ?? undefined);
    expect(applied(check)).toEqual([]);

    // Later fixtures win: the generic "ok" first, the read's answer after it.
    const host = mockHost(c.distro)
      .on(/^(systemctl|if command|service)/, { exitCode: 0 })
      .on(reads, { stdout: c.read });
    const result = await run(host, "apply", (facts) => [service(facts, c.params)]);
    expect(result.step?.status).toBe(c.summary ? "changed" : "ok");
    expect(applied(host)).toEqual(c.commands);
  });

  it("reads systemd without --value (CentOS 7's systemd 219 lacks it)", async () => {
    const host = mockHost("centos7").on("systemctl show", { stdout: systemd("loaded", "active", "enabled") });
    await run(host, "check", (facts) => [service(facts, { name: "postfix", state: "running" })]);
    expect(host.commands.find((c) => c.batched)?.command).toBe(
      'systemctl show -p LoadState -p ActiveState -- postfix.service; echo "enabled=$(systemctl is-enabled -- postfix.service 2>/dev/null)"',
    );
  });

  it("a unit that does not exist yet is unknown in check mode after a pending install", async () => {
    const host = mockHost("debian12")
      .on("dpkg-query", { stdout: "@provision:rc 1\n@provision:lists\n" })
      .on("systemctl show", { stdout: systemd("not-found", "inactive", ""), exitCode: 0 });
    const { report } = await run(host, "check", (facts) => [
      packages(facts, { names: ["postfix"] }),
      service(facts, { name: "postfix", state: "running", enabled: true }),
    ]);
    expect(report.steps.map((s) => s.status)).toEqual(["would-change", "unknown"]);
    expect(report.steps[1]?.summary).toContain("not found");
  });

  it("a unit that does not exist without a pending change fails the step", async () => {
    const host = mockHost("debian12").on("systemctl show", { stdout: systemd("not-found", "inactive", "") });
    const { step } = await run(host, "check", (facts) => [service(facts, { name: "nosuch", state: "running" })]);
    expect(step?.status).toBe("failed");
  });

  it.each([
    ["debian12", "reload", "systemctl reload-or-try-restart -- postfix"],
    ["debian12", "restart", "systemctl restart -- postfix"],
    ["centos6", "reload", "if service postfix status >/dev/null 2>&1; then service postfix reload; fi"],
    ["centos6", "restart", "service postfix restart"],
  ] as const)("handler on %s: %s", async (distro, kind, command) => {
    const host = mockHost(distro)
      .on(/^(systemctl|service|if)/, { exitCode: 0 })
      .on(/^(systemctl show|n=)/, {
        stdout: distro === "centos6" ? "exists=yes\nstatus=3\nenabled=yes\n" : systemd("loaded", "inactive", "enabled"),
      });
    const handler = kind === "reload" ? reloadService("postfix") : restartService("postfix");
    const { report } = await run(host, "apply", (facts) => [service(facts, { name: "postfix", state: "running", notify: ["postfix"] })], {
      postfix: handler,
    });
    expect(report.handlers).toEqual([{ name: "postfix", status: "ran" }]);
    expect(applied(host).at(-1)).toBe(command);
  });
});
