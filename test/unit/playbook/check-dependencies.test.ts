/**
 * `--check` and pending changes: a step whose state depends on a change an earlier step would make
 * is `unknown (depends on a pending change of <that step>)` — its failure, drift and ok alike — and
 * only then: a failure nothing pending explains is shown as apply shows it (same exit code).
 * Steps declare what they touch (Step.provides / requires, playbook/resources.ts).
 */
import { describe, expect, it } from "vitest";
import { createServer } from "node:net";
import { z } from "zod";
import { overallResult } from "../../../src/cli/exit-code.ts";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { overlaps } from "../../../src/playbook/resources.ts";
import { flushHandlers, type Handler, type PlaybookItem, type Step } from "../../../src/playbook/step.ts";
import { sh } from "../../../src/shell/sh.ts";
import { directory } from "../../../src/steps/directory.ts";
import { file } from "../../../src/steps/file.ts";
import { groupMember } from "../../../src/steps/group-member.ts";
import { iptablesPersist } from "../../../src/steps/iptables-persist.ts";
import { iptablesRule } from "../../../src/steps/iptables-rule.ts";
import { line } from "../../../src/steps/line.ts";
import { verifySmtp } from "../../../src/steps/verify-smtp.ts";
import type { MockTransport } from "../../../src/transport/mock.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const FACTS_PATHS = {
  osFamily: "debian",
  paths: { iptablesSaveFile: "/etc/iptables/rules.v4", ip6tablesSaveFile: "/etc/iptables/rules.v6" },
} as never;

function playbook(steps: () => PlaybookItem[], handlers: Record<string, Handler> = {}) {
  return definePlaybook({ name: "deps", vars: z.object({}), steps, handlers: () => handlers });
}

/**
 * A tiny iptables on the mock host: INPUT of the filter table as canonical `-A` lines, answering
 * iptablesRule's read (-S, -C, the canonical form) and apply (-I/-A/-D), and iptablesPersist's
 * read (iptables-save, the saved file) from the same chain.
 */
function withIptables(mock: MockTransport, rules: string[] = []): { rules: string[] } {
  const chain = { rules: [...rules] };
  const canonical = (words: string) => `-A INPUT ${words.replace(/^-p tcp /, "-p tcp -m tcp ")}`;
  mock.on(/^iptables -w -t filter -S INPUT \|\| exit\n/, (command) => {
    const words = /-C INPUT (.+?) >\/dev\/null/.exec(command)?.[1] ?? "";
    const want = canonical(words);
    return {
      stdout: [
        "-P INPUT ACCEPT",
        ...chain.rules,
        "@provision:check",
        `rc=${chain.rules.includes(want) ? 0 : 1}`,
        "@provision:canonical",
        "-P INPUT ACCEPT",
        want,
        "",
      ].join("\n"),
    };
  });
  mock.on(/^iptables -w -t filter -[IAD] INPUT/, (command) => {
    for (const part of command.split(" && ")) {
      const m = /^iptables -w -t filter -(I|A|D) INPUT (?:(\d+) )?(.*)$/.exec(part);
      if (!m) return { exitCode: 2, stderr: `fake iptables: ${part}\n` };
      const [, op, at, words = ""] = m;
      if (op === "D") chain.rules.splice(Number(at) - 1, 1);
      else if (op === "I") chain.rules.splice(Number(at ?? 1) - 1, 0, canonical(words));
      else chain.rules.push(canonical(words));
    }
    return {};
  });
  mock.on(/^iptables-save \|\| exit\n/, (_command, _stdin, host) => {
    const saved = host.files.get("/etc/iptables/rules.v4");
    const live = `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${chain.rules.map((r) => `${r}\n`).join("")}COMMIT\n`;
    const fileOut = saved ? `root root 0644 regular file\n${saved.content.toString()}` : "@provision:absent\n";
    return { stdout: `${live}@provision:file\n${fileOut}\n@provision:service\n` };
  });
  mock.on(/^mkdir -p -- \/etc\/iptables$/, {});
  return chain;
}

const port = (n: number, position?: number) =>
  iptablesRule({ chain: "INPUT", rule: ["-p", "tcp", "--dport", String(n), "-j", "ACCEPT"], ...(position ? { position } : {}) });

/** A port on 127.0.0.1 that nothing listens on (bound once, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: n } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return n;
}

describe("resources", () => {
  it("overlap: the same thing, a tree and what is under it, * and anything; nothing else", () => {
    expect(overlaps("path:/etc/motd.d/", "path:/etc/motd.d")).toBe(true);
    // A directory is not the files in it (creating it changes nothing a file step in it reads).
    expect(overlaps("path:/etc/motd.d", "path:/etc/motd.d/x")).toBe(false);
    expect(overlaps("path:/etc/apt/**", "path:/etc/apt/sources.list.d/x.list")).toBe(true);
    expect(overlaps("path:/etc/apt/sources.list.d/x.list", "path:/etc/apt/**")).toBe(true);
    expect(overlaps("path:/etc/apt/**", "path:/etc/aptitude")).toBe(false);
    expect(overlaps("path:/etc/motd", "path:/etc/motd.d")).toBe(false);
    expect(overlaps("iptables:ipv4:filter:INPUT", "iptables:ipv4:*")).toBe(true);
    expect(overlaps("iptables:ipv4:filter:INPUT", "iptables:ipv4")).toBe(false);
    expect(overlaps("iptables:ipv4:filter:INPUT", "iptables:ipv6:*")).toBe(false);
    expect(overlaps("iptables:ipv4:filter:INPUT", "iptables:ipv4:filter:OUTPUT")).toBe(false);
    expect(overlaps("*", "service:postfix")).toBe(true);
    expect(overlaps("service:postfix", "path:/etc/postfix")).toBe(false);
  });
});

describe("--check with pending changes", () => {
  const NEW = "/etc/app/app.conf";
  const createThenEdit = () => [file({ path: NEW, content: "a = 1\n" }), line({ path: NEW, line: "b = 2" })];

  it("file creates, line edits: --check says unknown naming the file step (it failed before), apply converges", async () => {
    const mock = debianHost();
    const { report } = await runOn(mock, playbook(createThenEdit), "check");
    expect(report.steps.map((s) => s.status)).toEqual(["would-change", "unknown"]);
    expect(report.steps[1]?.summary).toBe(
      `depends on a pending change of step "file ${NEW}" (${NEW} does not exist (set create: true to create it))`,
    );
    expect(overallResult([report]).exitCode).toBe(2);

    const applied = await runOn(mock, playbook(createThenEdit), "apply");
    expect(applied.report.steps.map((s) => s.status)).toEqual(["changed", "changed"]);
    expect(mock.files.get(NEW)?.content.toString()).toBe("a = 1\nb = 2\n");
  });

  it("a directory to create is not the files in it: a file there is exact 'create'; a line there without create fails in both modes", async () => {
    const steps = () => [directory({ path: "/etc/app" }), file({ path: NEW, content: "a\n" }), line({ path: "/etc/app/other", line: "x" })];
    const check = await runOn(debianHost().on(/^mkdir -p -- \/etc\/app$/, {}), playbook(steps), "check");
    expect(check.report.steps.map((s) => [s.status, s.summary ?? s.error])).toEqual([
      ["would-change", "create"],
      ["would-change", "create"],
      ["failed", "/etc/app/other does not exist (set create: true to create it)"],
    ]);
    const apply = await runOn(debianHost().on(/^mkdir -p -- \/etc\/app$/, {}), playbook(steps), "apply");
    expect(apply.report.steps.map((s) => s.status)).toEqual(["changed", "changed", "failed"]);
  });

  it("a drift that depends on a pending rewrite of the same file is unknown, with what it is now", async () => {
    const mock = debianHost().file(NEW, "old\n");
    const { report } = await runOn(mock, playbook(createThenEdit), "check");
    expect(report.steps[1]).toMatchObject({
      status: "unknown",
      summary: `depends on a pending change of step "file ${NEW}" (as the host is now: content)`,
    });
    expect(report.steps[1]?.diff).toBeUndefined();
  });

  it("an unrelated read failure after a pending change is a failure, exit 1, as in apply (it was unknown, exit 2)", async () => {
    const steps = () => [file({ path: "/etc/motd", content: "hi\n" }), groupMember({ user: "postfix", group: "sasl" })];
    const noGroup = () => debianHost().on(/^getent group sasl/, { exitCode: 4, stderr: "no group sasl\n" });
    const check = await runOn(noGroup(), playbook(steps), "check");
    expect(check.report.steps.map((s) => s.status)).toEqual(["would-change", "failed"]);
    expect(check.report.steps[1]?.error).toContain("no group sasl");
    const apply = await runOn(noGroup(), playbook(steps), "apply");
    expect(apply.report.steps.map((s) => s.status)).toEqual(["changed", "failed"]);
    expect(overallResult([check.report]).exitCode).toBe(overallResult([apply.report]).exitCode);
  });

  it("a step that declares nothing provides everything: a later failure is unknown (today's behaviour for users' steps)", async () => {
    const custom: Step<string> = {
      kind: "custom",
      name: "custom thing",
      read: () => ({ command: sh`custom-read`, parse: (r) => r.stdout.toString() }),
      diff: (current) => (current === "done" ? null : { summary: "do it" }),
      apply: async () => undefined,
    };
    const mock = debianHost()
      .on(/^custom-read/, { stdout: "not yet" })
      .on(/^getent group sasl/, { exitCode: 4, stderr: "no group sasl\n" });
    const { report } = await runOn(
      mock,
      playbook(() => [custom, groupMember({ user: "postfix", group: "sasl" })]),
      "check",
    );
    expect(report.steps.map((s) => s.status)).toEqual(["would-change", "unknown"]);
    expect(report.steps[1]?.summary).toContain('depends on a pending change of step "custom thing" (');
  });

  it("iptables: the 587 rule at position 2 while the 25 rule is pending at 1 is unknown (it said 'insert at 1'); apply puts both where asked", async () => {
    const mock = debianHost();
    // An empty chain (a bare host): 587 alone would go to 1, where 25 is about to go.
    const chain = withIptables(mock);
    const steps = () => [port(25, 1), port(587, 2), iptablesPersist(FACTS_PATHS)];
    const { report } = await runOn(mock, playbook(steps), "check");
    expect(report.steps.map((s) => s.status)).toEqual(["would-change", "unknown", "unknown"]);
    expect(report.steps[0]?.summary).toBe("insert at 1");
    expect(report.steps[1]?.summary).toBe(
      `depends on a pending change of step "${report.steps[0]?.name}" (as the host is now: insert at 1)`,
    );
    // The saved rules would show the chain without 25 and 587: unknown until they exist.
    expect(report.steps[2]?.summary).toContain(`depends on a pending change of step "${report.steps[1]?.name}"`);
    expect(report.steps[2]?.diff).toBeUndefined();

    const applied = await runOn(mock, playbook(steps), "apply");
    expect(applied.report.status).toBe("changed");
    expect(chain.rules).toEqual(["-A INPUT -p tcp -m tcp --dport 25 -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 587 -j ACCEPT"]);
    expect(mock.files.get("/etc/iptables/rules.v4")?.content.toString()).toContain("--dport 587");
    expect((await runOn(mock, playbook(steps), "check")).report.status).toBe("ok");
  });

  it("iptables: nothing pending in the chain → persist's diff is exact; a rule without position ignores others", async () => {
    const mock = debianHost();
    withIptables(mock, ["-A INPUT -p tcp -m tcp --dport 25 -j ACCEPT"]);
    const { report } = await runOn(
      mock,
      playbook(() => [port(25, 1), port(80), port(443), iptablesPersist(FACTS_PATHS)]),
      "check",
    );
    // 80 and 443 are appended whatever the other does; persist depends on both.
    expect(report.steps.map((s) => s.status)).toEqual(["ok", "would-change", "would-change", "unknown"]);
    const persistOnly = await runOn(
      mock,
      playbook(() => [port(25, 1), iptablesPersist(FACTS_PATHS)]),
      "check",
    );
    expect(persistOnly.report.steps[1]).toMatchObject({ status: "would-change", summary: "create /etc/iptables/rules.v4" });
    expect(persistOnly.report.steps[1]?.diff).toContain("+-A INPUT -p tcp -m tcp --dport 25 -j ACCEPT");
  });

  it("verify smtp after a pending change is unknown, not 'would change — connection refused'; alone it is exact drift", async () => {
    const closed = await closedPort();
    const verify = () => verifySmtp({ host: "127.0.0.1", ports: [closed], timeoutMs: 2_000 });
    const alone = await runOn(
      debianHost(),
      playbook(() => [verify()]),
      "check",
    );
    expect(alone.report.steps[0]?.status).toBe("would-change");
    expect(alone.report.steps[0]?.summary).toMatch(/refused/i);

    const pending = await runOn(
      debianHost(),
      playbook(() => [file({ path: "/etc/motd", content: "hi\n" }), verify()]),
      "check",
    );
    expect(pending.report.steps[1]?.status).toBe("unknown");
    expect(pending.report.steps[1]?.summary).toMatch(
      /^depends on a pending change of step "file \/etc\/motd" \(as the host is now: .*refused/i,
    );
  });

  it("a handler that would run at a flush is a pending change for what follows", async () => {
    const closed = await closedPort();
    const mock = debianHost().file("/etc/motd", "hi\n");
    const steps = () => [
      file({ path: "/etc/motd", content: "hi\n", mode: "0600", notify: ["restart"] }),
      flushHandlers(),
      verifySmtp({ host: "127.0.0.1", ports: [closed], timeoutMs: 2_000 }),
    ];
    const restart: Handler = { run: async ({ session }) => void (await session.runOrThrow(sh`systemctl restart x`)) };
    const { report } = await runOn(mock, playbook(steps, { restart }), "check");
    expect(report.handlers).toEqual([{ name: "restart", status: "would-run" }]);
    expect(report.steps[1]?.summary).toContain('depends on a pending change of handler "restart"');
  });
});

describe("a change narrower than its step (Change.provides)", () => {
  // Two fields of one thing: the step may change either (provides the whole), this change one.
  const setter = (field: string): Step<string> => ({
    kind: "kv",
    name: `set ${field}`,
    provides: ["thing:t:*"],
    requires: [`thing:t:${field}`],
    read: () => ({ command: sh`kv-get ${field}`, parse: (r) => r.stdout.toString() }),
    diff: (current) => (current === "1" ? null : { summary: `${field} → 1`, provides: [`thing:t:${field}`] }),
    apply: async () => undefined,
  });
  const reader = (field: string): Step<string> => ({ ...setter(field), name: `read ${field}`, provides: [], diff: () => null });

  it("makes unknown only what reads the field it changes; the rest stays exact", async () => {
    const mock = debianHost().on(/^kv-get /, { stdout: "0" });
    const { report } = await runOn(
      mock,
      playbook(() => [setter("password"), reader("home"), reader("password")]),
      "check",
    );
    expect(report.steps.map((s) => s.status)).toEqual(["would-change", "ok", "unknown"]);
    expect(report.steps[2]?.summary).toMatch(/^depends on a pending change of step "set password"/);
  });

  it("user: a password change is the password alone; a creation is the whole account (authorizedKey then unknown)", async () => {
    const { userProvides } = await import("../../../src/steps/user.ts");
    const p = { name: "bob", groups: ["adm"], append: false } as never;
    expect(userProvides(p, { action: "modify", append: false, password: true })).toEqual(["account:user:bob:password", "path:/etc/shadow"]);
    const created = userProvides(p, { action: "create" });
    expect(created).toContain("account:user:bob:*");
    expect(overlaps("account:user:bob:*", "account:user:bob:home")).toBe(true);
    expect(overlaps("account:user:bob:password", "account:user:bob:home")).toBe(false);
  });
});
