import { describe, expect, it } from "vitest";
import { firewalldPort, type FirewalldPortParams } from "../../../src/steps/firewalld-port.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

/**
 * The read's output on a Debian 12 test host (firewalld 1.3.3, started with `systemctl start
 * firewalld`): `firewall-cmd --permanent --query-port=587/tcp; echo "permanent=$?"; firewall-cmd
 * --query-port=587/tcp; echo "runtime=$?"` (stdout; stderr separate).
 */
const REAL = {
  neither: "no\npermanent=1\nno\nruntime=1\n",
  // after `firewall-cmd --permanent --add-port=587/tcp` only
  permanentOnly: "yes\npermanent=0\nno\nruntime=1\n",
  // after `firewall-cmd --add-port=587/tcp` too
  both: "yes\npermanent=0\nyes\nruntime=0\n",
  // firewalld stopped (`systemctl stop firewalld`): stdout, then stderr
  stopped: "permanent=252\nruntime=252\n",
  stoppedErr: "FirewallD is not running\nFirewallD is not running\n",
};

const cases: { title: string; params: FirewalldPortParams; read: string; summary: string | null; commands: string[] }[] = [
  {
    title: "neither → open both",
    params: { port: 587 },
    read: REAL.neither,
    summary: "open 587/tcp (permanent, runtime)",
    commands: ["firewall-cmd --permanent  --add-port=587/tcp && firewall-cmd  --add-port=587/tcp"],
  },
  {
    title: "permanent only → runtime",
    params: { port: 587 },
    read: REAL.permanentOnly,
    summary: "open 587/tcp (runtime)",
    commands: ["firewall-cmd  --add-port=587/tcp"],
  },
  { title: "both → ok", params: { port: 587 }, read: REAL.both, summary: null, commands: [] },
  {
    title: "disabled, both open → close both",
    params: { port: 587, state: "disabled", zone: "public" },
    read: REAL.both,
    summary: "close 587/tcp (permanent, runtime)",
    commands: ["firewall-cmd --permanent --zone=public --remove-port=587/tcp && firewall-cmd --zone=public --remove-port=587/tcp"],
  },
  { title: "disabled, neither → ok", params: { port: 587, state: "disabled" }, read: REAL.neither, summary: null, commands: [] },
];

describe("firewalldPort", () => {
  it.each(cases)("$title", async (c) => {
    const check = mockHost("debian12").on("--query-port", { stdout: c.read });
    const checked = await run(check, "check", () => [firewalldPort(c.params)]);
    expect(checked.step?.status).toBe(c.summary ? "would-change" : "ok");
    expect(checked.step?.summary).toBe(c.summary ?? undefined);

    const host = mockHost("debian12")
      .on(/^firewall-cmd .*-port=/, { stdout: "success\n" })
      .on("--query-port", { stdout: c.read });
    const result = await run(host, "apply", () => [firewalldPort(c.params)]);
    expect(result.step?.status).toBe(c.summary ? "changed" : "ok");
    expect(applied(host)).toEqual(c.commands);
  });

  it("firewalld not running fails the read with firewall-cmd's message", async () => {
    const host = mockHost("debian12").on("--query-port", { stdout: REAL.stopped, stderr: REAL.stoppedErr });
    const { step } = await run(host, "check", () => [firewalldPort({ port: 587 })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("FirewallD is not running");
  });

  it.each([
    [{ port: "587/tcp --panic-on" }, /port: must be a port or a range/],
    [{ port: 587, zone: "--panic-on" }, /zone: must be a firewalld zone name/],
    [{ port: 587, proto: "icmp" }, /proto/],
  ])("refuses %j", (params, error) => {
    expect(() => firewalldPort(params as FirewalldPortParams)).toThrow(error);
  });

  it('firewall-cmd missing fails the read with the kit\'s one error, not "exit 127/127"', async () => {
    // The read's exit is its last echo's: needTool("firewall-cmd") stops it first, with the shell's 127.
    const host = mockHost("debian12").on("--query-port", { exitCode: 127, stderr: "firewall-cmd: not found\n" });
    const { step } = await run(host, "check", () => [firewalldPort({ port: 587, proto: "tcp" })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toBe("firewall-cmd not found on debian12: is firewalld installed?");
    const read = firewalldPort({ port: 587, proto: "tcp" }).read() as { command: { text: string } };
    expect(read.command.text).toMatch(
      /^command -v firewall-cmd >\/dev\/null 2>&1 \|\| \{ echo 'firewall-cmd: not found' >&2; exit 127; \}\n/,
    );
  });
});
