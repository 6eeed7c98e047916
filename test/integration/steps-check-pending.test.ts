/**
 * `--check` with pending changes, and byte-exact line edits, on real Debian 12 hosts (fleet
 * positions 4 and 5, as steps-system.test.ts; each test puts back what it changed):
 * - directory → file → line of a new file: check says unknown for the line, which depends on the
 *   pending creation (it failed "does not exist" before), apply converges, check is clean;
 * - iptables 25 at 1, 587 at 2, then iptablesPersist: check says unknown for 587's position and
 *   the saved rules (it said "insert at 1" and showed rules without 25 and 587), apply puts them
 *   where asked and saves them, as iptables itself and the file on the host show;
 * - line on a file that is not UTF-8 and on a CRLF file: the bytes on the host, read with
 *   base64 inside the host (not through our code), are exactly the old ones plus the new line.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { hostExec, type TestHost } from "../hosts/harness.ts";
import type {} from "../hosts/global-setup.ts";
import { testHost } from "./support/fleet.ts";
import { connectTestHost } from "./support/connect.ts";
import { runHost, type RunMode } from "../../src/run/host-runner.ts";
import { definePlaybook } from "../../src/playbook/playbook.ts";
import type { Facts } from "../../src/facts/facts.ts";
import type { PlaybookItem } from "../../src/playbook/step.ts";
import { directory, file, iptablesPersist, iptablesRule, line } from "../../src/steps/index.ts";

const fleet = inject("fleet");

async function play(host: TestHost, mode: RunMode, steps: (facts: Facts) => PlaybookItem[]) {
  const playbook = definePlaybook({ name: "steps-check-pending", vars: z.object({}), steps: ({ facts }) => steps(facts) });
  return runHost({ playbook, vars: {}, host: { name: host.name, address: host.address }, connect: () => connectTestHost(host), mode });
}

async function sh(host: TestHost, command: string): Promise<string> {
  const r = await hostExec(host, command);
  if (r.exitCode !== 0) throw new Error(`${command}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

const statuses = (report: { steps: { status: string }[] }) => report.steps.map((s) => s.status);

describe.skipIf(!fleet)("--check with pending changes on a real host", () => {
  let h4: TestHost;
  let h5: TestHost;
  beforeAll(() => {
    h4 = testHost(4);
    h5 = testHost(5);
  });

  const DIR = "/etc/provision-check-pending";
  const CONF = `${DIR}/app.conf`;
  afterAll(async () => {
    if (h5) await sh(h5, `rm -rf ${DIR}`);
  });

  it("directory → file → line of a new file: unknown in check (not a failure), converged by apply, clean after", async () => {
    await sh(h5, `rm -rf ${DIR}`);
    const steps = () => [
      directory({ path: DIR, mode: "0755" }),
      file({ path: CONF, content: "a = 1\nb = 2\n" }),
      line({ path: CONF, line: "b = 2", regexp: "^b = " }),
    ];
    const check = await play(h5, "check", steps);
    // Creating the directory changes nothing the file step reads: its "create" is exact.
    expect(statuses(check), JSON.stringify(check.steps)).toEqual(["would-change", "would-change", "unknown"]);
    expect(check.steps[1]?.summary).toBe("create");
    expect(check.steps[2]?.summary).toBe(
      `depends on a pending change of step "file ${CONF}" (${CONF} does not exist (set create: true to create it))`,
    );
    expect(check.status).toBe("drift");
    expect((await hostExec(h5, `test -e ${DIR}`)).exitCode).not.toBe(0); // check touched nothing

    // Apply: the line is already in what the file step wrote — check could not know that.
    const apply = await play(h5, "apply", steps);
    expect(statuses(apply), JSON.stringify(apply.steps)).toEqual(["changed", "changed", "ok"]);
    expect(await sh(h5, `cat ${CONF}`)).toBe("a = 1\nb = 2\n");
    expect((await play(h5, "check", steps)).status).toBe("ok");
  });

  it("iptables 25 at 1, 587 at 2, persist: exact unknowns in check; apply and the host agree", async () => {
    const saved = "/root/rules.v4.before-check-pending";
    await sh(h4, `if [ -e /etc/iptables/rules.v4 ]; then cp -p /etc/iptables/rules.v4 ${saved}; else rm -f ${saved}; fi`);
    const removeOurs =
      "for p in 25 587; do i=0; while [ $i -lt 20 ] && iptables -w -C INPUT -p tcp --dport $p -j ACCEPT 2>/dev/null; do iptables -w -D INPUT -p tcp --dport $p -j ACCEPT; i=$((i+1)); done; done";
    await sh(h4, removeOurs);
    const rule = (port: number, position: number) =>
      iptablesRule({ chain: "INPUT", rule: ["-p", "tcp", "--dport", String(port), "-j", "ACCEPT"], position });
    const steps = (f: Facts) => [rule(25, 1), rule(587, 2), iptablesPersist(f)];
    try {
      const check = await play(h4, "check", steps);
      expect(statuses(check), JSON.stringify(check.steps)).toEqual(["would-change", "unknown", "unknown"]);
      expect(check.steps[0]?.summary).toBe("insert at 1");
      expect(check.steps[1]?.summary).toMatch(new RegExp(`^depends on a pending change of step "${check.steps[0]?.name}"`));
      expect(check.steps[2]?.summary).toMatch(new RegExp(`^depends on a pending change of step "${check.steps[1]?.name}"`));
      expect(check.steps[2]?.diff).toBeUndefined();

      const apply = await play(h4, "apply", steps);
      expect(apply.status, JSON.stringify(apply.steps)).toBe("changed");
      const input = (await sh(h4, "iptables -w -S INPUT")).split("\n").filter((l) => l.startsWith("-A "));
      expect(input.slice(0, 2)).toEqual(["-A INPUT -p tcp -m tcp --dport 25 -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 587 -j ACCEPT"]);
      const file = await sh(h4, "cat /etc/iptables/rules.v4");
      expect(file).toContain("-A INPUT -p tcp -m tcp --dport 25 -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 587 -j ACCEPT\n");
      const clean = await play(h4, "check", steps);
      expect(clean.status, JSON.stringify(clean.steps)).toBe("ok");
    } finally {
      await sh(h4, removeOurs);
      await sh(h4, `if [ -e ${saved} ]; then mv -f ${saved} /etc/iptables/rules.v4; else rm -f /etc/iptables/rules.v4; fi`);
    }
  });
});

describe.skipIf(!fleet)("line is byte-exact on a real host", () => {
  let h5: TestHost;
  beforeAll(() => {
    h5 = testHost(5);
  });
  const DIR = "/root/provision-line-bytes";
  afterAll(async () => {
    if (h5) await sh(h5, `rm -rf ${DIR}`);
  });
  const bytesOnHost = async (path: string) => Buffer.from((await sh(h5, `base64 -w0 ${path}`)).trim(), "base64");

  it("a Latin-1 file keeps caf\\xe9; a CRLF file gets a CRLF line; both converge", async () => {
    await sh(
      h5,
      `rm -rf ${DIR} && mkdir -p ${DIR} && printf 'name = caf\\351\\nx = 1\\n' > ${DIR}/latin1.conf && printf 'a = 1\\r\\nb = 2\\r\\n' > ${DIR}/crlf.conf`,
    );
    expect((await bytesOnHost(`${DIR}/latin1.conf`)).toString("hex")).toBe(
      Buffer.from("name = caf\xe9\nx = 1\n", "latin1").toString("hex"),
    );
    const steps = () => [
      line({ path: `${DIR}/latin1.conf`, line: "y = 2" }),
      line({ path: `${DIR}/crlf.conf`, line: "c = 3" }),
      line({ path: `${DIR}/crlf.conf`, regexp: "^b = \\d$", line: "b = 9" }),
    ];
    const apply = await play(h5, "apply", steps);
    expect(statuses(apply), JSON.stringify(apply.steps)).toEqual(["changed", "changed", "changed"]);
    expect((await bytesOnHost(`${DIR}/latin1.conf`)).toString("hex")).toBe(
      Buffer.from("name = caf\xe9\nx = 1\ny = 2\n", "latin1").toString("hex"),
    );
    expect((await bytesOnHost(`${DIR}/crlf.conf`)).toString("latin1")).toBe("a = 1\r\nb = 9\r\nc = 3\r\n");
    expect((await play(h5, "check", steps)).status).toBe("ok");
  });
});
