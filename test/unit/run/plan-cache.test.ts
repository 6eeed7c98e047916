/**
 * The plan cache (src/run/plan-cache.ts): a converged run is one round trip after the connection —
 * the facts and the reads the last run's facts plan, in one script — and a stale, corrupt or
 * unreadable cache costs a round trip, never a wrong answer.
 */
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { fact } from "../../../src/facts/custom-facts.ts";
import { compiledInputs, importCompiled } from "../../../src/playbook/compile-cache.ts";
import { definePlaybook, type Playbook } from "../../../src/playbook/playbook.ts";
import { playbookInputsDigest, scanInputs } from "../../../src/playbook/playbook-inputs.ts";
import type { Step } from "../../../src/playbook/step.ts";
import { runHost, type RunMode } from "../../../src/run/host-runner.ts";
import { filePlanCache, planCacheKey, type PlanCache } from "../../../src/run/plan-cache.ts";
import { secret } from "../../../src/shell/secret.ts";
import { secretStdin, sh } from "../../../src/shell/sh.ts";
import { file } from "../../../src/steps/file.ts";
import type { MockTransport } from "../../../src/transport/mock.ts";
import { assertNoSecrets } from "../../support/secret-canary.ts";
import { DEBIAN_FACTS, debianHost } from "../support/mock-host.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-plan-cache-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const KEY = "k".repeat(64);

async function run(mock: MockTransport, playbook: Playbook, mode: RunMode, cache: PlanCache | undefined, vars: unknown = { want: "v" }) {
  const before = mock.execs.length;
  const report = await runHost({
    playbook,
    vars,
    host: { name: mock.host, address: mock.host },
    connect: async () => mock.reopen(),
    mode,
    ...(cache ? { planCache: cache } : {}),
  });
  assertNoSecrets("runner report", JSON.stringify(report));
  return { report, execs: mock.execs.length - before, statuses: report.steps.map((s) => `${s.name}: ${s.status}`) };
}

/** A key-value store on the mock host: `kv-get KEY` / `kv-set KEY VALUE`. */
function kvHost(initial: Record<string, string>): MockTransport {
  const store = new Map(Object.entries(initial));
  return debianHost()
    .on(/^kv-get /, (command) => {
      const key = command.split(" ")[1] ?? "";
      return store.has(key) ? { stdout: store.get(key) } : { exitCode: 3, stderr: `no such key ${key}\n` };
    })
    .on(/^kv-set /, (command) => {
      const [, key, value] = command.split(" ");
      store.set(key ?? "", value ?? "");
      return {};
    });
}

function kvStep(key: string, desired: string): Step<string> {
  return {
    kind: "kv",
    name: `kv ${key}`,
    read: () => ({
      command: sh`kv-get ${key}`,
      parse: (result) => {
        if (result.exitCode !== 0) throw new Error(`kv-get exited ${result.exitCode}`);
        return result.stdout.toString("utf8");
      },
    }),
    diff: (current) => (current === desired ? null : { summary: `${key}: ${current} → ${desired}` }),
    apply: async ({ session }) => void (await session.runOrThrow(sh`kv-set ${key} ${desired}`)),
    provides: [`kv:${key}`],
    requires: [`kv:${key}`],
  };
}

/** The key read depends on the facts: `<hostname>-key`. */
const byHostname = definePlaybook({
  name: "by-hostname",
  vars: z.object({ want: z.string().default("v") }),
  steps: ({ facts, vars }) => [kvStep(`${facts.hostname}-key`, vars.want), kvStep("common", "c")],
});

describe("plan cache: a converged run is one round trip after the connection", () => {
  it("first run: facts, then the reads (2); the next: facts and reads in one script (1), the same answer", async () => {
    const mock = kvHost({ "mail1-key": "v", common: "c" });
    const cache = filePlanCache(dir, KEY);
    const first = await run(mock, byHostname, "check", cache);
    expect(first.execs).toBe(2);
    expect(first.report).toMatchObject({ status: "ok", roundTrips: 2, readRoundTrips: 2 });

    const second = await run(mock, byHostname, "check", cache);
    expect(second.execs).toBe(1);
    expect(second.report).toMatchObject({ status: "ok", roundTrips: 1, readRoundTrips: 1 });
    expect(second.statuses).toEqual(first.statuses);
    // The one script: the facts probe first, then every step's read (and the owed-handlers read).
    const fragments = mock.commands.slice(-3).map((c) => c.command);
    expect(fragments[0]).toMatch(/^# provision-facts v1 \{\}\necho "hostname=/);
    expect(fragments.slice(1)).toEqual(["kv-get mail1-key", "kv-get common"]);

    // A fresh cache object (another process) reads the file the same way.
    const third = await run(mock, byHostname, "check", filePlanCache(dir, KEY));
    expect(third.execs).toBe(1);
  });

  it("a converged apply is one round trip too; a drifted one reads first from it, then locks and applies as before", async () => {
    const mock = kvHost({ "mail1-key": "v", common: "c" });
    const cache = filePlanCache(dir, KEY);
    await run(mock, byHostname, "apply", cache);
    const converged = await run(mock, byHostname, "apply", cache);
    expect(converged.execs).toBe(1);
    expect(converged.report.status).toBe("ok");
    expect(mock.lockEvents).toEqual([]);

    const drifted = await run(mock, byHostname, "apply", cache, { want: "w" });
    expect(drifted.report.status).toBe("changed");
    expect(drifted.statuses).toEqual(["kv mail1-key: changed", "kv common: ok"]);
    // facts+reads, lock+fresh read, the change, the later step read again, the release…
    expect(drifted.execs).toBe(5);
    // …one less than without the cache (facts, reads, then the same four).
    const uncached = kvHost({ "mail1-key": "v", common: "c" });
    expect((await run(uncached, byHostname, "apply", undefined, { want: "w" })).execs).toBe(6);
    expect(mock.lockEvents).toEqual(["acquired", "released"]);
    const after = await run(mock, byHostname, "check", cache, { want: "w" });
    expect(after).toMatchObject({ execs: 1, report: { status: "ok" } });
  });

  it("changed vars or playbook: the reads are built from them (not from the cache), still one round trip, the right answer", async () => {
    const mock = kvHost({ "mail1-key": "v", common: "c", extra: "x" });
    const cache = filePlanCache(dir, KEY);
    await run(mock, byHostname, "check", cache);
    const otherVars = await run(mock, byHostname, "check", cache, { want: "w" });
    expect(otherVars.execs).toBe(1);
    expect(otherVars.statuses).toEqual(["kv mail1-key: would-change", "kv common: ok"]);

    const grown = definePlaybook({
      name: "by-hostname",
      vars: z.object({}),
      steps: ({ facts }) => [kvStep(`${facts.hostname}-key`, "v"), kvStep("extra", "y")],
    });
    const otherPlaybook = await run(mock, grown, "check", cache);
    expect(otherPlaybook.execs).toBe(1);
    expect(otherPlaybook.statuses).toEqual(["kv mail1-key: ok", "kv extra: would-change"]);
  });

  it("the CLI's key changes with the playbook's content, its vars and the host: another key is a miss (2 round trips)", async () => {
    const base = {
      playbookPath: "/p/site.ts",
      playbookContent: "a",
      playbookName: "site",
      vars: { a: 1 },
      host: { name: "h", address: "10.0.0.1" },
    };
    const key = planCacheKey(base);
    expect(planCacheKey({ ...base })).toBe(key);
    for (const changed of [
      { playbookContent: "b" },
      { playbookPath: "/p/other.ts" },
      { vars: { a: 2 } },
      { host: { name: "h2", address: "10.0.0.1" } },
      { host: { name: "h", address: "10.0.0.2" } },
    ]) {
      expect(planCacheKey({ ...base, ...changed })).not.toBe(key);
    }
    // A secret's value is not part of the key (it serialises as ***).
    expect(planCacheKey({ ...base, vars: { s: secret("first-secret-value") } })).toBe(
      planCacheKey({ ...base, vars: { s: secret("other-secret-value") } }),
    );

    const mock = kvHost({ "mail1-key": "v", common: "c" });
    await run(mock, byHostname, "check", filePlanCache(dir, key));
    const miss = await run(mock, byHostname, "check", filePlanCache(dir, planCacheKey({ ...base, vars: { a: 2 } })));
    expect(miss.execs).toBe(2);
    expect(miss.report.status).toBe("ok");
  });

  it("changed facts: the reads sent ahead are not the ones the steps need → a second round trip, and the right answer", async () => {
    const mock = kvHost({ "mail1-key": "v", "mail2-key": "old", common: "c" });
    const cache = filePlanCache(dir, KEY);
    expect((await run(mock, byHostname, "check", cache)).report.status).toBe("ok");

    // The host was renamed: the steps now read mail2-key (drifted), not mail1-key (converged).
    mock.on((command) => command.startsWith("# provision-facts v1 "), { stdout: DEBIAN_FACTS.replace("mail1", "mail2") });
    const renamed = await run(mock, byHostname, "check", cache);
    expect(renamed.execs).toBe(2);
    expect(renamed.report.readRoundTrips).toBe(2);
    expect(renamed.statuses).toEqual(["kv mail2-key: would-change", "kv common: ok"]);
    expect(renamed.report.steps[0]?.summary).toBe("mail2-key: old → v");
    // Only what was not sent ahead went in the second round trip.
    expect(mock.execs.at(-1)?.command).toContain("kv-get mail2-key");
    expect(mock.execs.at(-1)?.command).not.toContain("kv-get common");

    // The cache now holds the new facts: one round trip again.
    expect((await run(mock, byHostname, "check", cache)).execs).toBe(1);
  });

  it("a fact the steps do not use changed: the reads are the same, one round trip", async () => {
    const mock = kvHost({ "mail1-key": "v", common: "c" });
    const cache = filePlanCache(dir, KEY);
    await run(mock, byHostname, "check", cache);
    mock.on((command) => command.startsWith("# provision-facts v1 "), { stdout: DEBIAN_FACTS.replace("version=12", "version=13") });
    const again = await run(mock, byHostname, "check", cache);
    expect(again).toMatchObject({ execs: 1, report: { status: "ok" } });
  });

  it("keeps --check exact: a step that depends on a pending change is unknown, with or without a cache", async () => {
    const chained = definePlaybook({
      name: "chained",
      vars: z.object({}),
      steps: () => [kvStep("a", "new"), { ...kvStep("b", "b"), requires: ["kv:a"] }, kvStep("c", "c")],
    });
    const mock = kvHost({ a: "old", b: "b", c: "c" });
    const cache = filePlanCache(dir, KEY);
    const without = await run(mock, chained, "check", undefined);
    await run(mock, chained, "check", cache);
    const withCache = await run(mock, chained, "check", cache);
    expect(withCache.execs).toBe(1);
    expect(withCache.statuses).toEqual(["kv a: would-change", "kv b: unknown", "kv c: ok"]);
    expect(withCache.report.steps.map((s) => s.summary)).toEqual(without.report.steps.map((s) => s.summary));
  });
});

describe("plan cache: a corrupt, unreadable or foreign cache file is ignored", () => {
  const bad: [string, string][] = [
    ["not JSON", "{ this is not json"],
    ["truncated", '{"format":1,"key":"kkk'],
    ["another format", JSON.stringify({ format: 999, key: KEY, facts: {} })],
    ["another key", JSON.stringify({ format: 1, key: "other", facts: {} })],
    ["facts of the wrong shape", JSON.stringify({ format: 1, key: KEY, facts: { hostname: 7, uid: "0", paths: null, custom: [] } })],
    ["null", "null"],
  ];
  for (const [what, content] of bad) {
    it(`${what}: 2 round trips and the right answer, then the file is rewritten (1 round trip)`, async () => {
      await writeFile(join(dir, `${KEY}.json`), content);
      const mock = kvHost({ "mail1-key": "stale", common: "c" });
      const cache = filePlanCache(dir, KEY);
      const first = await run(mock, byHostname, "check", cache);
      expect(first.execs).toBe(2);
      expect(first.statuses).toEqual(["kv mail1-key: would-change", "kv common: ok"]);
      const second = await run(mock, byHostname, "check", filePlanCache(dir, KEY));
      expect(second.execs).toBe(1);
      expect(second.statuses).toEqual(first.statuses);
    });
  }

  it("facts that lie (another host's, another uid): nothing wrong is used, the right answer", async () => {
    const lying = {
      hostname: "elsewhere",
      osFamily: "rhel",
      distro: "rocky",
      version: "9",
      packageManager: "dnf",
      serviceManager: "systemd",
      uid: 1000,
      arch: "aarch64",
      paths: {},
      custom: {},
    };
    await writeFile(join(dir, `${KEY}.json`), JSON.stringify({ format: 1, key: KEY, facts: lying }));
    const mock = kvHost({ "mail1-key": "v", "elsewhere-key": "other", common: "c" });
    const result = await run(mock, byHostname, "check", filePlanCache(dir, KEY));
    expect(result.execs).toBe(2);
    expect(result.statuses).toEqual(["kv mail1-key: ok", "kv common: ok"]);
  });

  it("unreadable (a directory where the file should be) and unwritable: no cache, the right answer every time", async () => {
    await mkdir(join(dir, `${KEY}.json`));
    const mock = kvHost({ "mail1-key": "v", common: "c" });
    for (let i = 0; i < 2; i += 1) {
      const result = await run(mock, byHostname, "check", filePlanCache(dir, KEY));
      expect(result).toMatchObject({ execs: 2, report: { status: "ok" } });
    }
    expect((await readdir(dir)).sort()).toEqual([`${KEY}.json`]); // no temp file left behind
  });

  it("a cache directory that cannot be created: no cache, the right answer", async () => {
    await writeFile(join(dir, "file"), "");
    const mock = kvHost({ "mail1-key": "v", common: "c" });
    const cache = filePlanCache(join(dir, "file", "plans"), KEY);
    for (let i = 0; i < 2; i += 1)
      expect(await run(mock, byHostname, "check", cache)).toMatchObject({ execs: 2, report: { status: "ok" } });
  });
});

describe("plan cache: secrets", () => {
  const VALUE = "Plan-Cache-Secret-4711";

  it("a read holding a secret: never written to the cache (only facts are), re-derived and sent on stdin (1 round trip)", async () => {
    const token = secret(VALUE);
    const withSecret = definePlaybook({
      name: "secret-read",
      vars: z.object({}),
      steps: () => [
        {
          kind: "probe",
          name: "token known",
          read: () => ({ command: sh`${secretStdin(token)} token-check`, parse: (r) => r.stdout.toString("utf8").trim() }),
          diff: (current: unknown) => (current === "known" ? null : { summary: "unknown token" }),
          provides: [],
          requires: [],
        } satisfies Step<unknown>,
        file({ path: "/etc/motd", content: "hi\n" }),
      ],
    });
    const mock = debianHost()
      .on(/\| token-check$/, { stdout: "known\n" })
      .file("/etc/motd", "hi\n");
    const cache = filePlanCache(dir, KEY);
    await run(mock, withSecret, "check", cache);
    const second = await run(mock, withSecret, "check", cache);
    expect(second).toMatchObject({ execs: 1, report: { status: "ok" } });
    // The secret went on stdin (sh -s), never as the command line.
    const last = mock.execs.at(-1);
    expect(last?.command).toBe("sh -s");
    expect(last?.stdin.toString("utf8")).toContain(VALUE);
    const files = await readdir(dir);
    expect(files).toEqual([`${KEY}.json`]);
    const text = await readFile(join(dir, files[0] as string), "utf8");
    expect(text).not.toContain(VALUE);
    expect(text).not.toContain("token-check");
    expect(JSON.parse(text).facts.hostname).toBe("mail1");
  });

  it("a custom fact whose value holds a secret: the facts are not written at all", async () => {
    const token = secret(`${VALUE}-fact`);
    const echoing = definePlaybook({
      name: "secret-fact",
      vars: z.object({}),
      facts: { seen: fact({ command: sh`cat /etc/token`, parse: (r) => r.stdout.toString("utf8").trim() }) },
      steps: () => [file({ path: "/etc/motd", content: "hi\n" })],
    });
    const mock = debianHost()
      .on(/^cat \/etc\/token$/, { stdout: `${token.reveal()}\n` })
      .file("/etc/motd", "hi\n");
    const cache = filePlanCache(dir, KEY);
    for (let i = 0; i < 2; i += 1) expect(await run(mock, echoing, "check", cache)).toMatchObject({ execs: 2, report: { status: "ok" } });
    expect(await readdir(dir)).toEqual([]);
  });

  it("custom facts (a batch inside the batch) are cached and parsed as before", async () => {
    const custom = definePlaybook({
      name: "custom-facts",
      vars: z.object({}),
      facts: { color: fact({ command: sh`cat /etc/color`, parse: (r) => r.stdout.toString("utf8").trim() }) },
      steps: ({ facts }) => [kvStep(`${facts.custom.color}-key`, "v")],
    });
    let color = "blue";
    const mock = kvHost({ "blue-key": "v", "red-key": "x" }).on(/^cat \/etc\/color$/, () => ({ stdout: `${color}\n` }));
    const cache = filePlanCache(dir, KEY);
    await run(mock, custom, "check", cache);
    expect(await run(mock, custom, "check", cache)).toMatchObject({ execs: 1, statuses: ["kv blue-key: ok"] });
    color = "red";
    expect(await run(mock, custom, "check", cache)).toMatchObject({ execs: 2, statuses: ["kv red-key: would-change"] });
  });
});

describe("plan cache: local reads start with the facts (issue 16)", () => {
  // A probe from the controller (verify smtp: connect, EHLO, login) is round trips of its own;
  // it waited for the facts script. Now it starts beside it, and its result counts only when the
  // facts come back exactly as cached.
  function probed(events: string[]) {
    let calls = 0;
    const playbook = definePlaybook({
      name: "probed",
      vars: z.object({}),
      facts: { color: fact({ command: sh`probe-color`, parse: (r) => r.stdout.toString("utf8").trim() }) },
      steps: ({ facts }) => [
        kvStep("common", "c"),
        {
          // The same kind and name whatever the facts: only the facts' equality guards the result.
          kind: "probe",
          name: "color probe",
          read: () => ({
            local: async () => {
              calls += 1;
              events.push("local");
              return facts.custom.color;
            },
          }),
          diff: (seen: unknown) =>
            seen === facts.custom.color ? null : { summary: `probe saw ${String(seen)}, facts say ${facts.custom.color}` },
        } satisfies Step<unknown>,
      ],
    });
    return { playbook, calls: () => calls };
  }

  it("with the facts as cached: the probe starts before the facts script runs, once", async () => {
    const events: string[] = [];
    const { playbook, calls } = probed(events);
    const mock = kvHost({ common: "c" }).on(/^probe-color$/, () => {
      events.push("facts");
      return { stdout: "blue\n" };
    });
    const cache = filePlanCache(dir, KEY);
    expect(await run(mock, playbook, "check", cache)).toMatchObject({ execs: 2, statuses: ["kv common: ok", "color probe: ok"] });
    expect(events).toEqual(["facts", "local"]); // no cache: after the facts, as before
    events.length = 0;
    const before = calls();
    expect(await run(mock, playbook, "check", cache)).toMatchObject({ execs: 1, statuses: ["kv common: ok", "color probe: ok"] });
    expect(events).toEqual(["local", "facts"]);
    expect(calls() - before).toBe(1);
  });

  it("facts that changed: the early probe is dropped and run again from the real steps, never a wrong answer", async () => {
    const events: string[] = [];
    const { playbook, calls } = probed(events);
    let color = "blue";
    const mock = kvHost({ common: "c" }).on(/^probe-color$/, () => ({ stdout: `${color}\n` }));
    const cache = filePlanCache(dir, KEY);
    await run(mock, playbook, "check", cache);
    color = "red";
    const before = calls();
    // The early probe (built from the cached facts) says "blue"; used, it would report drift.
    const changed = await run(mock, playbook, "check", cache);
    expect(changed).toMatchObject({ statuses: ["kv common: ok", "color probe: ok"], report: { status: "ok" } });
    expect(calls() - before).toBe(2);
  });
});

describe("plan cache: a probe's login only towards the address the connection reached (issue 16)", () => {
  // A probe logs in with the playbook's credentials. Started from the cache while the connection
  // is made, it reaches the cached address even after the ssh config moved the host (that address
  // may be someone else's now): it may greet (connect, EHLO) but its login waits for the connection
  // to confirm the address, and it never logs in when the connection reached another one.
  function addressProbe(events: string[]) {
    let calls = 0;
    const playbook = definePlaybook({
      name: "address-probe",
      vars: z.object({}),
      steps: ({ host }) => [
        {
          kind: "probe",
          name: "address probe",
          read: () => ({
            local: async (beforeLogin?: Promise<void>) => {
              calls += 1;
              events.push(`greet ${host.address}`);
              if (beforeLogin) await beforeLogin;
              events.push(`login ${host.address}`);
              return host.address;
            },
          }),
          diff: (seen: unknown) => (seen === host.address ? null : { summary: `probe reached ${String(seen)}, not ${host.address}` }),
        } satisfies Step<unknown>,
      ],
    });
    return { playbook, calls: () => calls };
  }

  async function runAt(mock: MockTransport, playbook: Playbook, cache: PlanCache, address: string, events: string[]) {
    return runHost({
      playbook,
      vars: {},
      host: { name: mock.host, address },
      connect: async () => {
        events.push("connect");
        await new Promise((resolve) => setTimeout(resolve, 30));
        events.push("connected");
        return mock.reopen();
      },
      mode: "check",
      planCache: cache,
    });
  }

  it("with a plan: the probe greets while the connection is made, and logs in once it is made", async () => {
    const events: string[] = [];
    const { playbook, calls } = addressProbe(events);
    const mock = debianHost();
    const cache = filePlanCache(dir, KEY);
    expect((await runAt(mock, playbook, cache, "10.0.0.1", events)).status).toBe("ok");
    expect(events).toEqual(["connect", "connected", "greet 10.0.0.1", "login 10.0.0.1"]); // no plan yet: after the facts
    events.length = 0;
    expect((await runAt(mock, playbook, cache, "10.0.0.1", events)).status).toBe("ok");
    expect(events).toEqual(["connect", "greet 10.0.0.1", "connected", "login 10.0.0.1"]);
    // The early probe's result was the step's: no second probe.
    expect(calls()).toBe(2);
  });

  it("the host now at another address: no login towards the old one, and the right answer", async () => {
    const events: string[] = [];
    const { playbook, calls } = addressProbe(events);
    const mock = debianHost();
    const cache = filePlanCache(dir, KEY);
    await runAt(mock, playbook, cache, "10.0.0.1", events);
    events.length = 0;
    const before = calls();
    // Same facts, same key (the test passes the cache itself): only the address guards the result.
    const moved = await runAt(mock, playbook, cache, "10.0.0.2", events);
    expect(moved.status).toBe("ok");
    expect(events).toContain("greet 10.0.0.1");
    expect(events).not.toContain("login 10.0.0.1");
    expect(events).toContain("login 10.0.0.2");
    // The cached plan's probe (ended before its login) and the real step's, towards 10.0.0.2.
    expect(calls() - before).toBe(2);
  });
});

describe("plan cache: the key covers the playbook's local imports (issue 16)", () => {
  async function project(): Promise<{ main: string; imported: string }> {
    await mkdir(join(dir, "lib"));
    const main = join(dir, "mail.ts");
    const imported = join(dir, "mail-dkim.ts");
    await writeFile(main, `import { dkim } from "./mail-dkim.ts";\nimport { z } from "zod";\nexport const steps = [dkim, z];\n`);
    // A `.js` specifier for a `.ts` file, and an extensionless one: resolved as TypeScript does.
    await writeFile(imported, `export { selector } from "./lib/selector.js";\nexport const dkim = "sel1";\n`);
    await writeFile(join(dir, "lib", "selector.ts"), `import "./deep";\nexport const selector = "s";\n`);
    await writeFile(join(dir, "lib", "deep.ts"), `export const deep = 1;\n`);
    return { main, imported };
  }
  const keyOf = async (main: string) =>
    planCacheKey({
      playbookPath: main,
      playbookContent: (await playbookInputsDigest(main)) ?? "",
      playbookName: "mail",
      vars: {},
      host: { name: "h", address: "10.0.0.1" },
    });

  it("editing a module the playbook imports (at any depth) changes the key; no edit, the same key", async () => {
    const { main, imported } = await project();
    const key = await keyOf(main);
    expect(await keyOf(main)).toBe(key);
    await appendFile(imported, "export const more = 2;\n");
    const edited = await keyOf(main);
    expect(edited).not.toBe(key);
    await appendFile(join(dir, "lib", "deep.ts"), "export const deeper = 2;\n");
    expect(await keyOf(main)).not.toBe(edited);
    expect(await playbookInputsDigest(join(dir, "missing.ts"))).toBeUndefined();
  });

  it("a playbook the compile cache loaded is keyed on the inputs its entry lists (no scan), the same the scan finds", async () => {
    const { main, imported } = await project();
    const previousCache = process.env.PROVISION_CACHE_DIR;
    process.env.PROVISION_CACHE_DIR = join(dir, "cache");
    try {
      await symlink(resolve(import.meta.dirname, "../../../node_modules"), join(dir, "node_modules"));
      await writeFile(join(dir, "index.ts"), "export {};\n");
      await writeFile(join(dir, "built.mjs"), "export {};\n");
      const engine = { sourceIndex: pathToFileURL(join(dir, "index.ts")).href, builtIndex: pathToFileURL(join(dir, "built.mjs")).href };
      expect(await importCompiled(main, engine)).toBeDefined();
      const inputs = compiledInputs(main);
      expect([...(inputs?.keys() ?? [])].sort()).toEqual([...((await scanInputs(main))?.keys() ?? [])].sort());
      const key = await keyOf(main);
      await appendFile(imported, "export const more = 2;\n");
      expect(await importCompiled(main, engine)).toBeDefined(); // compiled again: the input changed
      expect(await keyOf(main)).not.toBe(key);
      // The scan gives the same inputs: switching between the built engine and tsx is no miss.
      expect(new Map(await scanInputs(main))).toEqual(new Map(compiledInputs(main)));
    } finally {
      if (previousCache === undefined) delete process.env.PROVISION_CACHE_DIR;
      else process.env.PROVISION_CACHE_DIR = previousCache;
    }
  });
});

describe("plan cache: entries not used for 30 days are removed", () => {
  const daysAgo = (days: number) => new Date(Date.now() - days * 24 * 60 * 60 * 1000);

  it("the first write of a process removes old entries and old temp files, and keeps the others", async () => {
    const mock = kvHost({ "mail1-key": "v", common: "c" });
    await writeFile(join(dir, `${"a".repeat(64)}.json`), "{}");
    await writeFile(join(dir, `${"b".repeat(64)}.json`), "{}");
    await writeFile(join(dir, `${"c".repeat(64)}.json.1.abc.tmp`), "{}");
    await writeFile(join(dir, "not-ours"), "");
    for (const name of [`${"a".repeat(64)}.json`, `${"c".repeat(64)}.json.1.abc.tmp`, "not-ours"]) {
      await utimes(join(dir, name), daysAgo(40), daysAgo(40));
    }
    await utimes(join(dir, `${"b".repeat(64)}.json`), daysAgo(29), daysAgo(29));
    await run(mock, byHostname, "check", filePlanCache(dir, KEY));
    expect((await readdir(dir)).sort()).toEqual([`${"b".repeat(64)}.json`, `${KEY}.json`, "not-ours"]);
  });

  it("a used entry that is not rewritten is marked used (its mtime), at most once a day", async () => {
    const mock = kvHost({ "mail1-key": "v", common: "c" });
    const file = join(dir, `${KEY}.json`);
    await run(mock, byHostname, "check", filePlanCache(dir, KEY));
    await utimes(file, daysAgo(0.5), daysAgo(0.5));
    expect(await run(mock, byHostname, "check", filePlanCache(dir, KEY))).toMatchObject({ execs: 1 });
    expect(Date.now() - (await stat(file)).mtimeMs).toBeGreaterThan(0.4 * 24 * 60 * 60 * 1000);
    await utimes(file, daysAgo(20), daysAgo(20));
    expect(await run(mock, byHostname, "check", filePlanCache(dir, KEY))).toMatchObject({ execs: 1 });
    expect(Date.now() - (await stat(file)).mtimeMs).toBeLessThan(60_000);
  });
});
