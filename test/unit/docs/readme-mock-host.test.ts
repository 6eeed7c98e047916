/** README, "Testing your playbooks with the mock host": the example runs as written. */
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { definePlaybook, file, MockTransport, runHost, z } from "../../../src/index.ts";

describe("README: testing a playbook with the mock host", () => {
  it("the documented example applies, then checks converged", async () => {
    const readme = fs.readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    expect(readme).toContain("## Testing your playbooks with the mock host");
    const playbook = definePlaybook({
      name: "motd",
      vars: z.object({}),
      steps: () => [file({ path: "/etc/motd", content: "hello\n", mode: "0644" })],
    });
    const host = new MockTransport("web1").on('echo "hostname=$(uname -n)"', {
      stdout: "hostname=web1\narch=x86_64\nuid=0\nid=debian\nid_like=\nversion=12\nhas=apt-get\nhas=systemctl\nsystemd_running=1\n",
    });
    const run = (mode: "apply" | "check") =>
      runHost({ playbook, vars: {}, host: { name: "web1", address: "web1" }, connect: async () => host.reopen(), mode });
    expect((await run("apply")).steps[0]?.status).toBe("changed");
    expect(host.files.get("/etc/motd")?.content.toString()).toBe("hello\n");
    expect((await run("check")).steps[0]?.status).toBe("ok");
    expect(host.unmatched).toEqual([]);
  });
});
