/**
 * The address a playbook sees (ctx.host.address) is the one the transport really connected to
 * (ssh config HostName, inventory ansible_host), not the alias the host was selected by: the mail
 * playbook's SMTP check connects to it from the controller, where an ssh alias means nothing.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook, type HostInfo } from "../../../src/playbook/playbook.ts";
import { MockTransport } from "../../../src/transport/mock.ts";
import { DEBIAN_FACTS, debianHost, runOn } from "../support/mock-host.ts";

function recordingPlaybook(seen: HostInfo[]) {
  return definePlaybook({
    name: "address",
    vars: z.object({}),
    steps: ({ host }) => {
      seen.push(host);
      return [];
    },
  });
}

/** A transport that connected somewhere else than its name says (what SshTransport reports). */
class ResolvedTransport extends MockTransport {
  constructor(
    host: string,
    readonly address: string,
  ) {
    super(host);
  }
}

describe("ctx.host.address", () => {
  it("is the transport's connected address when it has one", async () => {
    const mock = new ResolvedTransport("vps1", "10.213.3.9");
    mock.on((command) => command.startsWith("# provision-facts v1 "), { stdout: DEBIAN_FACTS });
    const seen: HostInfo[] = [];
    const { report } = await runOn(mock, recordingPlaybook(seen), "check");
    expect(report.status, report.error).toBe("ok");
    expect(seen).toEqual([{ name: "vps1", address: "10.213.3.9" }]);
  });

  it("stays the caller's address for a transport without one (local, mock)", async () => {
    const seen: HostInfo[] = [];
    await runOn(debianHost("localhost"), recordingPlaybook(seen), "check");
    expect(seen).toEqual([{ name: "localhost", address: "localhost" }]);
  });
});
