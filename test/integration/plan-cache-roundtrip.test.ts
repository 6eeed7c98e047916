/**
 * The plan cache on a real host (src/run/plan-cache.ts): a converged `--check` is the connection
 * + 1 round trip, counted where the commands cross the SSH transport (one exec = one channel =
 * one round trip), and by the CLI's JSON report; a tampered host is still reported exactly in that
 * one round trip; facts that change the steps cost a second round trip and give the right answer.
 *
 * Position 23 in the full suite; PROVISION_ROUNDTRIP_HOST runs this file alone on a small fleet.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { fact } from "../../src/facts/custom-facts.ts";
import { definePlaybook } from "../../src/playbook/playbook.ts";
import { runHost, type RunMode } from "../../src/run/host-runner.ts";
import { filePlanCache, type PlanCache } from "../../src/run/plan-cache.ts";
import { sh } from "../../src/shell/sh.ts";
import { directory } from "../../src/steps/directory.ts";
import { file } from "../../src/steps/file.ts";
import { ownerMode } from "../../src/steps/owner-mode.ts";
import { connectSsh } from "../../src/transport/ssh/index.ts";
import type { Transport } from "../../src/transport/transport.ts";
import { hostExec } from "../hosts/harness.ts";
import { parseReport, REPO, runOnTestHost } from "./support/cli.ts";
import { testFleet, testHost } from "./support/fleet.ts";

const host = testHost(Number(process.env.PROVISION_ROUNDTRIP_HOST ?? 23));
const ROOT = "/srv/provision-roundtrip";
const COLOR = "/etc/provision-roundtrip-color";
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-roundtrip-"));
  await hostExec(host, `rm -rf ${ROOT}; printf 'blue\\n' > ${COLOR}`);
});

afterAll(async () => {
  await hostExec(host, `rm -rf ${ROOT} ${COLOR}`);
  await rm(dir, { recursive: true, force: true });
});

/** Steps that depend on the built-in facts and on a custom one (the file the color names). */
const playbook = definePlaybook({
  name: "roundtrip",
  vars: z.object({}),
  facts: { color: fact({ command: sh`cat ${COLOR}`, parse: (r) => r.stdout.toString("utf8").trim() }) },
  steps: ({ facts }) => [
    directory({ path: ROOT, owner: "root", group: "root", mode: "0750" }),
    file({ path: `${ROOT}/os`, content: `${facts.distro} ${facts.version} uid ${facts.uid}\n`, mode: "0640" }),
    file({ path: `${ROOT}/${facts.custom.color}`, content: `${facts.custom.color}\n` }),
    ownerMode({ path: "/etc/hostname", owner: "root", mode: "0644" }),
  ],
});

/** runHost over real SSH, counting the execs (round trips) that cross the transport. */
async function run(mode: RunMode, cache: PlanCache | undefined) {
  const fleet = testFleet();
  let execs = 0;
  let connects = 0;
  const connect = async (): Promise<Transport> => {
    connects += 1;
    const transport = await connectSsh({
      host: host.address,
      port: host.port,
      user: "root",
      identityFiles: [fleet.privateKeyPath],
      knownHostsFiles: [fleet.knownHostsPath],
      sshConfigPath: false,
      agent: false,
    });
    return {
      host: transport.host,
      address: transport.address,
      exec: (...args: Parameters<Transport["exec"]>) => {
        execs += 1;
        return transport.exec(...args);
      },
      close: () => transport.close(),
    } as Transport;
  };
  const report = await runHost({
    playbook,
    vars: {},
    host: { name: host.name, address: host.address },
    connect,
    mode,
    ...(cache ? { planCache: cache } : {}),
  });
  return { report, execs, connects, statuses: report.steps.map((s) => s.status) };
}

/** What the same check says without any cache (facts, then the reads): the answer to match. */
async function uncachedCheck() {
  const { report, execs } = await run("check", undefined);
  expect(execs).toBe(2);
  return report.steps.map(({ name, status, summary, diff }) => ({ name, status, summary, diff }));
}
const shown = (r: Awaited<ReturnType<typeof run>>) =>
  r.report.steps.map(({ name, status, summary, diff }) => ({ name, status, summary, diff }));

describe("plan cache on a real host", () => {
  it("converged --check: connection + 1 round trip; tampering found in it; changed facts: 2 and the right answer", async () => {
    const cache = filePlanCache(join(dir, "plans"), "roundtrip-key");

    const fresh = await run("check", cache);
    expect(fresh.report.error ?? "", JSON.stringify(fresh.report)).toBe("");
    expect(fresh.execs).toBe(2); // no plan yet: facts, then the reads
    expect(fresh.statuses).toEqual(["would-change", "would-change", "would-change", "ok"]);
    expect(shown(fresh)).toEqual(await uncachedCheck());

    const applied = await run("apply", cache);
    expect(applied.report.status).toBe("changed");
    expect(applied.statuses).toEqual(["changed", "changed", "changed", "ok"]);

    const converged = await run("check", cache);
    expect(converged).toMatchObject({ execs: 1, connects: 1, statuses: ["ok", "ok", "ok", "ok"] });
    expect(converged.report).toMatchObject({ status: "ok", roundTrips: 1, readRoundTrips: 1 });
    const convergedApply = await run("apply", cache);
    expect(convergedApply).toMatchObject({ execs: 1, statuses: ["ok", "ok", "ok", "ok"] });

    // Drift is read in the same single round trip, exactly.
    await hostExec(host, `printf 'tampered\\n' > ${ROOT}/blue; chmod 0700 ${ROOT}`);
    const drifted = await run("check", cache);
    expect(drifted.execs).toBe(1);
    expect(drifted.report.steps[0]?.summary).toContain("0700 → 0750");
    expect(drifted.statuses).toContain("would-change");
    expect(shown(drifted)).toEqual(await uncachedCheck());
    await run("apply", cache);

    // The custom fact changed: the steps now want /srv/…/red, which the cached facts did not plan.
    await hostExec(host, `printf 'red\\n' > ${COLOR}`);
    const recolored = await run("check", cache);
    expect(recolored.execs).toBe(2);
    expect(recolored.statuses).toEqual(["ok", "ok", "would-change", "ok"]);
    expect(recolored.report.steps[2]?.name).toContain(`${ROOT}/red`);
    expect(shown(recolored)).toEqual(await uncachedCheck());
    const again = await run("check", cache);
    expect(again).toMatchObject({ execs: 1, statuses: ["ok", "ok", "would-change", "ok"] });

    // Only facts are in the cache (never a command).
    const [entry] = await readdir(join(dir, "plans"));
    const text = await readFile(join(dir, "plans", entry as string), "utf8");
    expect(JSON.parse(text).facts).toMatchObject({ distro: "debian", uid: 0, custom: { color: "red" } });
    expect(text).not.toContain("stat ");
  });

  it("the CLI: a converged --check after a run is 1 round trip in its JSON report", async () => {
    const pb = join(dir, "cli.ts");
    await writeFile(
      pb,
      `import { definePlaybook, file, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "roundtrip-cli",
  vars: z.object({}),
  steps: ({ facts }) => [file({ path: "${ROOT}/cli", content: facts.hostname + "\\n" })],
});
`,
    );
    await hostExec(host, `mkdir -p ${ROOT}`);
    const env = { PROVISION_CACHE_DIR: join(dir, "cli-cache") };
    const first = await runOnTestHost(pb, host.address, ["--json"], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(parseReport(first).hosts[0]).toMatchObject({ status: "changed" });
    const check = await runOnTestHost(pb, host.address, ["--check", "--json"], { env });
    expect(check.code, check.stderr).toBe(0);
    expect(parseReport(check).hosts[0]).toMatchObject({ status: "ok", roundTrips: 1, readRoundTrips: 1 });
    const uncached = await runOnTestHost(pb, host.address, ["--check", "--json"], { env: { ...env, PROVISION_PLAN_CACHE: "off" } });
    expect(parseReport(uncached).hosts[0]).toMatchObject({ status: "ok", roundTrips: 2, readRoundTrips: 2 });
  });
});
