/**
 * Interrupted runs converge. playbooks/mail.ts is applied in-process (runHost over the real SSH
 * transport) through a wrapper that drops the connection at the Nth command that is not a read
 * (support/reliability.ts `cutAt`), for every N an apply of an un-converged host sends — so the
 * cut lands in every step, handler and the lock release in turn. Half of the cuts happen after the
 * command ran (the change is made, the answer lost), half before it is sent. Then a normal run
 * must converge, a second one change nothing, and nothing may be left behind: no .provision-*
 * temp file, no sasldb temp copy, no /run/provision.lock, no pending-handlers record, `postfix
 * check` clean, each iptables rule once (live and saved).
 *
 * Handlers: a change cut before its handler ran leaves the handler owed on the host
 * (src/run/pending-handlers.ts). Whatever the cut run owed, the converging run must run — even when
 * it finds nothing else to change — or the host keeps config that Postfix never loaded.
 *
 * Not covered here: a cut in the middle of a command's execution on the host (the commands are
 * milliseconds long; the atomic write's temp file in that case is covered by the next write of the
 * same path removing `.provision-<name>.*`). The controller killed with SIGKILL mid-apply is in
 * reliability-concurrency.test.ts (the lock it leaves is broken as stale by the next run).
 * Host: fleet index 10.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mail from "../../playbooks/mail.ts";
import { validateVars } from "../../src/playbook/vars.ts";
import { runHost } from "../../src/run/host-runner.ts";
import type { HostReport } from "../../src/report/events.ts";
import { pendingFileName } from "../../src/run/pending-handlers.ts";
import { testHost } from "./support/fleet.ts";
import { connectTestHost } from "./support/connect.ts";
import { cutAt, expectRulesOnce, leftovers, MAIL_HOSTNAME, onHost, UNCONVERGE_MAIL } from "./support/reliability.ts";

const host = testHost(10);
const vars = validateVars(mail, { hostname: MAIL_HOSTNAME, users: [{ name: "bob", password: "Canary-sasl-pw-Q7x9-\u00e9" }] }, "test");

async function apply(wrap?: (t: Awaited<ReturnType<typeof connectTestHost>>) => ReturnType<typeof cutAt>): Promise<HostReport> {
  return runHost({
    playbook: mail,
    vars,
    host: { name: host.address, address: host.address },
    connect: async () => {
      const transport = await connectTestHost(host);
      return wrap ? wrap(transport) : transport;
    },
    mode: "apply",
    commandTimeoutMs: 120_000,
  });
}

let commandsOfAFullRun: string[] = [];

beforeAll(async () => {
  // Fresh host: install what the playbook needs once (packages stay installed from here on).
  const first = await apply();
  expect(first.status, JSON.stringify(first, null, 2)).toBe("changed");
  // Learn how many non-read commands an apply of an un-converged host sends.
  await onHost(host, UNCONVERGE_MAIL);
  const log: string[] = [];
  const counted = await apply((t) => cutAt(t, Number.MAX_SAFE_INTEGER, "before", log));
  expect(counted.status, JSON.stringify(counted, null, 2)).toBe("changed");
  commandsOfAFullRun = log;
  expect(commandsOfAFullRun.length).toBeGreaterThan(8);
}, 300_000);

afterAll(async () => {
  // Leave the host converged for whoever uses it next.
  await apply().catch(() => undefined);
});

/**
 * Cut the apply at its `n`th non-read command (before or after it ran), then converge and inspect.
 * Returns the handlers the cut run left owed on the host.
 */
async function cutAndConverge(n: number, when: "before" | "after"): Promise<string[]> {
  await onHost(host, UNCONVERGE_MAIL);
  const log: string[] = [];
  const cut = await apply((t) => cutAt(t, n, when, log));
  if (log.at(-1)?.includes("# provision-lock release")) {
    // Cut at the lock release (with the settling of the handlers record): every change was made;
    // cut before it, the lock stays behind with a dead holder (the next run breaks it) and the
    // handlers that ran stay owed (the next run runs them again); cut after it, both are gone.
    expect(cut.status).toBe("changed");
    const left = (await onHost(host, "ls -d /run/provision.lock 2>/dev/null || :")).trim();
    expect(left).toBe(when === "before" ? "/run/provision.lock" : "");
  } else {
    expect(["failed", "unreachable"], `cut at ${log.at(-1)}`).toContain(cut.status);
    const errors = [cut.error, ...cut.steps.map((s) => s.error), ...cut.handlers.map((h) => h.error)].filter(Boolean).join("\n");
    expect(errors, `cut at ${log.at(-1)}`).toMatch(/lost/);
  }

  const owed = (await onHost(host, `cat /var/lib/provision/pending-handlers/${pendingFileName(mail.name)} 2>/dev/null || :`))
    .split("\n")
    .filter(Boolean);
  const converge = await apply();
  // "ok" only when the cut came after the last change and its handlers (at the lock release).
  const notOk = {
    steps: converge.steps.filter((s) => s.status !== "ok" && s.status !== "changed"),
    handlers: converge.handlers,
    error: converge.error,
  };
  expect(["changed", "ok"], `cut at ${log.at(-1)} (${when}): ${JSON.stringify(notOk, null, 2)}`).toContain(converge.status);
  for (const name of owed) {
    expect(converge.handlers.find((h) => h.name === name)?.status, `cut at ${log.at(-1)}: owed ${name}`).toBe("ran");
  }
  const again = await apply();
  expect(
    again.status,
    JSON.stringify(
      again.steps.filter((s) => s.status !== "ok"),
      null,
      2,
    ),
  ).toBe("ok");
  expect(again.counts.changed).toBe(0);

  expect(await leftovers(host)).toEqual([]);
  expect((await onHost(host, "postfix check 2>&1; echo rc=$?")).trim()).toBe("rc=0");
  await expectRulesOnce(host);
  // Lines the playbook owns, once each.
  const smtpdConf = (await onHost(host, "cat /etc/postfix/sasl/smtpd.conf")).split("\n").filter(Boolean);
  expect(smtpdConf.sort()).toEqual(["auxprop_plugin: sasldb", "mech_list: CRAM-MD5 DIGEST-MD5", "pwcheck_method: auxprop"]);
  expect((await onHost(host, "postconf -M submission/inet | wc -l")).trim()).toBe("1");
  return owed;
}

describe("a run cut at every command converges on the next run", () => {
  // One test walks every cut point: their number (13 for the mail playbook today) is learnt in
  // beforeAll, and each cut alternates between just before and just after the command ran.
  it("cut before or after each non-read command in turn", async () => {
    const cutsThatOwed: number[] = [];
    for (let n = 1; n <= commandsOfAFullRun.length; n += 1) {
      if ((await cutAndConverge(n, n % 2 === 1 ? "after" : "before")).length > 0) cutsThatOwed.push(n);
    }
    // Most cuts fall between a notifying change and its handler: the owed-handler path was taken.
    expect(cutsThatOwed.length).toBeGreaterThan(commandsOfAFullRun.length / 2);
  }, 1_800_000);
});
