import { describe, expect, it } from "vitest";
import { ufwRule, type UfwRuleParams } from "../../../src/steps/ufw-rule.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

/** `ufw show added` on a Debian 12 test host (ufw 0.36.2), inactive ufw. */
const REAL = {
  // fresh host
  none: "Added user rules (see 'ufw status' for running firewall):\n(None)\n",
  // after `ufw allow 587/tcp; ufw allow 6000:6007/udp; ufw limit 22/tcp`
  three: "Added user rules (see 'ufw status' for running firewall):\nufw allow 587/tcp\nufw allow 6000:6007/udp\nufw limit 22/tcp\n",
};

const cases: { title: string; params: UfwRuleParams; read: string; summary: string | null; commands: string[] }[] = [
  {
    title: "fresh → add",
    params: { port: 587, proto: "tcp" },
    read: REAL.none,
    summary: "add ufw allow 587/tcp",
    commands: ["ufw allow 587/tcp"],
  },
  { title: "added → ok", params: { port: 587, proto: "tcp" }, read: REAL.three, summary: null, commands: [] },
  { title: "range added → ok", params: { port: "6000:6007", proto: "udp" }, read: REAL.three, summary: null, commands: [] },
  {
    title: "limit is not allow",
    params: { action: "allow", port: 22, proto: "tcp" },
    read: REAL.three,
    summary: "add ufw allow 22/tcp",
    commands: ["ufw allow 22/tcp"],
  },
  {
    title: "absent, added → delete",
    params: { port: 587, proto: "tcp", state: "absent" },
    read: REAL.three,
    summary: "delete ufw allow 587/tcp",
    commands: ["ufw delete allow 587/tcp"],
  },
  { title: "absent, not there → ok", params: { port: 587, proto: "tcp", state: "absent" }, read: REAL.none, summary: null, commands: [] },
  { title: "no proto: both", params: { port: 25 }, read: REAL.three, summary: "add ufw allow 25", commands: ["ufw allow 25"] },
];

describe("ufwRule", () => {
  it.each(cases)("$title", async (c) => {
    const check = mockHost("debian12").on("ufw show added", { stdout: c.read });
    const checked = await run(check, "check", () => [ufwRule(c.params)]);
    expect(checked.step?.status).toBe(c.summary ? "would-change" : "ok");
    expect(checked.step?.summary).toBe(c.summary ?? undefined);

    const host = mockHost("debian12")
      .on(/^ufw (allow|delete|limit|deny)/, { stdout: "Rules updated\nRules updated (v6)\n" })
      .on("ufw show added", { stdout: c.read });
    const result = await run(host, "apply", () => [ufwRule(c.params)]);
    expect(result.step?.status).toBe(c.summary ? "changed" : "ok");
    expect(applied(host)).toEqual(c.commands);
  });

  it("ufw missing fails the read with the kit's one error (the shell's exit 127, worded by the runner)", async () => {
    const host = mockHost("debian12").on("ufw show added", { exitCode: 127, stderr: "sh: 1: ufw: not found\n" });
    const { step } = await run(host, "check", () => [ufwRule({ port: 587, proto: "tcp" })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toBe("ufw not found on debian12: is ufw installed?");
  });

  it.each([
    [{ port: "587; reboot" }, /port: must be a port or a range/],
    [{ port: "--force" }, /port: must be a port or a range/],
    [{ port: 70000 }, /port/],
    [{ port: "6000:6007" }, /proto: a port range needs proto/],
    [{ port: 22, action: "enable" }, /action/],
  ])("refuses %j", (params, error) => {
    expect(() => ufwRule(params as UfwRuleParams)).toThrow(error);
  });
});
