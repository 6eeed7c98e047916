/**
 * `run --list-steps` against the mock: the steps are built from each host's own facts (apt on a
 * Debian host, dnf on a Rocky one), and nothing but the facts command is sent.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseRunArgs } from "../../../src/cli/args.ts";
import { listSteps } from "../../../src/cli/list-run.ts";
import type { InventoryHost } from "../../../src/inventory/inventory.ts";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { packages } from "../../../src/steps/packages.ts";
import { file } from "../../../src/steps/file.ts";
import { MockTransport } from "../../../src/transport/mock.ts";
import { CaptureStream } from "../../support/capture-stream.ts";
import { DEBIAN_FACTS } from "../support/mock-host.ts";

const ROCKY_FACTS = `hostname=rocky1
arch=x86_64
uid=0
id=rocky
id_like=rhel centos fedora
version=9.3
has=dnf
has=systemctl
systemd_running=1
dir=/etc/sasl2
`;

const playbook = definePlaybook({
  name: "web",
  vars: z.object({ page: z.string() }),
  steps: ({ vars, facts }) => [
    packages(facts, { names: [facts.packageManager === "apt" ? "apache2" : "httpd"] }),
    file({
      path: facts.osFamily === "debian" ? "/var/www/html/index.html" : "/usr/share/httpd/noindex/index.html",
      content: vars.page,
      notify: ["reload web"],
    }),
  ],
  handlers: () => ({ "reload web": { run: async () => undefined } }),
});

describe("run --list-steps", () => {
  it("builds each host's steps from its facts and sends nothing but the facts command", async () => {
    const mocks = new Map([
      ["deb1", new MockTransport("deb1").on(() => true, { stdout: DEBIAN_FACTS })],
      ["rocky1", new MockTransport("rocky1").on(() => true, { stdout: ROCKY_FACTS })],
    ]);
    const hosts = [...mocks.keys()].map((name) => ({ host: { name, vars: {}, groups: ["all"] } as InventoryHost, vars: { page: "hi\n" } }));
    const stdout = new CaptureStream();
    const args = parseRunArgs(["web.ts", "--host", "deb1", "--host", "rocky1", "--list-steps"]);
    const code = await listSteps(
      playbook,
      hosts,
      args,
      { stdout, stderr: new CaptureStream() },
      async (host) => mocks.get(host.name) as MockTransport,
    );
    expect(code).toBe(0);
    expect(stdout.text).toMatch(
      /^deb1: 2 steps\n {3}1\. packages \w+ apache2\n {3}2\. file \/var\/www\/html\/index\.html \(notifies reload web\)\n {2}handlers: reload web\n/,
    );
    expect(stdout.text).toMatch(
      /\nrocky1: 2 steps\n {3}1\. packages \w+ httpd\n {3}2\. file \/usr\/share\/httpd\/noindex\/index\.html \(notifies reload web\)\n/,
    );
    for (const mock of mocks.values()) {
      expect(mock.execs).toHaveLength(1);
      expect(mock.execs[0]?.command).toMatch(/^# provision-facts v1 \{\}\necho "hostname=/);
    }
  });
});
