/**
 * More server steps on a real Debian 12 host (fleet position 22): debconf (a string and a password
 * answer) and aptRepository (a tiny signed repository served from the controller by an in-process
 * Node http server on the bridge address: no child process to clean up, nothing killed by name).
 * Each goes through the cycle (apply → apply 0 changes → check clean → tamper → check names exactly
 * the step → apply → check clean), then is checked with the host's own tools: debconf-show and
 * debconf-communicate, and `apt-get update` fetching and verifying the served InRelease.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { hostExec, restartHost, type TestHost } from "../hosts/harness.ts";
import type {} from "../hosts/global-setup.ts";
import { testFleet, testHost } from "./support/fleet.ts";
import { cycle, drifted, onHost, play } from "./support/steps-cycle.ts";
import { secret } from "../../src/shell/secret.ts";
import { aptRepository, command, debconf, reboot } from "../../src/steps/index.ts";

const fleet = inject("fleet");
// Position 22 in the full suite; PROVISION_STEPS_MORE_HOST runs this file alone on a small fleet.
const POSITION = Number(process.env.PROVISION_STEPS_MORE_HOST ?? 22);

describe.skipIf(!fleet)("debconf on a real host", () => {
  let h: TestHost;
  const PASSWORD = "Debconf-Test-Pass-731";
  const CLEANUP = "printf 'PURGE\\n' | debconf-communicate provtest >/dev/null 2>&1; true";
  const steps = () => [
    debconf({ name: "provtest", question: "provtest/greeting", vtype: "string", value: "hello  'world' ü" }),
    debconf({ name: "provtest", question: "provtest/enabled", vtype: "boolean", value: true }),
    debconf({ name: "provtest", question: "provtest/secret", vtype: "password", value: secret(PASSWORD) }),
  ];

  beforeAll(async () => {
    h = testHost(POSITION);
    await onHost(h, CLEANUP);
  });
  afterAll(async () => {
    if (h) await onHost(h, CLEANUP);
  });

  it("goes through the cycle; a tampered answer is named exactly", async () => {
    const drift = await cycle(h, steps, "echo 'provtest provtest/greeting string hello' | debconf-set-selections");
    expect(drifted(drift)).toEqual(["debconf provtest/greeting"]);
    expect(drift.steps.find((s) => s.status !== "ok")?.summary).toBe(`value "hello" → "hello  'world' ü"`);
    // debconf's own reader agrees
    const shown = await onHost(h, "debconf-show provtest");
    expect(shown).toContain("provtest/greeting: hello  'world' ü");
    expect(shown).toContain("provtest/enabled: true");
    expect(shown).toContain("provtest/secret: (password omitted)");
    expect(await onHost(h, "printf 'GET provtest/secret\\n' | debconf-communicate provtest")).toBe(`0 ${PASSWORD}\n`);
  });

  it("a changed password is drift named without its value; apply sets it back", async () => {
    await onHost(h, "echo 'provtest provtest/secret password Other-Pass-0000' | debconf-set-selections");
    const check = await play(h, "check", steps);
    expect(drifted(check.report)).toEqual(["debconf provtest/secret"]);
    expect(check.report.steps.find((s) => s.status !== "ok")?.summary).toBe("password differs");
    const fixed = await play(h, "apply", steps);
    expect(fixed.report.counts.changed).toBe(1);
    const all = JSON.stringify([check, fixed]);
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain("Other-Pass-0000");
    expect(await onHost(h, "printf 'GET provtest/secret\\n' | debconf-communicate provtest")).toBe(`0 ${PASSWORD}\n`);
    // the password was never in any process's argv on the host: the read and the set go through stdin
    expect((await play(h, "check", steps)).report.status).toBe("ok");
  });
});

describe.skipIf(!fleet)("aptRepository on a real host", () => {
  let h: TestHost;
  let gnupg: string;
  let server: Server;
  let url: string;
  let keyring: Buffer;
  let fingerprint: string;
  const files = new Map<string, Buffer>();
  const CLEANUP = "rm -f /etc/apt/sources.list.d/provtest.sources /etc/apt/keyrings/provtest.gpg; true";

  beforeAll(async () => {
    h = testHost(POSITION);
    await onHost(h, CLEANUP);
    gnupg = mkdtempSync(join(tmpdir(), "provision-apt-gpg-"));
    const gpg = (args: string[], input?: string) =>
      execFileSync("gpg", ["--homedir", gnupg, "--batch", "--quiet", ...args], { input, timeout: 30_000 });
    gpg(["--passphrase", "", "--quick-gen-key", "provision test repo <repo@provision.test>", "ed25519", "sign", "never"]);
    fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(gpg(["--with-colons", "--list-keys"]).toString())?.[1] as string;
    keyring = gpg(["--export", fingerprint]);
    // An empty repository: dists/stable/{InRelease, main/binary-amd64/Packages}.
    const packages = Buffer.alloc(0);
    const sha = createHash("sha256").update(packages).digest("hex");
    const release = [
      "Origin: provtest",
      "Label: provtest",
      "Suite: stable",
      "Codename: stable",
      `Date: ${new Date().toUTCString()}`,
      "Architectures: amd64",
      "Components: main",
      "SHA256:",
      ` ${sha} 0 main/binary-amd64/Packages`,
      "",
    ].join("\n");
    files.set("/dists/stable/InRelease", gpg(["--local-user", fingerprint, "--clearsign"], release));
    files.set("/dists/stable/main/binary-amd64/Packages", packages);
    server = createServer((req, res) => {
      const body = files.get((req.url ?? "").split("?")[0] ?? "");
      res.writeHead(body ? 200 : 404, { "content-type": "application/octet-stream" });
      res.end(body ?? "");
    });
    const gateway = testFleet().gateway;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, gateway, () => resolve());
    });
    url = `http://${gateway}:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (gnupg) rmSync(gnupg, { recursive: true, force: true });
    if (h) await onHost(h, CLEANUP);
  });

  const steps = () => [aptRepository({ name: "provtest", uris: [url], suites: ["stable"], components: ["main"], keyring, fingerprint })];

  it("goes through the cycle; a tampered source is named exactly; apt verifies the served repository", async () => {
    const drift = await cycle(h, steps, "sed -i 's/^Suites: stable$/Suites: unstable/' /etc/apt/sources.list.d/provtest.sources");
    expect(drifted(drift)).toEqual(["apt repository provtest"]);
    // apt itself: only this source, straight to the controller (not through the mirror proxy)
    const host = new URL(url).hostname;
    const out = await onHost(
      h,
      `apt-get update -o Dir::Etc::SourceList=/dev/null -o Acquire::http::Proxy::${host}=DIRECT -o APT::Update::Error-Mode=any 2>&1`,
    );
    expect(out).toMatch(/Get:1 http:\/\/[0-9.]+:\d+ stable InRelease/);
    expect(out).not.toMatch(/NO_PUBKEY|not signed|Err:/);
    // a keyring that is not the signer's: apt refuses (the test can fail)
    await onHost(h, "cp /etc/apt/keyrings/provtest.gpg /tmp/provtest.gpg.bak && : > /etc/apt/keyrings/provtest.gpg");
    const bad = await onHost(h, `apt-get update -o Dir::Etc::SourceList=/dev/null -o Acquire::http::Proxy::${host}=DIRECT 2>&1; true`);
    expect(bad).toMatch(/NO_PUBKEY|not signed|signatures couldn't be verified|Err:/);
    const fixed = await play(h, "apply", steps);
    expect(fixed.report.counts.changed).toBe(1);
  });
});

describe.skipIf(!fleet)("command changedWhen and the reboot handler's reconnect on a real host", () => {
  let h: TestHost;
  const CLEANUP = "rm -f /etc/provtest-cw /var/tmp/provtest-handler; true";
  beforeAll(async () => {
    h = testHost(POSITION);
    await onHost(h, CLEANUP);
  });
  afterAll(async () => {
    if (h) await onHost(h, CLEANUP);
  });

  it("changedWhen: a run that printed 'added' is a change (handler runs); one that did not is ok and owes nothing", async () => {
    const steps = () => [
      command({
        name: "marker line",
        command: "grep -qx marker /etc/provtest-cw 2>/dev/null || { echo marker >> /etc/provtest-cw; echo added; }",
        changedWhen: ({ stdout }) => stdout.includes("added"),
        notify: ["note"],
      }),
    ];
    const handlers = { note: { run: async () => void (await onHost(h, "echo ran >> /var/tmp/provtest-handler")) } };
    const first = await play(h, "apply", steps, handlers);
    expect(first.report.steps[0]?.status).toBe("changed");
    expect(first.report.steps[0]?.summary).toBe("ran (exit 0; changedWhen: changed)");
    expect(first.report.handlers).toEqual([{ name: "note", status: "ran" }]);
    const second = await play(h, "apply", steps, handlers);
    expect(second.report.steps[0]?.status).toBe("ok");
    expect(second.report.steps[0]?.summary).toBe("ran (exit 0; changedWhen: no change)");
    expect(second.report.handlers).toEqual([]);
    expect(await onHost(h, "cat /var/tmp/provtest-handler")).toBe("ran\n");
    // The handler was owed on the host before the run and settled after it: nothing is owed now.
    expect(await onHost(h, "cat /var/lib/provision/pending-handlers/steps-server* 2>/dev/null; true")).toBe("");
    const third = await play(h, "apply", steps, handlers);
    expect(third.report.handlers).toEqual([]);
  });

  it("reboot: a host that did not reboot (same boot id and PID 1) is not 'back': it fails after the bound, having reconnected over SSH", async () => {
    const before = await onHost(h, "cat /proc/sys/kernel/random/boot_id");
    const started = Date.now();
    const run = await play(h, "apply", () => [command({ name: "needs reboot", command: "true", notify: ["reboot"] })], {
      reboot: reboot({ command: "true", timeoutSeconds: 3, pollSeconds: 1 }),
    });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(run.report.handlers[0]?.status).toBe("failed");
    expect(run.report.handlers[0]?.error).toContain("did not come back within 3 s (last: reachable, but not rebooted yet");
    expect(await onHost(h, "cat /proc/sys/kernel/random/boot_id")).toBe(before);
  });
});

// Last in the file: the host is restarted (its disk is fresh afterwards).
describe.skipIf(!fleet)("reboot handler across a real restart", () => {
  it("returns once the restarted host answers with a new PID 1, reconnecting the transport (the release then goes through the new connection)", async () => {
    const h = testHost(POSITION);
    const pid1 = async () => (await onHost(h, "sed 's/.*) //' /proc/1/stat | cut -d' ' -f20")).trim();
    const before = await pid1();
    // The handler's "reboot" only asks; the harness restarts the host when it sees the request.
    const requested = (async () => {
      for (let i = 0; i < 300; i += 1) {
        const r = await hostExec(h, "test -e /run/provtest-reboot-requested");
        if (r.exitCode === 0) return restartHost(h);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error("the reboot was never requested");
    })();
    const run = await play(h, "apply", () => [command({ name: "needs reboot", command: "true", notify: ["reboot"] })], {
      reboot: reboot({ command: "touch /run/provtest-reboot-requested", timeoutSeconds: 120, pollSeconds: 1 }),
    });
    await requested;
    expect(run.report.handlers, JSON.stringify(run.report)).toEqual([{ name: "reboot", status: "ran" }]);
    expect(await pid1()).not.toBe(before);
    expect((await hostExec(h, "test -e /run/provtest-reboot-requested")).exitCode).not.toBe(0);
    // After the handler the session is the new connection: the release went through it (no error).
    expect(run.report.error).toBeUndefined();
    expect(run.report.status).toBe("changed");
  });
});
