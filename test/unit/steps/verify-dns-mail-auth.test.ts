/**
 * verifyDns records for a mail server that receivers trust: DKIM (the host's public key at
 * <selector>._domainkey), DMARC, forward-confirmed reverse DNS (PTR), AAAA — against the test DNS
 * server on 127.0.0.1; every drift names the record to add with its exact value.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { reverseName, txtData, verifyDns, type VerifyDnsParams } from "../../../src/steps/verify-dns.ts";
import { startDnsServer, type DnsServer, type Zone } from "../../support/dns-server.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

// A real DKIM public key: the one of fixtures/tls/mail.example.test.key (RSA 2048), as base64 SPKI.
const PUBLIC = readFileSync(join(import.meta.dirname, "fixtures/dkim/mail.public.b64"), "utf8").trim();
const RECORD = `v=DKIM1; k=rsa; p=${PUBLIC}`;
const DMARC = "v=DMARC1; p=none; rua=mailto:postmaster@example.org";

const servers: DnsServer[] = [];
async function dns(zone: Zone): Promise<DnsServer> {
  const server = await startDnsServer(zone);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** The record split at 255 bytes, as a zone publishes a 2048-bit key. */
const chunked = (text: string) => text.match(/.{1,255}/g) as string[];

const GOOD: Zone = {
  "sel1._domainkey.example.org": { TXT: [chunked(RECORD)] },
  "_dmarc.example.org": { TXT: [DMARC] },
  "25.2.0.192.in-addr.arpa": { PTR: ["mail.example.org"] },
  "mail.example.org": { AAAA: ["2001:db8::25"] },
};

function params(
  resolver: string,
  record: VerifyDnsParams["dkim"] extends infer D ? (D extends { record: infer R } ? R : never) : never = RECORD,
): VerifyDnsParams {
  return {
    resolver,
    dkim: { domain: "example.org", selector: "sel1", record },
    dmarc: { domain: "example.org", policy: DMARC },
    ptr: { address: "192.0.2.25", name: "mail.example.org" },
    aaaa: { name: "mail.example.org", address: "2001:db8:0::25" },
    timeoutMs: 2000,
  };
}

async function check(p: VerifyDnsParams) {
  const playbook = definePlaybook({ name: "dns", vars: z.object({}), steps: () => [verifyDns(p)] });
  return (await runOn(debianHost(), playbook, "check")).report.steps[0]!;
}

describe("verifyDns: DKIM, DMARC, PTR, AAAA", () => {
  it("all right (a chunked 2048-bit key, DMARC tags, PTR, an AAAA written another way) → ok", async () => {
    const server = await dns(GOOD);
    const step = await check(params(server.address));
    expect(step).toMatchObject({ status: "ok" });
    expect(server.queries).toEqual(
      expect.arrayContaining([
        "TXT sel1._domainkey.example.org",
        "TXT _dmarc.example.org",
        "PTR 25.2.0.192.in-addr.arpa",
        "AAAA mail.example.org",
      ]),
    );
  });

  it("each record missing → drift naming the record to add, with its exact value", async () => {
    const server = await dns({ "example.org": {} });
    const step = await check(params(server.address));
    expect(step.status).toBe("would-change");
    expect(step.summary).toBe(
      [
        "AAAA of mail.example.org: missing (NXDOMAIN: the name does not exist); add: mail.example.org. IN AAAA 2001:db8:0::25",
        "PTR of 192.0.2.25: missing (NXDOMAIN: the name does not exist); ask your provider to set: 25.2.0.192.in-addr.arpa. IN PTR mail.example.org.",
        `DKIM of sel1._domainkey.example.org: missing (NXDOMAIN: the name does not exist); add: sel1._domainkey.example.org. IN TXT ${txtData(RECORD)}`,
        `DMARC of example.org: missing (NXDOMAIN: the name does not exist); add: _dmarc.example.org. IN TXT "${DMARC}"`,
      ].join("; "),
    );
  });

  it("the DKIM key on the host differs from DNS (key replaced) → drift; the record is read at diff time", async () => {
    const server = await dns(GOOD);
    const other = PUBLIC.slice(0, -12) + "AAAAAAAAAAAA";
    let hostKey: string | undefined = `v=DKIM1; k=rsa; p=${other}`;
    const step = await check(params(server.address, () => hostKey));
    expect(step.summary).toBe(
      `DKIM of sel1._domainkey.example.org: the published key is not the host's (p=${PUBLIC.slice(0, 16)}…, host has p=${other.slice(0, 16)}…); ` +
        `replace with: sel1._domainkey.example.org. IN TXT ${txtData(hostKey)}`,
    );
    hostKey = undefined;
    expect((await check(params(server.address, () => hostKey))).summary).toBe(
      "DKIM of sel1._domainkey.example.org: the host's key is not known yet (its step did not read it)",
    );
  });

  it("PTR to another name, a different DMARC policy, two DMARC records", async () => {
    const server = await dns({
      ...GOOD,
      "25.2.0.192.in-addr.arpa": { PTR: ["host-192-0-2-25.provider.net"] },
      "_dmarc.example.org": { TXT: ["v=DMARC1; p=reject"] },
    });
    const step = await check(params(server.address));
    expect(step.summary).toBe(
      [
        "PTR of 192.0.2.25 is host-192-0-2-25.provider.net., not mail.example.org.; ask your provider to set: 25.2.0.192.in-addr.arpa. IN PTR mail.example.org.",
        `DMARC of example.org is "v=DMARC1; p=reject"; want: _dmarc.example.org. IN TXT "${DMARC}"`,
      ].join("; "),
    );
    const two = await dns({ ...GOOD, "_dmarc.example.org": { TXT: [DMARC, "v=DMARC1; p=none"] } });
    expect((await check(params(two.address))).summary).toMatch(
      /^DMARC of example\.org: 2 DMARC records \(receivers ignore them all\); keep only:/,
    );
  });

  it("DMARC tags compare as a set, whitespace and order aside", async () => {
    const server = await dns({ ...GOOD, "_dmarc.example.org": { TXT: ["v=DMARC1;rua=mailto:postmaster@example.org ;  p=none"] } });
    expect((await check(params(server.address))).status).toBe("ok");
  });

  it("reverse names", () => {
    expect(reverseName("192.0.2.25")).toBe("25.2.0.192.in-addr.arpa");
    expect(reverseName("2001:db8::25")).toBe("5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    expect(reverseName("::1")).toBe(`1${".0".repeat(31)}.ip6.arpa`);
  });
});
