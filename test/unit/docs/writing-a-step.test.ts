/**
 * The worked example of docs/writing-a-step.md (docs/examples/hosts-entry.ts) on the mock host,
 * answered with the read captured on a real Debian 12 test host — stored with the command that
 * produced it, and that command asserted, so a changed read fails here loudly.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { hostsEntry } from "../../../docs/examples/hosts-entry.ts";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const captured = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures/debian12-hosts-read.json"), "utf8")) as {
  command: string;
  stdout: string;
};
const playbook = (name: string, address: string) =>
  definePlaybook({ name: "hosts", vars: z.object({}), steps: () => [hostsEntry({ name, address })] });

function host(hostsFile: string) {
  const mock = debianHost();
  mock.files.set("/etc/hosts", { content: Buffer.from(hostsFile), owner: "root", group: "root", mode: "0644" });
  return mock;
}

describe("the worked example: hostsEntry", () => {
  it("reads with the command the fixture was captured with", () => {
    const step = hostsEntry({ name: "th01", address: "10.213.4.10" });
    const read = step.read();
    expect("command" in read && read.command.text).toBe(captured.command);
  });

  it("converged (the captured host) → ok; check and apply send nothing but reads", async () => {
    const content = captured.stdout.slice(captured.stdout.indexOf("\n") + 1);
    for (const mode of ["check", "apply"] as const) {
      const mock = host(content);
      const { report } = await runOn(mock, playbook("th01", "10.213.4.10"), mode);
      expect(report.steps[0]?.status).toBe("ok");
      expect(mock.execs).toHaveLength(2);
    }
  });

  it("a missing entry is added; a changed address replaces the old line; --check changes nothing", async () => {
    const mock = host("127.0.0.1\tlocalhost\n10.0.0.9\tdb1 db1.lan\n");
    const check = await runOn(mock, playbook("db1", "10.0.0.5"), "check");
    expect(check.report.steps[0]).toMatchObject({ status: "would-change", summary: "10.0.0.9 → 10.0.0.5" });
    expect(mock.files.get("/etc/hosts")?.content.toString()).toBe("127.0.0.1\tlocalhost\n10.0.0.9\tdb1 db1.lan\n");
    await runOn(mock, playbook("db1", "10.0.0.5"), "apply");
    expect(mock.files.get("/etc/hosts")?.content.toString()).toBe("127.0.0.1\tlocalhost\n10.0.0.9\tdb1.lan\n10.0.0.5\tdb1\n");
    expect((await runOn(mock, playbook("db1", "10.0.0.5"), "check")).report.status).toBe("ok");
  });

  it("bad input is refused before anything runs, naming the step and field", () => {
    expect(() => hostsEntry({ name: "db1", address: "not-an-ip" })).toThrow(/^hostsEntry: invalid parameters: address/);
    expect(() => hostsEntry({ name: "db1", adress: "10.0.0.1" } as never)).toThrow(/unknown parameter "adress" — did you mean "address"\?/);
    expect(() => hostsEntry({ name: "-rf", address: "10.0.0.1" })).toThrow(/name: must be a host name/);
  });
});
