/**
 * verify.smtp with TLS. Two kinds of evidence:
 * - probe results recorded from a real Debian 12 Postfix (fixtures/debian12-smtp-tls-probe.*.json,
 *   made by the playbook with `tls: { selfSigned: true }, submissions: true`; the second with 587
 *   lowered to `smtpd_tls_security_level=may`, `smtpd_tls_auth_only=no`) judged by portProblems;
 * - the real client (node:tls over the same socket) against a fake server on 127.0.0.1 that
 *   speaks STARTTLS and implicit TLS with a test certificate.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { secret } from "../../../src/shell/secret.ts";
import { probeSmtp, type SmtpProbeResult } from "../../../src/steps/smtp/index.ts";
import { portProblems, verifySmtp } from "../../../src/steps/verify-smtp.ts";
import { startFakeSmtp, type FakeSmtpOptions, type FakeSmtpServer } from "../../support/fake-smtp-server.ts";
import { debianHost, runOn } from "../support/mock-host.ts";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { z } from "zod";

const FIXTURES = join(import.meta.dirname, "fixtures");
const recorded = (name: string): SmtpProbeResult[] =>
  JSON.parse(readFileSync(join(FIXTURES, `debian12-smtp-tls-probe.${name}.json`), "utf8"));
const CERT = readFileSync(join(FIXTURES, "tls/mail.example.test.crt"), "utf8");
const KEY = readFileSync(join(FIXTURES, "tls/mail.example.test.key"), "utf8");
const FINGERPRINT = new X509Certificate(CERT).fingerprint256;
const USER = "bob@mail.example.org";
const PASSWORD = "Plain-Pa55-inside-TLS";

describe("portProblems on probes recorded from a real Postfix with TLS", () => {
  const [p25, p587, p465] = recorded("converged");
  const installed = p587!.tls!.fingerprint256;
  const tls = (authOnly: boolean, fingerprint = installed) => ({ verify: "fingerprint" as const, fingerprint, authOnly });
  const all = ["CRAM-MD5", "DIGEST-MD5", "PLAIN", "LOGIN"];

  it("converged: STARTTLS on 25 and 587, implicit TLS on 465, the installed certificate, PLAIN logins 235", () => {
    expect(portProblems(p25!, { banner: true, mechanisms: all, login: undefined, tls: tls(false) })).toEqual([]);
    expect(
      portProblems(p587!, { banner: true, mechanisms: all, login: { user: "bob@mail.example.test", mechanism: "PLAIN" }, tls: tls(true) }),
    ).toEqual([]);
    expect(
      portProblems(p465!, { banner: true, mechanisms: all, login: { user: "bob@mail.example.test", mechanism: "PLAIN" }, tls: tls(false) }),
    ).toEqual([]);
    expect(p587!.mechanismsBeforeTls).toEqual([]);
    expect(p25!.mechanismsBeforeTls).toEqual(["CRAM-MD5", "DIGEST-MD5"]);
  });

  it("another certificate presented than the one installed → TLS problem naming both", () => {
    const other = "AA:".repeat(31) + "AA";
    expect(portProblems(p587!, { banner: false, mechanisms: [], login: undefined, tls: tls(true, other) })).toEqual([
      `TLS: the server presents ${installed.slice(0, 23)}…, not the installed certificate ${other.slice(0, 23)}… (Postfix not reloaded, or another certificate configured)`,
    ]);
  });

  it("587 lowered to may (auth-only off) → AUTH offered before STARTTLS", () => {
    const [, lowered] = recorded("587-may");
    expect(portProblems(lowered!, { banner: false, mechanisms: [], login: undefined, tls: tls(true) })).toEqual([
      "EHLO: AUTH offered before STARTTLS (CRAM-MD5 DIGEST-MD5): smtpd_tls_auth_only is off",
    ]);
  });

  it('verify: "ca" → a self-signed certificate does not chain to a trusted CA', () => {
    expect(
      portProblems(p465!, {
        banner: false,
        mechanisms: [],
        login: undefined,
        tls: { verify: "ca", fingerprint: undefined, authOnly: false },
      }),
    ).toEqual(["TLS: the certificate does not chain to a trusted CA (DEPTH_ZERO_SELF_SIGNED_CERT)"]);
  });
});

const servers: FakeSmtpServer[] = [];
async function fake(options: FakeSmtpOptions): Promise<FakeSmtpServer> {
  const server = await startFakeSmtp({ users: { [USER]: PASSWORD }, ...options });
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe("the TLS client against a local server", () => {
  const login = { user: USER, password: secret(PASSWORD), mechanism: "PLAIN" as const };

  it("STARTTLS: upgrades the socket, sees the certificate, EHLOs again, logs in with PLAIN inside TLS", async () => {
    const server = await fake({ tls: { cert: CERT, key: KEY, authOnlyAfterTls: true } });
    const result = await probeSmtp({
      host: "127.0.0.1",
      port: server.port,
      timeoutMs: 5000,
      tls: { mode: "starttls", servername: "mail.example.test" },
      login,
    });
    expect(result.error).toBeUndefined();
    expect(result.starttlsOffered).toBe(true);
    expect(result.mechanismsBeforeTls).toEqual([]);
    expect(result.tls).toMatchObject({ fingerprint256: FINGERPRINT, subjectAltName: "DNS:mail.example.test", authorized: false });
    expect(result.tls?.hostnameError).toBeUndefined();
    expect(result.auth).toMatchObject({ mechanism: "PLAIN", outcome: "ok", code: 235 });
    expect(server.authenticated).toEqual([USER]);
    expect(server.received.filter((line) => /^EHLO/.test(line))).toHaveLength(2);
    expect(server.received).not.toContain(expect.stringContaining(Buffer.from(PASSWORD).toString("base64").slice(0, 8)));
  });

  it("implicit TLS (465): the handshake comes before the banner", async () => {
    const server = await fake({ tls: { cert: CERT, key: KEY, implicit: true } });
    const result = await probeSmtp({
      host: "127.0.0.1",
      port: server.port,
      timeoutMs: 5000,
      tls: { mode: "implicit", servername: "mail.example.test" },
      login,
    });
    expect(result.tls?.fingerprint256).toBe(FINGERPRINT);
    expect(result.banner?.code).toBe(220);
    expect(result.auth?.outcome).toBe("ok");
  });

  it("implicit TLS against a clear-text server fails at the TLS stage", async () => {
    const server = await fake({});
    const result = await probeSmtp({
      host: "127.0.0.1",
      port: server.port,
      timeoutMs: 3000,
      tls: { mode: "implicit", servername: "mail.example.test" },
    });
    expect(result.stage).toBe("TLS");
    expect(result.error).toMatch(/TLS handshake failed|during the TLS handshake/);
  });

  it('verify: "ca" with the certificate as CA: valid for its name, not for another', async () => {
    const server = await fake({ tls: { cert: CERT, key: KEY } });
    const ok = await probeSmtp({
      host: "127.0.0.1",
      port: server.port,
      timeoutMs: 5000,
      tls: { mode: "starttls", servername: "mail.example.test", ca: CERT },
    });
    expect(ok.tls).toMatchObject({ authorized: true });
    expect(ok.tls?.hostnameError).toBeUndefined();
    const wrong = await probeSmtp({
      host: "127.0.0.1",
      port: server.port,
      timeoutMs: 5000,
      tls: { mode: "starttls", servername: "other.example.test", ca: CERT },
    });
    expect(wrong.tls?.hostnameError).toMatch(/other\.example\.test/);
  });

  it("through the step: STARTTLS missing names the port and the stage; check is drift, nothing printed of the password", async () => {
    const server = await fake({});
    const step = verifySmtp({
      host: "127.0.0.1",
      ports: [server.port],
      login: { user: "bob", realm: "mail.example.org", password: secret(PASSWORD), mechanism: "PLAIN", port: server.port },
      tls: { starttls: [server.port], fingerprint: FINGERPRINT, servername: "mail.example.test" },
    });
    const playbook = definePlaybook({ name: "t", vars: z.object({}), steps: () => [step] });
    const { report } = await runOn(debianHost(), playbook, "check");
    expect(report.steps[0]).toMatchObject({
      status: "would-change",
      summary: `port ${server.port}: STARTTLS: STARTTLS not offered in the EHLO reply`,
    });
    expect(JSON.stringify(report)).not.toContain(PASSWORD);
  });

  it("through the step: the fingerprint is read at diff time (a tlsCertificate step's), and a wrong one is drift", async () => {
    const server = await fake({ tls: { cert: CERT, key: KEY, authOnlyAfterTls: true } });
    let installed = FINGERPRINT;
    const step = verifySmtp({
      host: "127.0.0.1",
      ports: [server.port],
      login: [
        { user: "bob", realm: "mail.example.org", password: secret(PASSWORD), mechanism: "PLAIN", port: server.port },
        { user: "bob", realm: "mail.example.org", password: secret(PASSWORD), mechanism: "CRAM-MD5", port: server.port },
      ],
      tls: { starttls: [server.port], authOnlyAfterTls: [server.port], fingerprint: () => installed, servername: "mail.example.test" },
    });
    const playbook = definePlaybook({ name: "t", vars: z.object({}), steps: () => [step] });
    expect((await runOn(debianHost(), playbook, "check")).report.steps[0]?.status).toBe("ok");
    expect(server.authenticated).toEqual([USER, USER]);
    installed = "AB:".repeat(31) + "AB";
    const drift = (await runOn(debianHost(), playbook, "check")).report.steps[0];
    expect(drift?.summary).toMatch(
      new RegExp(`^port ${server.port}: TLS: the server presents ${FINGERPRINT.slice(0, 23)}…, not the installed certificate AB:AB`),
    );
  });

  it("params: PLAIN outside TLS is refused; TLS ports must be probed ports", () => {
    expect(() =>
      verifySmtp({ host: "h", ports: [587], login: { user: "b", password: secret("x-long-enough"), mechanism: "PLAIN", port: 587 } }),
    ).toThrow(/PLAIN sends the password itself: only inside TLS \(port 587 is not in tls.starttls or tls.implicit\)/);
    expect(() => verifySmtp({ host: "h", ports: [587], tls: { starttls: [25], fingerprint: FINGERPRINT } })).toThrow(
      /tls.starttls: port 25 is not one of ports 587/,
    );
    expect(() => verifySmtp({ host: "h", ports: [587], tls: { starttls: [587] } })).toThrow(/required with verify: "fingerprint"/);
  });
});
