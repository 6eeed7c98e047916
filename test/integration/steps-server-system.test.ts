/**
 * The server's system steps on a real Debian 12 host (fleet position 17): sysctl (a net.* key:
 * the test hosts' /proc/sys is read-only except /proc/sys/net), systemdUnit (a unit of our own,
 * and a drop-in for the packaged cron.service), cron (a user's crontab and a /etc/cron.d file),
 * link. One playbook through the whole cycle, then each step tampered with in turn: the check
 * must name exactly that step. Results are read back with the system's own tools (sysctl -n,
 * systemctl show, crontab -l, readlink).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { TestHost } from "../hosts/harness.ts";
import type {} from "../hosts/global-setup.ts";
import { testHost } from "./support/fleet.ts";
import { cycle, drifted, onHost, play } from "./support/steps-cycle.ts";
import { createHash } from "node:crypto";
import { cron, download, hostname, link, sysctl, systemdUnit, timezone, waitFor } from "../../src/steps/index.ts";

const fleet = inject("fleet");
// Position 17 in the full suite; PROVISION_STEPS_SERVER_SYSTEM_HOST runs this file alone on a small fleet.
const POSITION = Number(process.env.PROVISION_STEPS_SERVER_SYSTEM_HOST ?? 17);

const UNIT =
  "[Unit]\nDescription=provision test sleeper\n\n[Service]\nExecStart=/bin/sleep 100000\n\n[Install]\nWantedBy=multi-user.target\n";
const CLEANUP = [
  "systemctl disable --now provision-sleep.service cron.service 2>/dev/null",
  "rm -rf /etc/systemd/system/provision-sleep.service /etc/systemd/system/cron.service.d /etc/sysctl.d/90-provision-test.conf /etc/cron.d/provision-test /srv/provision-link",
  "crontab -r -u deploy 2>/dev/null",
  "systemctl daemon-reload",
  "echo 0 > /proc/sys/net/ipv4/ip_forward",
  "true",
].join("; ");

describe.skipIf(!fleet)("system steps of the server on a real host", () => {
  let h: TestHost;
  const steps = () => [
    sysctl({ key: "net.ipv4.ip_forward", value: 1, file: "/etc/sysctl.d/90-provision-test.conf" }),
    systemdUnit({ name: "provision-sleep.service", content: UNIT, enabled: true, state: "running" }),
    systemdUnit({ name: "cron.service", dropIn: "nice", content: "[Service]\nNice=5\n", enabled: true, state: "running" }),
    cron({ name: "backup", job: "/usr/local/bin/backup --quiet", minute: "30", hour: "2", user: "deploy" }),
    cron({ name: "rotate", job: "/usr/bin/true", minute: "*/5", user: "root", cronFile: "provision-test" }),
    link({ path: "/srv/provision-link", target: "/etc/hostname" }),
  ];

  beforeAll(async () => {
    h = testHost(POSITION);
    await onHost(h, CLEANUP);
  });
  afterAll(async () => {
    if (h) await onHost(h, CLEANUP);
  });

  it("the whole cycle; results read back with sysctl, systemctl, crontab and readlink", { timeout: 300_000 }, async () => {
    const drift = await cycle(h, steps, "echo 0 > /proc/sys/net/ipv4/ip_forward");
    expect(drifted(drift)).toEqual(["sysctl net.ipv4.ip_forward = 1"]);
    expect(drift.steps[0]?.summary).toBe("live 0 → 1");

    expect((await onHost(h, "sysctl -n net.ipv4.ip_forward")).trim()).toBe("1");
    expect(await onHost(h, "cat /etc/sysctl.d/90-provision-test.conf")).toBe("net.ipv4.ip_forward = 1\n");
    expect((await onHost(h, "systemctl is-active provision-sleep.service; systemctl is-enabled provision-sleep.service")).trim()).toBe(
      "active\nenabled",
    );
    expect((await onHost(h, "systemctl show -p Nice -p ActiveState -p NeedDaemonReload cron.service")).trim().split("\n").sort()).toEqual([
      "ActiveState=active",
      "NeedDaemonReload=no",
      "Nice=5",
    ]);
    expect(await onHost(h, "crontab -l -u deploy")).toBe("#Ansible: backup\n30 2 * * * /usr/local/bin/backup --quiet\n");
    expect(await onHost(h, "cat /etc/cron.d/provision-test; stat -c %a /etc/cron.d/provision-test")).toBe(
      "#Ansible: rotate\n*/5 * * * * root /usr/bin/true\n644\n",
    );
    expect((await onHost(h, "readlink /srv/provision-link")).trim()).toBe("/etc/hostname");
  });

  it.each([
    [
      "the sysctl file",
      "sed -i 's/= 1/= 0/' /etc/sysctl.d/90-provision-test.conf",
      "sysctl net.ipv4.ip_forward = 1",
      "/etc/sysctl.d/90-provision-test.conf: content",
    ],
    ["the unit's state", "systemctl stop provision-sleep.service", "systemd unit provision-sleep.service", "start"],
    [
      "the unit file",
      "sed -i 's/100000/99/' /etc/systemd/system/provision-sleep.service && systemctl daemon-reload",
      "systemd unit provision-sleep.service",
      "/etc/systemd/system/provision-sleep.service: content, daemon-reload",
    ],
    [
      "the drop-in",
      "rm -r /etc/systemd/system/cron.service.d && systemctl daemon-reload",
      "systemd unit cron.service (drop-in nice)",
      "create /etc/systemd/system/cron.service.d/nice.conf, daemon-reload",
    ],
    ["the crontab", "crontab -r -u deploy", "cron backup (crontab of deploy)", "add job backup"],
    [
      "the cron.d file",
      "sed -i 's#/usr/bin/true#/usr/bin/false#' /etc/cron.d/provision-test",
      "cron rotate (/etc/cron.d/provision-test)",
      "update job rotate",
    ],
    ["the link", "ln -sfn /etc/hosts /srv/provision-link", "link /srv/provision-link → /etc/hostname", "target /etc/hosts → /etc/hostname"],
  ])("tampering with %s is drift in exactly that step, fixed by apply", { timeout: 120_000 }, async (_what, tamper, name, summary) => {
    await onHost(h, tamper);
    const check = await play(h, "check", steps);
    expect(drifted(check.report)).toEqual([name]);
    expect(check.report.steps.find((s) => s.name === name)?.summary).toBe(summary);
    expect((await play(h, "apply", steps)).report.counts.changed).toBe(1);
    expect((await play(h, "check", steps)).report.status).toBe("ok");
  });

  // The unit-file tamper above reloaded systemd with "sleep 99": only our daemon-reload brings 100000 back.
  it("the changed unit file was reloaded: systemd runs what the file says", async () => {
    expect((await onHost(h, "systemctl show -p ExecStart provision-sleep.service")).includes("/bin/sleep ; argv[]=/bin/sleep 100000")).toBe(
      true,
    );
  });

  it("a sysctl value the kernel refuses fails the step and is not written for the next boot", async () => {
    const bad = () => [sysctl({ key: "net.ipv4.ip_forward", value: "not-a-number", file: "/etc/sysctl.d/90-provision-test.conf" })];
    const { report } = await play(h, "apply", bad);
    expect(report.steps[0]?.status).toBe("failed");
    expect(await onHost(h, "cat /etc/sysctl.d/90-provision-test.conf")).toBe("net.ipv4.ip_forward = 1\n");
  });

  it("hostile values are stored exactly, never run", async () => {
    const job = "echo '$(touch /tmp/pwned-cron)' `id` ; true";
    const target = "/x'; touch /tmp/pwned-link; '$(id)";
    const hostile = () => [cron({ name: "hostile 'name' $(id)", job, user: "deploy" }), link({ path: "/srv/provision-link", target })];
    expect((await play(h, "apply", hostile)).report.status).toBe("changed");
    expect(await onHost(h, "crontab -l -u deploy")).toContain(`#Ansible: hostile 'name' $(id)\n* * * * * ${job}\n`);
    expect((await onHost(h, "readlink /srv/provision-link")).trim()).toBe(target);
    expect(await onHost(h, "ls /tmp")).not.toContain("pwned");
    expect((await play(h, "check", hostile)).report.status).toBe("ok");
    await onHost(h, "crontab -r -u deploy");
  });

  it("hostname and timezone: the cycle, read back with uname, /etc/hostname and date", { timeout: 200_000 }, async () => {
    const original = (await onHost(h, "uname -n")).trim();
    const both = () => [hostname({ name: "srv17.example.test" }), timezone({ name: "Europe/Berlin" })];
    try {
      const drift = await cycle(h, both, "hostname other-name");
      expect(drifted(drift)).toEqual(["hostname srv17.example.test"]);
      expect(drift.steps[0]?.summary).toBe("live other-name → srv17.example.test");
      expect(await onHost(h, "uname -n; cat /etc/hostname")).toBe("srv17.example.test\nsrv17.example.test\n");
      expect((await onHost(h, "date +%Z; cat /etc/timezone")).trim()).toMatch(/^CES?T\nEurope\/Berlin$/);
      await onHost(h, "ln -sfn /usr/share/zoneinfo/Etc/UTC /etc/localtime");
      const tz = await play(h, "check", both);
      expect(drifted(tz.report)).toEqual(["timezone Europe/Berlin"]);
      expect(tz.report.steps[1]?.summary).toBe("/etc/localtime → /usr/share/zoneinfo/Etc/UTC → /usr/share/zoneinfo/Europe/Berlin");
    } finally {
      await onHost(
        h,
        `hostname ${original} && echo ${original} > /etc/hostname && ln -sfn /usr/share/zoneinfo/Etc/UTC /etc/localtime && echo Etc/UTC > /etc/timezone`,
      );
    }
  });

  it("download and waitFor against an HTTP server on the host's own loopback (our address only)", { timeout: 200_000 }, async () => {
    const body = "hello download\n";
    const sha256 = createHash("sha256").update(body).digest("hex");
    // The server starts 2 s late, so waitFor must really wait; it and its timeout(1) end by themselves.
    await onHost(
      h,
      `rm -rf /srv/www /srv/dl.txt; mkdir -p /srv/www && printf 'hello download\\n' > /srv/www/f.txt
      (sleep 2; exec timeout 150 python3 -m http.server 8099 --bind 127.0.0.1 --directory /srv/www) >/dev/null 2>&1 &`,
    );
    const wait = () => [waitFor({ port: 8099, timeoutSeconds: 30 })];
    expect((await play(h, "check", wait)).report.steps[0]?.status).toBe("would-change");
    expect((await play(h, "apply", wait)).report.status).toBe("changed");
    expect((await play(h, "check", wait)).report.status).toBe("ok");

    const steps = () => [download({ url: "http://127.0.0.1:8099/f.txt", dest: "/srv/dl.txt", sha256, mode: "0640" })];
    const drift = await cycle(h, steps, "echo tampered > /srv/dl.txt");
    expect(drift.steps[0]?.summary).toMatch(/^fetch http:\/\/127\.0\.0\.1:8099\/f\.txt \(sha256 [0-9a-f]{12}… → [0-9a-f]{12}…\)$/);
    expect(await onHost(h, "sha256sum /srv/dl.txt | cut -d' ' -f1; stat -c %a /srv/dl.txt")).toBe(`${sha256}\n640\n`);

    // A digest that does not match what the server sends: the step fails, the file stays as it was.
    const wrong = () => [download({ url: "http://127.0.0.1:8099/f.txt", dest: "/srv/dl.txt", sha256: "0".repeat(64) })];
    const failed = await play(h, "apply", wrong);
    expect(failed.report.steps[0]?.status).toBe("failed");
    expect(failed.report.steps[0]?.error).toMatch(/validation failed|sha256 differs/);
    expect(await onHost(h, "cat /srv/dl.txt")).toBe(body);
    expect(await onHost(h, "ls -a /srv")).not.toContain(".provision-");
    // A port nobody listens on: the wait fails after its bound.
    const never = await play(h, "apply", () => [waitFor({ port: 8098, timeoutSeconds: 2 })]);
    expect(never.report.steps[0]?.status).toBe("failed");
    expect(never.report.steps[0]?.error).toContain("timed out after 2 s");
    await onHost(h, "rm -rf /srv/www /srv/dl.txt");
  });
});
