/**
 * Bad input is a clear error (naming the file, field or host), exit 1, and touches no host: a
 * playbook that does not compile, one that exports no playbook, vars that fail the schema, an
 * inventory with a syntax error, a host name the inventory does not have, a missing key file.
 * The target (fleet index 11) is fingerprinted before and after, and sshd must log no accepted
 * login. (A name never in any inventory would be looked up in DNS: not done here — the network
 * rule of this machine allows only its own test subnets.)
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testHost } from "./support/fleet.ts";
import { provisionCli, REPO, runOnTestHost, fleetCliArgs, fleetSshArgs } from "./support/cli.ts";
import { fingerprint, onHost } from "./support/reliability.ts";

const host = testHost(11);
let dir: string;
let before: string;
let logins: number;

const accepted = async () => Number((await onHost(host, "journalctl -u ssh --no-pager -o cat | grep -c '^Accepted ' || :")).trim() || "0");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-bad-input-"));
  before = await fingerprint(host);
  logins = await accepted();
});
afterAll(async () => {
  expect(await fingerprint(host)).toBe(before);
  expect(await accepted()).toBe(logins);
  await rm(dir, { recursive: true, force: true });
});

async function expectError(result: { code: number; stdout: string; stderr: string }, ...patterns: (string | RegExp)[]) {
  expect(result.code, result.stdout + result.stderr).toBe(1);
  for (const p of patterns) expect(result.stderr).toMatch(typeof p === "string" ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : p);
}

describe("bad input: a clear error, exit 1, no host touched", () => {
  it("a playbook that does not compile names the file", async () => {
    const file = join(dir, "broken.ts");
    await writeFile(
      file,
      `import { definePlaybook } from ${JSON.stringify(join(REPO, "src/index.ts"))};\nexport default definePlaybook({ name: "x", \n`,
    );
    await expectError(await runOnTestHost(file, host.address), `${file}: cannot load playbook`);
  });

  it("a module that exports no playbook names the file and what was expected", async () => {
    const file = join(dir, "nothing.ts");
    await writeFile(file, "export const answer = 42;\n");
    await expectError(await runOnTestHost(file, host.address), `${file}: does not export a playbook`);
  });

  it("vars that fail the schema name the playbook and the field", async () => {
    // The run starts this host's handshake before the vars are validated (early connections);
    // whether it reached sshd by then depends on timing, but it never logs in: afterAll counts
    // no new `Accepted` line (without the auth gate it would log in, then be closed).
    await expectError(
      await runOnTestHost(join(REPO, "playbooks/mail.ts"), host.address, ["--var", "hostname=not_a_host name"]),
      /hostname/,
      /fully qualified/,
    );
  });

  it("an inventory with a syntax error names the file", async () => {
    const inventory = join(dir, "hosts.yml");
    await writeFile(inventory, `hosts:\n  h1: { address: ${host.address}\n  h2: [\n`);
    const result = await provisionCli(["run", join(REPO, "playbooks/hello.ts"), "-i", inventory, "--group", "all", ...fleetSshArgs()]);
    await expectError(result, inventory);
  });

  it("a host name the inventory does not have is an error, not a connection", async () => {
    const inventory = join(dir, "good.yml");
    await writeFile(inventory, `hosts:\n  h1: { address: ${host.address}, user: root }\n`);
    const result = await provisionCli([
      "run",
      join(REPO, "playbooks/hello.ts"),
      "-i",
      inventory,
      "--limit",
      "no-such-host",
      ...fleetSshArgs(),
    ]);
    await expectError(result, /no-such-host/);
  });

  it("a missing key file: authentication fails naming the host and the key", async () => {
    const key = join(dir, "no_such_key");
    const result = await provisionCli(["run", join(REPO, "playbooks/hello.ts"), ...fleetCliArgs(host.address, { identity: key })], {
      env: { SSH_AUTH_SOCK: "" },
    });
    expect(result.code).toBe(1);
    const all = result.stdout + result.stderr;
    expect(all).toContain(host.address);
    expect(all).toContain(key);
  });
});
