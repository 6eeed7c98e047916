/**
 * dkimKey with the mock transport, answered with reads captured on a real Debian 12 test host
 * (fixtures/debian12-dkim-read.*.txt): the key generated on the host, the TXT record derived from
 * the key that is there, exact drift.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RemoteRead } from "../../../src/playbook/step.ts";
import { missingTool } from "../../../src/shell/read-output.ts";
import { dkimKey } from "../../../src/steps/dkim-key.ts";
import { applied, mockHost, run } from "./system-hosts.ts";
import { capturedRead } from "../../support/captured-read.ts";

const PARAMS = { domain: "example.test", selector: "sel1", keyDir: "/etc/dkimkeys" };
const read = (name: string) =>
  capturedRead(join(import.meta.dirname, "fixtures", `debian12-dkim-read.${name}.txt`), dkimKey(PARAMS).read()).stdout;
const FILE = "/etc/dkimkeys/example.test/sel1.private";

async function runWith(stdout: string, mode: "check" | "apply" = "check") {
  const step = dkimKey(PARAMS);
  const mock = mockHost("debian12")
    .on((c) => c.startsWith(`f=${FILE}`), { stdout })
    .on((c) => c.includes("opendkim-genkey"), { stdout: "MIIBnewkey\n" });
  const result = await run(mock, mode, () => [step]);
  return { ...result, mock, step: result.step!, key: step };
}

describe("dkimKey (reads captured on Debian 12)", () => {
  it("converged → ok, and record() is the TXT value of the key on the host", async () => {
    const { step, key } = await runWith(read("converged"));
    expect(step.status).toBe("ok");
    const publicKey = /^public=(.*)$/m.exec(read("converged"))![1]!;
    expect(key.record()).toBe(`v=DKIM1; k=rsa; p=${publicKey}`);
    expect(key.recordName).toBe("sel1._domainkey.example.test");
  });

  it("missing → generate on the host with opendkim-genkey (temp dir, 0600, renamed); the record comes from the new key", async () => {
    const { step, mock, key } = await runWith(read("fresh"), "apply");
    expect(step.summary).toBe(
      `generate a 2048-bit key with opendkim-genkey (${FILE} is missing); then publish TXT sel1._domainkey.example.test`,
    );
    const [generate, ...rest] = applied(mock);
    expect(rest).toEqual([]);
    expect(generate).toContain('opendkim-genkey -b 2048 -s sel1 -d example.test -D "$tmp"');
    expect(generate).toContain('chmod 0600 "$tmp"/sel1.private');
    expect(generate).toContain(`mv -f -- "$tmp"/sel1.private ${FILE}`);
    expect(key.record()).toBe("v=DKIM1; k=rsa; p=MIIBnewkey");
  });

  it("not a key → generate; in check nothing is sent", async () => {
    const { step, mock, key } = await runWith(read("unreadable"));
    expect(step).toMatchObject({ status: "would-change", summary: expect.stringContaining("is not a readable private key") });
    expect(applied(mock)).toEqual([]);
    expect(key.record()).toBeUndefined();
  });

  it("mode drifted → chmod only (the key is kept: rotating is a new selector, not drift)", async () => {
    const { step, mock } = await runWith(read("mode"), "apply");
    expect(step.summary).toBe(`${FILE}: mode 0644 → 0600`);
    expect(applied(mock)).toEqual([`chown -- opendkim:opendkim ${FILE} && chmod -- 0600 ${FILE}`]);
  });

  it("a host without openssl: the kit's one error, made by the runner (not the step's own message)", async () => {
    const step = dkimKey(PARAMS);
    const mock = mockHost("debian12").on((c) => c.startsWith(`f=${FILE}`), {
      exitCode: 127,
      stdout: "key=opendkim opendkim 0600\n",
      stderr: "openssl: not found\n",
    });
    const result = await run(mock, "check", () => [step]);
    expect(result.step?.status).toBe("failed");
    expect(result.step?.error).toBe("openssl not found on debian12: is OpenSSL installed?");
  });

  it("the read itself fails as the kit expects when openssl is not on PATH (run in /bin/sh)", () => {
    // A PATH holding only stat: the read gets past the key's metadata, then needTool("openssl") stops it.
    const dir = mkdtempSync(join(tmpdir(), "dkim-read-"));
    try {
      const bin = join(dir, "bin");
      execFileSync("mkdir", [bin]);
      symlinkSync(execFileSync("sh", ["-c", "command -v stat"], { encoding: "utf8" }).trim(), join(bin, "stat"));
      const keyDir = join(dir, "keys");
      execFileSync("mkdir", ["-p", join(keyDir, "example.test")]);
      writeFileSync(join(keyDir, "example.test", "sel1.private"), "not a key\n");
      const read = dkimKey({ ...PARAMS, keyDir }).read() as RemoteRead<unknown>;
      const out = spawnSync("/bin/sh", ["-c", read.command.text], { env: { PATH: bin }, encoding: "utf8" });
      expect(out.status).toBe(127);
      expect(
        missingTool({ exitCode: 127, stdout: Buffer.from(out.stdout), stderr: Buffer.from(out.stderr) }, read.requiresTools ?? []),
      ).toBe("openssl");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bad params are refused", () => {
    expect(() => dkimKey({ domain: "example.test", selector: "a b" })).toThrow(/selector: must be a DNS label/);
    expect(() => dkimKey({ domain: "x", selector: "s" })).toThrow(/domain: must be a domain name/);
  });

  it("reports the record to publish as a step output (report, JSON, terminal), not a log line; nothing before the key exists", async () => {
    const { TerminalReporter } = await import("../../../src/report/terminal-reporter.ts");
    const { jsonReport } = await import("../../../src/report/json-report.ts");
    const { CaptureStream } = await import("../../support/capture-stream.ts");
    const generated = await runWith(read("fresh"), "apply");
    const record = { label: "DNS TXT sel1._domainkey.example.test", value: "v=DKIM1; k=rsa; p=MIIBnewkey" };
    expect(generated.step.outputs).toEqual([record]);
    expect(
      JSON.parse(jsonReport({ playbook: "p", mode: "apply", exitCode: 0, result: "changed", hosts: [generated.report] })).hosts[0].steps[0]
        .outputs,
    ).toEqual([record]);
    const stream = new CaptureStream();
    const terminal = new TerminalReporter({ stream: stream as never, showDiff: false });
    terminal.summary([generated.report]);
    expect(stream.text).toContain(
      `to publish:\n  ${generated.report.host}: DNS TXT sel1._domainkey.example.test: v=DKIM1; k=rsa; p=MIIBnewkey\n`,
    );
    // In --check on a host without the key there is nothing to publish yet (the summary says what will be).
    const fresh = await runWith(read("fresh"));
    expect(fresh.step.outputs).toBeUndefined();
  });
});
