import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { InvalidStepError, type AnyStep } from "../../../src/playbook/step.ts";
import { parseResolver, sameSpf, txtData, verifyDns, type VerifyDnsParams } from "../../../src/steps/verify-dns.ts";
import { startDnsServer, type DnsServer, type Zone } from "../../support/dns-server.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const servers: DnsServer[] = [];
async function dns(zone: Zone, options: { silent?: boolean } = {}): Promise<DnsServer> {
  const server = await startDnsServer(zone, options);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const GOOD: Zone = {
  "example.org": {
    MX: [{ exchange: "mail.example.org", preference: 10 }],
    TXT: ["google-site-verification=abc", "v=spf1 mx -all"],
    A: ["192.0.2.10"],
  },
  "mail.example.org": { A: ["192.0.2.25"] },
};

function wanted(resolver: string): VerifyDnsParams {
  return {
    resolver,
    a: { name: "mail.example.org", address: "192.0.2.25" },
    mx: { domain: "example.org", host: "mail.example.org", priority: 10 },
    spf: { domain: "example.org", policy: "v=spf1 mx -all" },
    timeoutMs: 2000,
  };
}

function playbook(step: AnyStep) {
  return definePlaybook({ name: "dns", vars: z.object({}), steps: () => [step] });
}

async function runBoth(params: VerifyDnsParams) {
  const check = await runOn(debianHost(), playbook(verifyDns(params)), "check");
  const apply = await runOn(debianHost(), playbook(verifyDns(params)), "apply");
  return { check: check.report, apply: apply.report };
}

describe("verifyDns against a DNS server on loopback", () => {
  it("is ok when A, MX and SPF are right (other TXT records ignored)", async () => {
    const server = await dns(GOOD);
    const { check, apply } = await runBoth(wanted(server.address));
    expect(check.steps[0]).toMatchObject({ kind: "verify-dns", status: "ok" });
    expect(apply.status).toBe("ok");
    expect(server.queries).toEqual(expect.arrayContaining(["A mail.example.org", "MX example.org", "TXT example.org"]));
  });

  it("reports a missing MX with the record to add: would-change in check, failed in apply", async () => {
    const server = await dns({ ...GOOD, "example.org": { ...GOOD["example.org"], MX: [] } });
    const { check, apply } = await runBoth(wanted(server.address));
    const summary = "MX of example.org: missing (the name has no MX records); add: example.org. IN MX 10 mail.example.org.";
    expect(check.status).toBe("drift");
    expect(check.steps[0]).toMatchObject({ status: "would-change", summary });
    expect(apply.status).toBe("failed");
    expect(apply.steps[0]).toMatchObject({ status: "failed", summary });
  });

  it("reports an MX with the wrong priority, and one naming another host", async () => {
    const other = await dns({ ...GOOD, "example.org": { ...GOOD["example.org"], MX: [{ exchange: "MX.Provider.NET", preference: 5 }] } });
    const { check } = await runBoth(wanted(other.address));
    expect(check.steps[0]?.summary).toBe("MX of example.org is 5 mx.provider.net.; add: example.org. IN MX 10 mail.example.org.");
    const priority = await dns({
      ...GOOD,
      "example.org": { ...GOOD["example.org"], MX: [{ exchange: "mail.example.org", preference: 20 }] },
    });
    const second = await runBoth(wanted(priority.address));
    expect(second.check.steps[0]?.summary).toBe(
      "MX of example.org: mail.example.org. has priority 20; want: example.org. IN MX 10 mail.example.org.",
    );
  });

  it("reports a wrong SPF policy with the record that should replace it", async () => {
    const server = await dns({ ...GOOD, "example.org": { ...GOOD["example.org"], TXT: ["v=spf1 -all"] } });
    const { check } = await runBoth(wanted(server.address));
    expect(check.steps[0]).toMatchObject({
      status: "would-change",
      summary: 'SPF of example.org is "v=spf1 -all"; want: example.org. IN TXT "v=spf1 mx -all"',
    });
  });

  it("reports two SPF records as an error (RFC 7208 PermError)", async () => {
    const server = await dns({
      ...GOOD,
      "example.org": { ...GOOD["example.org"], TXT: ["v=spf1 mx -all", "v=spf1 a:mail.example.org -all"] },
    });
    const { check, apply } = await runBoth(wanted(server.address));
    expect(check.steps[0]?.summary).toBe(
      'SPF of example.org: 2 SPF records ("v=spf1 mx -all", "v=spf1 a:mail.example.org -all") — RFC 7208 §4.5 makes that a PermError; keep only: example.org. IN TXT "v=spf1 mx -all"',
    );
    expect(apply.steps[0]?.status).toBe("failed");
  });

  it("reports a missing SPF record", async () => {
    const server = await dns({ ...GOOD, "example.org": { ...GOOD["example.org"], TXT: ["some other text"] } });
    const { check } = await runBoth(wanted(server.address));
    expect(check.steps[0]?.summary).toBe(
      'SPF of example.org: missing (no TXT record starts with v=spf1); add: example.org. IN TXT "v=spf1 mx -all"',
    );
  });

  it("joins TXT chunks and compares SPF case- and whitespace-insensitively, + qualifier optional", async () => {
    const server = await dns({ ...GOOD, "example.org": { ...GOOD["example.org"], TXT: [["v=spf1 ", "+MX  ", "-all"]] } });
    const { check } = await runBoth(wanted(server.address));
    expect(check.steps[0]?.status).toBe("ok");
  });

  it("tells NXDOMAIN for the mail host's A record, with the record to add", async () => {
    const { "mail.example.org": _, ...zone } = GOOD;
    const server = await dns(zone);
    const { check } = await runBoth(wanted(server.address));
    expect(check.steps[0]?.summary).toBe(
      "A of mail.example.org: missing (NXDOMAIN: the name does not exist); add: mail.example.org. IN A 192.0.2.25",
    );
  });

  it("reports several problems in one summary, and a wrong or extra address", async () => {
    const server = await dns({
      "example.org": { A: ["192.0.2.10"] },
      "mail.example.org": { A: ["192.0.2.99", "192.0.2.25"] },
    });
    const { check } = await runBoth(wanted(server.address));
    expect(check.steps[0]?.summary).toBe(
      "A of mail.example.org has extra address 192.0.2.99; remove it (keep: mail.example.org. IN A 192.0.2.25); " +
        "MX of example.org: missing (the name has no MX records); add: example.org. IN MX 10 mail.example.org.; " +
        'SPF of example.org: missing (the name has no TXT records); add: example.org. IN TXT "v=spf1 mx -all"',
    );
    const wrong = await dns({ ...GOOD, "mail.example.org": { A: ["192.0.2.99"] } });
    const second = await runBoth({ ...wanted(wrong.address), mx: undefined, spf: undefined });
    expect(second.check.steps[0]?.summary).toBe("A of mail.example.org is 192.0.2.99; want: mail.example.org. IN A 192.0.2.25");
  });

  it("fails the read, within the bound, when the resolver never answers", async () => {
    const server = await dns(GOOD, { silent: true });
    const started = Date.now();
    const { check, apply } = await runBoth({ ...wanted(server.address), timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(5000);
    for (const report of [check, apply]) {
      expect(report.status).toBe("failed");
      expect(report.steps[0]?.status).toBe("failed");
      expect(report.steps[0]?.error).toContain(`MX of example.org: no answer within 300 ms from resolver ${server.address}`);
    }
  });
  it("fails the read at once when nothing listens at the resolver's address", async () => {
    const server = await dns(GOOD);
    const address = server.address;
    await servers.pop()?.close();
    const { check } = await runBoth({ ...wanted(address), mx: undefined, spf: undefined });
    expect(check.steps[0]).toMatchObject({ status: "failed" });
    expect(check.steps[0]?.error).toContain(`A of mail.example.org: resolver ${address} unreachable (connection refused)`);
  });
});

describe("verifyDns helpers and parameters", () => {
  it("normalises SPF policies term by term, keeping order", () => {
    expect(sameSpf("v=spf1 mx -all", "V=SPF1  +mx   -ALL ")).toBe(true);
    expect(sameSpf("v=spf1 mx -all", "v=spf1 -all mx")).toBe(false);
    expect(sameSpf("v=spf1 mx -all", "v=spf1 mx ~all")).toBe(false);
  });

  it("renders TXT data in zone-file form, split at 255 characters, quotes escaped", () => {
    expect(txtData('v=spf1 "x" -all')).toBe('"v=spf1 \\"x\\" -all"');
    const long = `v=spf1 ${"a".repeat(300)} -all`;
    expect(txtData(long)).toBe(`"${long.slice(0, 255)}" "${long.slice(255)}"`);
  });

  it("parses resolver addresses", () => {
    expect(parseResolver("127.0.0.1:5353")).toEqual({ address: "127.0.0.1", port: 5353 });
    expect(parseResolver("127.0.0.1")).toEqual({ address: "127.0.0.1", port: 53 });
    expect(parseResolver("[::1]:5353")).toEqual({ address: "::1", port: 5353 });
    expect(parseResolver("::1")).toEqual({ address: "::1", port: 53 });
    expect(parseResolver("dns.example.org:53")).toBeNull();
    expect(parseResolver("127.0.0.1:99999")).toBeNull();
  });

  it("rejects invalid parameters when the playbook is built", () => {
    expect(() => verifyDns({ resolver: "localhost:53", a: { name: "mail.example.org", address: "192.0.2.1" } })).toThrow(InvalidStepError);
    expect(() => verifyDns({ spf: { domain: "example.org", policy: "mx -all" } })).toThrow(/spf\.policy: must start with "v=spf1"/);
    expect(() => verifyDns({})).toThrow(/at least one of a, aaaa, mx, spf, ptr, dkim, dmarc/);
  });
});
