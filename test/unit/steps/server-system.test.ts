/**
 * sysctl, systemdUnit, link and cron. Read outputs captured on a real Debian 12 test host
 * (systemd 252, cron 3.0pl1, procps): each step's read command (`readSysctlCommand`,
 * `readUnitCommand`, `readLinkCommand`, `readCrontabCommand` `.text`, printed with tsx) piped to
 * `ssh root@10.213.8.10 sh`, after
 *   printf "# x\nnet.ipv4.ip_forward = 1\n" > /etc/sysctl.d/90-cap.conf   (live value left 0)
 *   printf "[Service]\nExecStart=/bin/sleep 1000\n" > /etc/systemd/system/cap.service
 *   ln -sfn /etc/hostname /srv/cap-link
 *   printf "#Ansible: backup\n30 2 * * * /usr/local/bin/backup\n" | crontab -u deploy -
 */
import { describe, expect, it } from "vitest";
import { parseSysctlState, sysctl } from "../../../src/steps/sysctl.ts";
import { parseUnitState, systemdUnit } from "../../../src/steps/systemd-unit.ts";
import { link, parseLinkState } from "../../../src/steps/link.ts";
import { cron, parseCrontab } from "../../../src/steps/cron.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

/** What a verified write wrote: the stdin after its `<length> <sha256>` header line (remote-file.ts). */
const written = (stdin: Buffer | undefined) => stdin?.subarray(stdin.indexOf(10) + 1).toString();

const ok = (stdout: string, exitCode = 0, stderr = "") => ({ exitCode, stdout: Buffer.from(stdout), stderr: Buffer.from(stderr) });

const SYSCTL = {
  forwardFileOnly: "live=0\nroot root 0644 regular file\n# x\nnet.ipv4.ip_forward = 1\n",
  portRangeNoFile: "live=32768 60999\n@provision:absent\n",
  missing: "live-missing\n@provision:absent\n",
};

describe("sysctl", () => {
  const forward = (extra = {}) => sysctl({ key: "net.ipv4.ip_forward", value: 1, file: "/etc/sysctl.d/90-cap.conf", ...extra });
  it("parses the live value and the file", () => {
    const s = parseSysctlState(ok(SYSCTL.forwardFileOnly), "net.ipv4.ip_forward", "/f");
    expect(s.live).toBe("0");
    expect(s.file.content?.toString()).toBe("# x\nnet.ipv4.ip_forward = 1\n");
    expect(() => parseSysctlState(ok(SYSCTL.missing), "net.nosuch.key", "/f")).toThrow(/unknown sysctl key net.nosuch.key/);
  });

  it.each([
    ["file right, live differs", forward(), SYSCTL.forwardFileOnly, "live 0 → 1"],
    [
      "both right",
      forward({ value: "0" }),
      "live=0\nroot root 0644 regular file\nnet.ipv4.ip_forward=0\n",
      "/etc/sysctl.d/90-cap.conf: content",
    ],
    ["converged", forward(), "live=1\nroot root 0644 regular file\n# x\nnet.ipv4.ip_forward = 1\n", null],
    [
      "a multi-value key compares with white space collapsed",
      sysctl({ key: "net.ipv4.ip_local_port_range", value: "32768   60999" }),
      SYSCTL.portRangeNoFile,
      "create /etc/sysctl.d/99-provision.conf",
    ],
    ["absent removes the line only", forward({ state: "absent" }), SYSCTL.forwardFileOnly, "/etc/sysctl.d/90-cap.conf: content"],
    ["absent with no file", sysctl({ key: "net.ipv4.ip_forward", value: 1, state: "absent" }), "live=1\n@provision:absent\n", null],
  ])("%s", (_label, step, stdout, summary) => {
    expect(step.diff(parseSysctlState(ok(stdout), "k", "/f"))?.summary ?? null).toBe(summary);
  });

  it("the file edit replaces the key's line (a commented example stays) with a diff", () => {
    const change = forward({ value: 0 }).diff(
      parseSysctlState(
        ok("live=0\nroot root 0644 regular file\n#net.ipv4.ip_forward=1\n net.ipv4.ip_forward=1\nkernel.x = 2\n"),
        "k",
        "/f",
      ),
    );
    expect(change?.diff?.after).toBe("#net.ipv4.ip_forward=1\nnet.ipv4.ip_forward = 0\nkernel.x = 2\n");
  });

  it("apply writes the live value first, then the file, in one script", async () => {
    const host = mockHost("debian12")
      .on(/^if \[ -f \/proc\/sys/, { stdout: "live=0\n@provision:absent\n" })
      .on(/^printf '%s\\n' 1 > /, {});
    // (The mock's file store answers only a bare atomic write: this combined script is answered as a whole.)
    const { step } = await run(host, "apply", () => [sysctl({ key: "net.ipv4.ip_forward", value: 1 })]);
    expect(step?.status, step?.error).toBe("changed");
    const [script] = applied(host);
    expect(
      script?.startsWith(
        'printf \'%s\\n\' 1 > /proc/sys/net/ipv4/ip_forward || exit 1\n# provision-file write v1 {"path":"/etc/sysctl.d/99-provision.conf"}\nset -e;',
      ),
    ).toBe(true);
    expect(script).toContain("path=/etc/sysctl.d/99-provision.conf\n");
    expect(written(host.commands.find((c) => c.command === script)?.stdin)).toBe("net.ipv4.ip_forward = 1\n");
  });

  it.each([
    [{ key: "../../etc/passwd", value: 1 }, /key: must be a dotted sysctl key/],
    [{ key: "net", value: 1 }, /key: must be a dotted/],
    [{ key: "net.ipv4.ip_forward", value: "1\nkernel.x = 1" }, /value: must be one non-empty line/],
    [{ key: "net.ipv4.ip_forward", value: " " }, /value: must be one non-empty line/],
    [{ key: "net.ipv4.ip_forward", value: 1, sysctl_file: "/x" }, /unknown parameter/i],
  ])("refuses %j", (params, message) => {
    expect(() => sysctl(params as never)).toThrow(message);
  });
});

const UNIT = {
  cronNoFile: "LoadState=loaded\nActiveState=inactive\nNeedDaemonReload=no\nenabled=disabled\n@provision:unit-file\n@provision:absent\n",
  capStatic:
    "LoadState=loaded\nActiveState=inactive\nNeedDaemonReload=no\nenabled=static\n@provision:unit-file\nroot root 0644 regular file\n[Service]\nExecStart=/bin/sleep 1000\n",
  notFound: "LoadState=not-found\nActiveState=inactive\nNeedDaemonReload=no\nenabled=\n@provision:unit-file\n@provision:absent\n",
  sshActive: "LoadState=loaded\nActiveState=active\nNeedDaemonReload=no\nenabled=enabled\n@provision:unit-file\n@provision:absent\n",
};
const CAP = "[Service]\nExecStart=/bin/sleep 1000\n";

describe("systemdUnit", () => {
  it.each([
    [
      "new unit, enable and start",
      { name: "cap.service", content: CAP, enabled: true, state: "running" as const },
      UNIT.notFound,
      "create /etc/systemd/system/cap.service, daemon-reload, enable, start",
    ],
    ["same content, static unit started", { name: "cap.service", content: CAP, state: "running" as const }, UNIT.capStatic, "start"],
    ["converged", { name: "cap.service", content: CAP }, UNIT.capStatic, null],
    [
      "content differs",
      { name: "cap.service", content: `${CAP}Restart=always\n` },
      UNIT.capStatic,
      "/etc/systemd/system/cap.service: content, daemon-reload",
    ],
    [
      "a drop-in for a packaged unit",
      { name: "ssh.service", dropIn: "override", content: "[Service]\nNice=5\n", enabled: true, state: "running" as const },
      UNIT.sshActive,
      "create /etc/systemd/system/ssh.service.d/override.conf, daemon-reload",
    ],
    [
      "a pending daemon-reload is drift",
      { name: "cap.service", content: CAP },
      UNIT.capStatic.replace("NeedDaemonReload=no", "NeedDaemonReload=yes"),
      "daemon-reload",
    ],
    [
      "disabled → enabled, no file change",
      { name: "cron.service", content: "x", enabled: true },
      UNIT.cronNoFile,
      "create /etc/systemd/system/cron.service, daemon-reload, enable",
    ],
  ])("%s", (_label, params, stdout, summary) => {
    const step = systemdUnit(params);
    expect(step.diff(parseUnitState(ok(stdout), params.name, "/p"))?.summary ?? null).toBe(summary);
  });

  it("apply: the atomic write at the top level, then one daemon-reload, enable and start", async () => {
    const host = mockHost("debian12")
      .on(/^systemctl show/, { stdout: UNIT.notFound })
      .on(/^mkdir -p -- /, {});
    const { step } = await run(host, "apply", () => [
      systemdUnit({ name: "cap.service", dropIn: "override", content: CAP, enabled: true, state: "running" }),
    ]);
    expect(step?.status, step?.error).toBe("changed");
    const [script] = applied(host);
    expect(
      script?.startsWith(
        'mkdir -p -- /etc/systemd/system/cap.service.d || exit 1\n# provision-file write v1 {"path":"/etc/systemd/system/cap.service.d/override.conf","mode":"0644"}\nset -e;',
      ),
    ).toBe(true);
    expect(
      script?.endsWith("trap - EXIT\nsystemctl daemon-reload && systemctl enable -- cap.service && systemctl start -- cap.service"),
    ).toBe(true);
    expect(script).toContain("path=/etc/systemd/system/cap.service.d/override.conf\n");
    expect(written(host.commands.find((c) => c.command === script)?.stdin)).toBe(CAP);
  });

  it("only service changes: no write, no reload", async () => {
    const host = mockHost("debian12")
      .on(/^systemctl show/, { stdout: UNIT.capStatic })
      .on(/^systemctl start/, {});
    await run(host, "apply", () => [systemdUnit({ name: "cap.service", content: CAP, state: "running" })]);
    expect(applied(host)).toEqual(["systemctl start -- cap.service"]);
  });

  it.each([
    [{ name: "cap", content: "" }, /name: must be a unit name/],
    [{ name: "-x.service", content: "" }, /name: must be a unit name/],
    [{ name: "a b.service", content: "" }, /name: must be a unit name/],
    [{ name: "cap.service", content: "", dropIn: "../x" }, /dropIn: must be a drop-in name/],
  ])("refuses %j", (params, message) => {
    expect(() => systemdUnit(params as never)).toThrow(message);
  });
});

describe("link", () => {
  it.each([
    ["right target", "root root 0777 symbolic link\ntarget:/etc/hostname\n", "/etc/hostname", null],
    ["other target", "root root 0777 symbolic link\ntarget:/etc/hostname\n", "/etc/hosts", "target /etc/hostname → /etc/hosts"],
    ["absent", "@provision:absent\n", "/etc/hosts", "create"],
  ])("%s", (_label, stdout, target, summary) => {
    expect(link({ path: "/srv/cap-link", target }).diff(parseLinkState(ok(stdout), "/srv/cap-link"))?.summary ?? null).toBe(summary);
  });

  it("a regular file is replaced only with force; a directory never", () => {
    const file = parseLinkState(ok("root root 0644 regular file\n"), "/etc/hostname");
    expect(() => link({ path: "/etc/hostname", target: "/x" }).diff(file)).toThrow(/set force: true/);
    expect(link({ path: "/etc/hostname", target: "/x", force: true }).diff(file)?.summary).toBe("replace regular file with a link");
    expect(() => link({ path: "/etc", target: "/x", force: true }).diff(parseLinkState(ok("root root 0755 directory\n"), "/etc"))).toThrow(
      /is a directory/,
    );
  });

  it("a hostile target is one quoted word of ln, renamed over atomically", async () => {
    const target = "/x'; touch /tmp/pwned; '$(id)";
    const host = mockHost("debian12")
      .on(/@provision:absent/, { stdout: "@provision:absent\n" })
      .on(/^d=/, {});
    await run(host, "apply", () => [link({ path: "/srv/l", target })]);
    expect(applied(host)).toEqual([
      `d=/srv; t=$(mktemp -u "$d/.provision-link.XXXXXX") && ln -s -- '/x'\\''; touch /tmp/pwned; '\\''$(id)' "$t" && { mv -T -f -- "$t" /srv/l || { rm -f -- "$t"; exit 1; }; }`,
    ]);
  });
});

describe("cron", () => {
  const CRONTAB = "present\n#Ansible: backup\n30 2 * * * /usr/local/bin/backup\n";
  it("parses crontab -l; no crontab is empty; an unknown user is a read error", () => {
    expect(parseCrontab(ok(CRONTAB), "deploy")).toEqual({ text: "#Ansible: backup\n30 2 * * * /usr/local/bin/backup\n", exists: true });
    expect(parseCrontab(ok("absent\n"), "root")).toEqual({ text: "", exists: false });
    expect(() => parseCrontab(ok("", 1, "crontab:  user `nosuchuser' unknown\n"), "nosuchuser")).toThrow(/user `nosuchuser' unknown/);
  });

  it.each([
    ["the job Ansible wrote is converged", { name: "backup", job: "/usr/local/bin/backup", minute: "30", hour: "2", user: "deploy" }, null],
    [
      "a changed time updates it in place",
      { name: "backup", job: "/usr/local/bin/backup", minute: "0", hour: "3", user: "deploy" },
      "update job backup",
    ],
    ["another job is added", { name: "clean", job: "/usr/local/bin/clean", special: "daily" as const, user: "deploy" }, "add job clean"],
    ["absent removes the comment and the job", { name: "backup", state: "absent" as const, user: "deploy" }, "remove job backup"],
  ])("%s", (_label, params, summary) => {
    expect(cron(params).diff(parseCrontab(ok(CRONTAB), "deploy"))?.summary ?? null).toBe(summary);
  });

  it("a user crontab is installed with crontab -u <user> - (stdin)", async () => {
    const host = mockHost("debian12")
      .on(/^out=\$\(crontab -l/, { stdout: CRONTAB })
      .on(/^crontab -u deploy -$/, {});
    await run(host, "apply", () => [cron({ name: "clean", job: "/usr/local/bin/clean --all", special: "daily", user: "deploy" })]);
    const sent = host.commands.filter((c) => !c.batched && c.command.startsWith("crontab"));
    expect(sent.map((c) => c.command)).toEqual(["crontab -u deploy -"]);
    expect(sent[0]?.stdin.toString()).toBe(
      "#Ansible: backup\n30 2 * * * /usr/local/bin/backup\n#Ansible: clean\n@daily /usr/local/bin/clean --all\n",
    );
  });

  it("a host without crontab (no cron package): the kit's one error, made by the runner", async () => {
    // The read prints what `crontab -l` said and exits with its code: the shell's 127 goes through.
    const host = mockHost("debian12").on(/^out=\$\(crontab -l/, { exitCode: 127, stderr: "sh: 1: crontab: not found\n" });
    const { step } = await run(host, "check", () => [
      cron({ name: "clean", job: "/usr/local/bin/clean", special: "daily", user: "deploy" }),
    ]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toBe("crontab not found on debian12: is cron installed (cron on Debian, cronie on RHEL)?");
  });

  it("a cron.d file carries the user field and is written atomically", async () => {
    const host = mockHost("debian12");
    await run(host, "apply", () => [
      cron({ name: "rotate", job: "/usr/sbin/logrotate /etc/x.conf", minute: "*/5", user: "www-data", cronFile: "app" }),
    ]);
    expect(host.files.get("/etc/cron.d/app")).toMatchObject({ mode: "0644" });
    expect(host.files.get("/etc/cron.d/app")?.content.toString()).toBe(
      "#Ansible: rotate\n*/5 * * * * www-data /usr/sbin/logrotate /etc/x.conf\n",
    );
  });

  it.each([
    [{ name: "x", job: "a\n* * * * * root rm -rf /" }, /job: must be one line/],
    [{ name: "x\n* * * * * evil", job: "a" }, /name: must be one line/],
    [{ name: "x", job: "a", minute: "* * * * root evil #" }, /minute: must be a cron time field/],
    [{ name: "x", job: "a", cronFile: "app.conf" }, /cronFile: must be a file name/],
    [{ name: "x" }, /job is required/],
  ])("refuses %j", (params, message) => {
    expect(() => cron(params as never)).toThrow(message);
  });
});
