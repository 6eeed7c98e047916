/**
 * The system steps on real Debian 12 hosts (fleet positions 4 and 5): for each step
 * apply → apply again (0 changes) → check (no drift) → tamper by hand → check names the step
 * (with a diff where text) → apply → check clean. Plus: the sasldb password is verified in the
 * db itself, and never shows in any process's command line while it is set.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { hostExec, type TestHost } from "../hosts/harness.ts";
import { execInHost } from "../hosts/host.ts";
import type {} from "../hosts/global-setup.ts";
import { testHost } from "./support/fleet.ts";
import { connectTestHost } from "./support/connect.ts";
import { runHost, type RunMode } from "../../src/run/host-runner.ts";
import { definePlaybook } from "../../src/playbook/playbook.ts";
import type { Facts } from "../../src/facts/facts.ts";
import type { Handler, PlaybookItem } from "../../src/playbook/step.ts";
import type { RunEvent } from "../../src/report/events.ts";
import { secret } from "../../src/shell/secret.ts";
import {
  groupMember,
  iptablesPersist,
  iptablesRule,
  ownerMode,
  packages,
  reloadService,
  sasldbUser,
  service,
} from "../../src/steps/index.ts";

const fleet = inject("fleet");

async function play(host: TestHost, mode: RunMode, steps: (facts: Facts) => PlaybookItem[], handlers: Record<string, Handler> = {}) {
  const events: RunEvent[] = [];
  const playbook = definePlaybook({
    name: "steps-system",
    vars: z.object({}),
    steps: ({ facts }) => steps(facts),
    handlers: () => handlers,
  });
  const report = await runHost({
    playbook,
    vars: {},
    host: { name: host.name, address: host.address },
    connect: () => connectTestHost(host),
    mode,
    emit: (e) => events.push(e),
  });
  return { report, events };
}

async function sh(host: TestHost, command: string): Promise<string> {
  const r = await hostExec(host, command);
  if (r.exitCode !== 0) throw new Error(`${command}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/** The whole cycle for one playbook; returns the drift check's report for step-specific asserts. */
async function cycle(host: TestHost, steps: (facts: Facts) => PlaybookItem[], tamper: string, handlers: Record<string, Handler> = {}) {
  const first = await play(host, "apply", steps, handlers);
  expect(first.report.status, JSON.stringify(first.report.steps)).toMatch(/^(changed|ok)$/);
  const second = await play(host, "apply", steps, handlers);
  expect(second.report.counts.changed, JSON.stringify(second.report.steps)).toBe(0);
  expect((await play(host, "check", steps, handlers)).report.status).toBe("ok");
  await sh(host, tamper);
  const drift = await play(host, "check", steps, handlers);
  expect(drift.report.status, JSON.stringify(drift.report.steps)).toBe("drift");
  const fixed = await play(host, "apply", steps, handlers);
  expect(fixed.report.status, JSON.stringify(fixed.report.steps)).toBe("changed");
  const clean = await play(host, "check", steps, handlers);
  expect(clean.report.status, JSON.stringify(clean.report.steps)).toBe("ok");
  return drift.report;
}

describe.skipIf(!fleet)("system steps on a real host", () => {
  let h4: TestHost;
  beforeAll(() => {
    h4 = testHost(4);
  });

  it("packages: hello installed", { timeout: 400_000 }, async () => {
    const drift = await cycle(
      h4,
      (f) => [packages(f, { names: ["hello"], state: "installed" })],
      "DEBIAN_FRONTEND=noninteractive apt-get -y -q remove hello >/dev/null",
    );
    expect(drift.steps[0]).toMatchObject({ kind: "packages", status: "would-change", summary: "install hello" });
    await sh(h4, "dpkg-query -W hello");
  });

  it("service: postfix running and enabled; reload handler runs on change", async () => {
    const steps = (f: Facts) => [service(f, { name: "postfix", state: "running", enabled: true, notify: ["reload postfix"] })];
    const drift = await cycle(h4, steps, "systemctl stop postfix && systemctl disable postfix 2>/dev/null", {
      "reload postfix": reloadService("postfix"),
    });
    expect(drift.steps[0]).toMatchObject({ kind: "service", status: "would-change", summary: "start, enable" });
    expect(drift.handlers).toEqual([{ name: "reload postfix", status: "would-run" }]);
    expect((await sh(h4, "systemctl is-active postfix")).trim()).toBe("active");
  });

  it("iptables rule: 587 accepted, first, exactly once", async () => {
    const rule = ["-p", "tcp", "--dport", "587", "-j", "ACCEPT"];
    await sh(h4, "iptables -w -A INPUT -p tcp --dport 22 -j ACCEPT; true");
    const drift = await cycle(
      h4,
      () => [iptablesRule({ chain: "INPUT", rule, position: 1 })],
      "iptables -w -A INPUT -p tcp --dport 587 -j ACCEPT",
    );
    expect(drift.steps[0]).toMatchObject({ kind: "iptables-rule", status: "would-change", summary: "remove 1 duplicate" });
    const listed = (await sh(h4, "iptables -w -S INPUT")).split("\n").filter((l) => l.includes("--dport 587"));
    expect(listed).toEqual(["-A INPUT -p tcp -m tcp --dport 587 -j ACCEPT"]);
    expect((await sh(h4, "iptables -w -S INPUT 1")).trim()).toBe(listed[0]);
  });

  it("iptables persist: rules.v4 follows iptables-save (comments and counters ignored)", async () => {
    const steps = (f: Facts) => [iptablesPersist(f, { family: "ipv4" })];
    const drift = await cycle(h4, steps, "echo '-A INPUT -p tcp -m tcp --dport 9999 -j DROP' >> /etc/iptables/rules.v4");
    expect(drift.steps[0]).toMatchObject({ kind: "iptables-persist", status: "would-change", summary: "update /etc/iptables/rules.v4" });
    expect(drift.steps[0]?.diff).toContain("--dport 9999");
    // A new comment line is not drift.
    await sh(h4, "echo '# saved by hand' >> /etc/iptables/rules.v4");
    expect((await play(h4, "check", steps)).report.status).toBe("ok");
  });

  it("owner/mode of an existing file", async () => {
    await sh(h4, "printf x > /root/owner-mode-test && chown root:root /root/owner-mode-test && chmod 0600 /root/owner-mode-test");
    const drift = await cycle(
      h4,
      () => [ownerMode({ path: "/root/owner-mode-test", owner: "postfix", group: "sasl", mode: "0640" })],
      "chmod 0644 /root/owner-mode-test",
    );
    expect(drift.steps[0]).toMatchObject({ kind: "owner-mode", status: "would-change", summary: "mode 0644 → 0640" });
    expect((await sh(h4, "stat -c '%U %G %a' /root/owner-mode-test")).trim()).toBe("postfix sasl 640");
  });
});

describe.skipIf(!fleet)("sasldb user on a real host", () => {
  let h5: TestHost;
  const realm = "mail.example.test";
  const db = "/etc/sasldb2";
  const copy = "/var/spool/postfix/etc/sasldb2";
  const steps = (password: string) => () => [
    groupMember({ user: "postfix", group: "sasl" }),
    sasldbUser({ user: "alice", realm, password: secret(password), group: "sasl", mode: "0640", chrootCopy: copy }),
  ];

  /** The stored cleartext value for alice, read from db_dump's hex by this test (never printed). */
  async function storedHex(path: string): Promise<string | undefined> {
    const lines = (await sh(h5, `db_dump ${path}`)).split("\n");
    const key = ` ${Buffer.from(`alice\0${realm}\0userPassword`).toString("hex")}`;
    const at = lines.indexOf(key);
    return at < 0 ? undefined : lines[at + 1]?.trim();
  }

  beforeAll(() => {
    h5 = testHost(5);
  });
  afterAll(async () => {
    if (h5)
      await hostExec(h5, "rm -f /usr/local/sbin/saslpasswd2 /usr/local/bin/od /usr/local/bin/db_dump /root/.pw-pattern /root/.stop-watch");
  });

  it("apply → idempotent → hand-changed password is drift (never shown) → reset", async () => {
    const password = "first Pässword 'quoted' $x";
    const drift = await cycle(h5, steps(password), `printf '%s' other | saslpasswd2 -p -c -u ${realm} -f ${db} alice`);
    expect(drift.steps[1]).toMatchObject({ kind: "sasldb-user", status: "would-change" });
    expect(drift.steps[1]?.summary).toBe(`reset password of alice@${realm} (stored password differs), sync chroot copy ${copy}`);
    expect(JSON.stringify(drift)).not.toContain(password);
    // The db holds exactly this password, and smtpd's chroot copy is byte-identical.
    expect(await storedHex(db)).toBe(Buffer.from(password).toString("hex"));
    await sh(h5, `cmp -s ${db} ${copy}`);
    expect((await sh(h5, "id -nG postfix")).split(/\s+/)).toContain("sasl");
    expect((await sh(h5, `stat -c '%U %G %a' ${db} ${copy}`)).trim().split("\n")).toEqual(["root sasl 640", "root sasl 640"]);
  });

  it("a deleted chroot copy is drift", async () => {
    await play(h5, "apply", steps("first Pässword 'quoted' $x"));
    await sh(h5, `rm -f ${copy}`);
    const { report } = await play(h5, "check", steps("first Pässword 'quoted' $x"));
    expect(report.steps[1]?.summary).toBe(`sync chroot copy ${copy}`);
  });

  it("while passwords are set, no process on the host has one in its command line", { timeout: 240_000 }, async () => {
    const passwords = ["watch-Me-1 secret", "watch-Me-2 secret", "watch-Me-3 secret"];
    // Slow wrappers first in PATH make the commands that handle the password observable.
    await sh(
      h5,
      `for t in /usr/local/sbin/saslpasswd2:/usr/sbin/saslpasswd2 /usr/local/bin/od:/usr/bin/od /usr/local/bin/db_dump:/usr/bin/db_dump; do
      w=\${t%%:*}; real=\${t#*:}; printf '#!/bin/sh\\nsleep 0.4\\nexec %s "$@"\\n' "$real" > "$w"; chmod 755 "$w"; done; rm -f /root/.stop-watch`,
    );
    // The watcher reads the patterns from a file, so its own argv holds none of them.
    await execInHost(h5.name, "umask 077; cat > /root/.pw-pattern", { input: `${passwords.join("\n")}\n` });
    const watcher = hostExec(
      h5,
      `n=0; hits=0; seen=""
      while [ ! -e /root/.stop-watch ] && [ "$n" -lt 3000 ]; do
        n=$((n+1))
        all=$(for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f"; echo; done 2>/dev/null)
        c=$(printf '%s\\n' "$all" | grep -c -F -f /root/.pw-pattern); hits=$((hits+c))
        for t in saslpasswd2 od db_dump; do case "$all" in *"/usr/bin/$t"*|*"/usr/sbin/$t"*|*"local/sbin/$t"*|*"local/bin/$t"*) case " $seen " in *" $t "*) ;; *) seen="$seen $t";; esac;; esac; done
      done
      echo "samples=$n hits=$hits seen=$seen"`,
    );
    const started = Date.now();
    for (const password of passwords) {
      const { report } = await play(h5, "apply", steps(password));
      expect(report.status, JSON.stringify(report.steps)).toBe("changed");
      expect(await storedHex(db)).toBe(Buffer.from(password).toString("hex"));
    }
    await sh(h5, "touch /root/.stop-watch");
    const result = (await watcher).stdout.trim();
    const samples = Number(/samples=(\d+)/.exec(result)?.[1]);
    // What this proves: across many samples taken while the reads (od, db_dump) and saslpasswd2
    // ran — the watcher saw those processes — no command line held a password. It samples, so a
    // process shorter than one sampling round could in principle slip by; the wrappers keep each
    // password-handling command alive for 0.4 s, longer than a round.
    expect(result).toMatch(/hits=0 /);
    expect(samples).toBeGreaterThan(5);
    expect(result).toContain("saslpasswd2");
    expect(result).toContain("od");
    expect(Date.now() - started).toBeLessThan(200_000);
  });
});
