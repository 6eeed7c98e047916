/**
 * playbooks/mail.ts vars for TLS and DKIM: what is refused before any connection, with the field
 * named, and which steps a TLS + DKIM playbook builds (names, in order) on a Debian host.
 */
import { describe, expect, it } from "vitest";
import mail from "../../../playbooks/mail.ts";
import { validateVars } from "../../../src/playbook/vars.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const base = { hostname: "mail.example.org", users: [{ name: "bob", password: "pw-for-tests" }], verify: { smtpFrom: "off" } };

describe("playbooks/mail.ts TLS and DKIM vars", () => {
  it("submissions without tls is refused, naming the field", () => {
    expect(() => validateVars(mail, { ...base, submissions: true })).toThrow(/submissions: needs tls/);
  });

  it("IPv6 with DNS checks needs the AAAA address", () => {
    expect(() =>
      validateVars(mail, { ...base, inetProtocols: "all", verify: { smtpFrom: "off", dns: { address: "192.0.2.25" } } }),
    ).toThrow(/verify\.dns\.address6: required when inetProtocols is ipv6 or all/);
  });

  it("tls must be { selfSigned: true } or { certFile, keyFile }", () => {
    expect(() => validateVars(mail, { ...base, tls: { selfSigned: false } })).toThrow(/tls/);
    expect(() => validateVars(mail, { ...base, tls: { certFile: "/x.pem" } })).toThrow(/tls/);
  });

  it("a certificate file that cannot be read stops the run before any change, naming the field and file", async () => {
    const vars = validateVars(mail, { ...base, tls: { certFile: "/nonexistent/mail.pem", keyFile: "/nonexistent/mail.key" } });
    const { report } = await runOn(debianHost(), mail, "check", vars);
    expect(report.status).toBe("failed");
    expect(report.error ?? JSON.stringify(report.steps)).toMatch(/tls\.certFile: cannot read \/nonexistent\/mail\.pem: ENOENT/);
    expect(report.steps.filter((s) => s.status === "changed")).toEqual([]);
  });
});
