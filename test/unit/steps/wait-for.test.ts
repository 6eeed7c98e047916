/**
 * waitFor. The read's answers are what the probe printed on a real Debian 12 test host
 * (`waitFor({ port: 22 }).read().command.text` piped to `ssh root@10.213.8.10 sh`: "reached";
 * port 2999: "waiting"; path /etc/hostname: "reached"; /nonexist: "waiting").
 */
import { describe, expect, it } from "vitest";
import { waitFor } from "../../../src/steps/wait-for.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

describe("waitFor", () => {
  it.each([
    ["port reached", { port: 22 }, "reached\n", "ok"],
    ["port not yet", { port: 2999 }, "waiting\n", "would-change"],
    ["path reached", { path: "/etc/hostname" }, "reached\n", "ok"],
    ["path not yet", { path: "/nonexist" }, "waiting\n", "would-change"],
  ])("%s", async (_label, params, stdout, status) => {
    const host = mockHost("debian12").on(/echo reached; else echo waiting/, { stdout });
    const { step } = await run(host, "check", () => [waitFor(params)]);
    expect(step?.status).toBe(status);
    if (status === "would-change") expect(step?.summary).toBe("wait up to 60 s (not yet)");
  });

  it("apply waits on the host, bounded by count, and fails when the time is up", async () => {
    const host = mockHost("debian12")
      .on(/echo reached; else echo waiting/, { stdout: "waiting\n" })
      .on(/i=0; while/, { exitCode: 1, stderr: "timed out after 5 s waiting for port 2999 listening\n" });
    const { step } = await run(host, "apply", () => [waitFor({ port: 2999, timeoutSeconds: 5 })]);
    expect(applied(host)[0]).toContain(
      'i=0; while [ "$i" -lt 5 ]; do if [ -n "$(ss -Hltn \'sport = :2999\')" ]; then exit 0; fi; sleep 1; i=$((i+1)); done;',
    );
    expect(step?.status).toBe("failed");
    expect(step?.error).toContain("timed out after 5 s");
  });

  it("a host without ss is a read error, not a port that stays closed: the kit's one error", async () => {
    // The read's needTool("ss") fails as the shell does (exit 127, "ss: not found"); the runner words it.
    const host = mockHost("debian12").on(/echo reached; else echo waiting/, { exitCode: 127, stderr: "ss: not found\n" });
    const { step } = await run(host, "check", () => [waitFor({ port: 22 })]);
    expect(step?.status).toBe("failed");
    expect(step?.error).toBe("ss not found on debian12: is iproute2 installed?");
    const read = waitFor({ port: 22 }).read() as { command: { text: string }; requiresTools?: readonly string[] };
    expect(read.command.text).toMatch(/^command -v ss >\/dev\/null 2>&1 \|\| \{ echo 'ss: not found' >&2; exit 127; \}; if /);
    expect(read.requiresTools).toEqual(["ss"]);
  });

  it("a path needs no tool", () => {
    const read = waitFor({ path: "/etc/hostname" }).read() as { command: { text: string }; requiresTools?: readonly string[] };
    expect(read.command.text).not.toContain("command -v");
    expect(read.requiresTools).toEqual([]);
  });

  it("stopped / absent invert the probe; the path is one quoted word", async () => {
    const host = mockHost("debian12").on(/echo reached; else echo waiting/, { stdout: "reached\n" });
    await run(host, "check", () => [waitFor({ path: "/run/x'; reboot; '", state: "absent" })]);
    expect(host.commands.find((c) => c.batched)?.command).toBe(
      "if ! { [ -e '/run/x'\\''; reboot; '\\''' ] || [ -L '/run/x'\\''; reboot; '\\''' ]; }; then echo reached; else echo waiting; fi",
    );
  });

  it.each([
    [{}, /give port or path/],
    [{ port: 22, path: "/x" }, /give port or path/],
    [{ port: 0 }, /port/],
    [{ port: 22, state: "present" }, /state: started\|stopped for a port/],
    [{ path: "/x", timeoutSeconds: 100000 }, /timeoutSeconds/],
  ])("refuses %j", (params, message) => {
    expect(() => waitFor(params as never)).toThrow(message);
  });
});
