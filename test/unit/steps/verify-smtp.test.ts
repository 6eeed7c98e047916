import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { InvalidStepError, type AnyStep } from "../../../src/playbook/step.ts";
import { runHost } from "../../../src/run/host-runner.ts";
import { secret } from "../../../src/shell/secret.ts";
import { LocalTransport } from "../../../src/transport/local.ts";
import {
  bannerDisclosures,
  cramMd5Digest,
  cramMd5Response,
  hostProbeCommand,
  parseEhlo,
  parseHostProbe,
  parseReplies,
  probeSmtp,
} from "../../../src/steps/smtp/index.ts";
import { verifySmtp, type VerifySmtpParams } from "../../../src/steps/verify-smtp.ts";
import { closedPort, startFakeSmtp, type FakeSmtpOptions, type FakeSmtpServer } from "../../support/fake-smtp-server.ts";
import { pythonSmtpLogin } from "../../support/python-smtp-login.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const PASSWORD = "Sasl-Pa55word-For-Bob";
const USER = "bob@mail.example.org";

const servers: FakeSmtpServer[] = [];
async function fake(options: FakeSmtpOptions = {}): Promise<FakeSmtpServer> {
  const server = await startFakeSmtp({ users: { [USER]: PASSWORD }, ...options });
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function playbook(step: AnyStep) {
  return definePlaybook({ name: "verify", vars: z.object({}), steps: () => [step] });
}

/** Run one step in check and in apply mode through the real host runner. */
async function runBoth(params: VerifySmtpParams) {
  const check = await runOn(debianHost(), playbook(verifySmtp(params)), "check");
  const apply = await runOn(debianHost(), playbook(verifySmtp(params)), "apply");
  return { check, apply };
}

function login(password = PASSWORD, port: number) {
  return { user: "bob", realm: "mail.example.org", password: secret(password), mechanism: "CRAM-MD5" as const, port };
}

describe("CRAM-MD5 (RFC 2195)", () => {
  it("matches the RFC 2195 example", () => {
    const challenge = "<1896.697170952@postoffice.reston.mci.net>";
    expect(cramMd5Digest("tanstaaftanstaaf", challenge)).toBe("b913a602c7eda7a495b4e6e7334d3890");
    expect(cramMd5Response("tim", "tanstaaftanstaaf", challenge)).toBe("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
    expect(cramMd5Response("tim", secret("tanstaaftanstaaf"), Buffer.from(challenge))).toBe(
      "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
    );
  });
});

describe("SMTP parsing", () => {
  it("groups multi-line replies and reads AUTH and legacy AUTH= mechanisms", () => {
    const [ehlo] = parseReplies([
      "250-mail.example.org",
      "250-PIPELINING",
      "250-AUTH PLAIN cram-md5",
      "250-AUTH=LOGIN PLAIN",
      "250 8BITMIME",
    ]);
    expect(ehlo).toEqual({ code: 250, lines: ["mail.example.org", "PIPELINING", "AUTH PLAIN cram-md5", "AUTH=LOGIN PLAIN", "8BITMIME"] });
    expect(parseEhlo(ehlo!).mechanisms).toEqual(["PLAIN", "CRAM-MD5", "LOGIN"]);
    expect(parseEhlo({ code: 250, lines: ["mail.example.org", "AUTHORITY-X"] }).mechanisms).toEqual([]);
  });

  it.each([
    ["mail.example.org ESMTP Postfix (Debian/GNU)", ["(Debian/GNU)", "Postfix"]],
    ["mail.example.org ESMTP Postfix", ["Postfix"]],
    ["mail.example.org ESMTP Postfix (3.7.11)", ["(3.7.11)", "Postfix"]],
    ["mx.example.net ESMTP Exim 4.96 Tue, 01 Jul 2025", ["Exim", "4.96"]],
    ["mx.example.net ESMTP Sendmail 8.15.2/8.15.2; Tue", ["Sendmail", "8.15.2/8.15.2"]],
    ["mail.example.org ESMTP (Ubuntu)", ["(Ubuntu)"]],
    ["mail.example.org ESMTP", []],
    ["mail.example.org ESMTP unknown", []],
    ["mail1.example.org ESMTP ready 10.213.0.5", []],
    ["mail.example.org ESMTP no UCE (please)", []],
  ])("banner %j reveals %j", (banner, revealed) => {
    expect(bannerDisclosures([banner])).toEqual(revealed);
  });
});

describe("probeSmtp (the reusable client)", () => {
  it("reads a multi-line banner, EHLO and logs in with CRAM-MD5", async () => {
    const server = await fake({ banner: ["mail.example.org ESMTP", "no unsolicited mail"] });
    const result = await probeSmtp({
      host: "127.0.0.1",
      port: server.port,
      timeoutMs: 5000,
      login: { user: USER, password: secret(PASSWORD), mechanism: "CRAM-MD5" },
    });
    expect(result).toMatchObject({
      port: server.port,
      connected: true,
      banner: { code: 220, lines: ["mail.example.org ESMTP", "no unsolicited mail"] },
      mechanisms: ["CRAM-MD5", "DIGEST-MD5", "PLAIN", "LOGIN"],
      auth: { mechanism: "CRAM-MD5", user: USER, outcome: "ok", code: 235 },
    });
    expect(result.error).toBeUndefined();
    expect(server.authenticated).toEqual([USER]);
    expect(server.received).toEqual(["EHLO [127.0.0.1]", "AUTH CRAM-MD5", "<auth response>", "QUIT"]);
  });
});

describe("probeSmtp's login gate (a probe started before the connection confirmed the address)", () => {
  const options = (port: number, beforeLogin: Promise<void>) => ({
    host: "127.0.0.1",
    port,
    timeoutMs: 300,
    login: { user: USER, password: secret(PASSWORD), mechanism: "CRAM-MD5" as const },
    beforeLogin,
  });

  it("greets at once and logs in only once the gate opens; the wait does not count against its bound", async () => {
    const server = await fake();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const probing = probeSmtp(options(server.port, gate));
    const deadline = Date.now() + 5_000;
    while (!server.received.includes("EHLO [127.0.0.1]") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    // Greeted, and waiting longer than the probe's own 300 ms bound: no AUTH yet.
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(server.received).toEqual(["EHLO [127.0.0.1]"]);
    open();
    const result = await probing;
    expect(result.auth).toMatchObject({ outcome: "ok", code: 235 });
    expect(server.received).toEqual(["EHLO [127.0.0.1]", "AUTH CRAM-MD5", "<auth response>", "QUIT"]);
  });

  it("a closed gate ends the probe before AUTH: the credentials are never sent", async () => {
    const server = await fake();
    const closed = Promise.reject(new Error("the connection reached 10.0.0.2"));
    closed.catch(() => undefined); // as the runner's gate: awaited only by the probe, after EHLO
    const result = await probeSmtp(options(server.port, closed));
    expect(result).toMatchObject({ stage: "AUTH", error: expect.stringContaining("10.0.0.2") });
    expect(result.auth).toBeUndefined();
    expect(server.received).toEqual(["EHLO [127.0.0.1]", "QUIT"]);
    expect(server.authenticated).toEqual([]);
  });
});

describe("verifySmtp through the runner", () => {
  it("is ok when every port greets without a version, offers the mechanisms and accepts the login", async () => {
    const s25 = await fake();
    const s587 = await fake();
    const { check, apply } = await runBoth({
      host: "127.0.0.1",
      ports: [s25.port, s587.port],
      expectBannerWithoutVersion: true,
      expectMechanisms: ["CRAM-MD5", "DIGEST-MD5"],
      login: login(PASSWORD, s587.port),
      timeoutMs: 5000,
    });
    for (const { report } of [check, apply]) {
      expect(report.status).toBe("ok");
      expect(report.steps[0]).toMatchObject({ kind: "verify-smtp", status: "ok" });
    }
    expect(s587.authenticated).toEqual([USER, USER]);
    expect(s25.authenticated).toEqual([]);
  });

  it("reports a banner that reveals the version: would-change in check, failed in apply", async () => {
    const server = await fake({ banner: ["mail.example.org ESMTP Postfix (Debian/GNU)"] });
    const { check, apply } = await runBoth({ host: "127.0.0.1", ports: [server.port], expectBannerWithoutVersion: true, timeoutMs: 5000 });
    const summary = `port ${server.port}: banner reveals version: 'mail.example.org ESMTP Postfix (Debian/GNU)' ((Debian/GNU), Postfix)`;
    expect(check.report.status).toBe("drift");
    expect(check.report.steps[0]).toMatchObject({ status: "would-change", summary });
    expect(apply.report.status).toBe("failed");
    expect(apply.report.steps[0]).toMatchObject({ status: "failed", summary });
    expect(apply.report.steps[0]?.error).toContain("banner reveals version");
  });

  it("reports missing AUTH mechanisms with what the server offers", async () => {
    const server = await fake({ extensions: ["PIPELINING", "AUTH PLAIN LOGIN"] });
    const { check, apply } = await runBoth({
      host: "127.0.0.1",
      ports: [server.port],
      expectMechanisms: { [server.port]: ["CRAM-MD5", "DIGEST-MD5"] },
      login: login(PASSWORD, server.port),
      timeoutMs: 5000,
    });
    const summary = `port ${server.port}: AUTH lacks CRAM-MD5 DIGEST-MD5 (offers PLAIN LOGIN)`;
    expect(check.report.steps[0]).toMatchObject({ status: "would-change", summary });
    expect(apply.report.steps[0]).toMatchObject({ status: "failed", summary });
    // Not offered: no AUTH was attempted.
    expect(server.received.some((line) => line.startsWith("AUTH"))).toBe(false);
  });

  it("reports no AUTH at all", async () => {
    const server = await fake({ extensions: ["PIPELINING"] });
    const { check } = await runBoth({ host: "127.0.0.1", ports: [server.port], expectMechanisms: ["CRAM-MD5"], timeoutMs: 5000 });
    expect(check.report.steps[0]?.summary).toBe(`port ${server.port}: AUTH lacks CRAM-MD5 (offers no AUTH)`);
  });

  it("reports a rejected login with the server's reply, and never shows the password or the CRAM response", async () => {
    const server = await fake();
    const { check, apply } = await runBoth({
      host: "127.0.0.1",
      ports: [server.port],
      login: login("wrong-password-123", server.port),
      timeoutMs: 5000,
    });
    const summary = `port ${server.port}: AUTH: CRAM-MD5 login as ${USER} → 535 5.7.8 Error: authentication failed: authentication failure`;
    expect(check.report.steps[0]).toMatchObject({ status: "would-change", summary });
    expect(apply.report.steps[0]).toMatchObject({ status: "failed", summary });
    expect(server.authenticated).toEqual([]);
    const everything = JSON.stringify([check, apply]);
    expect(everything).not.toContain("wrong-password-123");
    expect(everything).not.toContain(PASSWORD);
    // A CRAM response is base64("bob@mail.example.org <hex>"): its stable prefix must not appear either.
    const prefix = Buffer.from(`${USER} `).toString("base64").slice(0, 24);
    expect(everything).not.toContain(prefix);
  });

  it("never shows the password when the login succeeds either", async () => {
    const server = await fake();
    const { check, apply } = await runBoth({
      host: "127.0.0.1",
      ports: [server.port],
      login: login(PASSWORD, server.port),
      timeoutMs: 5000,
    });
    expect(apply.report.status).toBe("ok");
    expect(JSON.stringify([check, apply])).not.toContain(PASSWORD);
  });

  it("names the port whose connection is refused", async () => {
    const open = await fake();
    const closed = await closedPort();
    const { check, apply } = await runBoth({ host: "127.0.0.1", ports: [open.port, closed], timeoutMs: 5000 });
    expect(check.report.steps[0]).toMatchObject({ status: "would-change", summary: `port ${closed}: connect: connection refused` });
    expect(apply.report.steps[0]).toMatchObject({ status: "failed", summary: `port ${closed}: connect: connection refused` });
  });

  it("gives up on a server that never answers, within the bound", async () => {
    const silent = await fake({ silent: true });
    const started = Date.now();
    const check = await runOn(debianHost(), playbook(verifySmtp({ host: "127.0.0.1", ports: [silent.port], timeoutMs: 300 })), "check");
    expect(Date.now() - started).toBeLessThan(3000);
    expect(check.report.steps[0]).toMatchObject({
      status: "would-change",
      summary: `port ${silent.port}: banner: timed out after 300 ms waiting for the banner`,
    });
  });

  it("reports a greeting that is not 220", async () => {
    const server = await fake({ greetingCode: 554, banner: ["5.3.2 mail.example.org Service currently unavailable"] });
    const { check } = await runBoth({ host: "127.0.0.1", ports: [server.port], timeoutMs: 5000 });
    expect(check.report.steps[0]?.summary).toBe(
      `port ${server.port}: banner: greeted with '554 5.3.2 mail.example.org Service currently unavailable', not 220`,
    );
  });

  it("rejects invalid parameters when the playbook is built", () => {
    const password = secret(PASSWORD);
    expect(() =>
      verifySmtp({ host: "127.0.0.1", ports: [25], login: { user: "bob", password, mechanism: "CRAM-MD5", port: 587 } }),
    ).toThrow(/login\.port: port 587 is not one of ports 25/);
    expect(() =>
      verifySmtp({ host: "127.0.0.1", from: "host", login: { user: "bob", password, mechanism: "CRAM-MD5", port: 587 } }),
    ).toThrow(InvalidStepError);
    expect(() =>
      verifySmtp({ host: "127.0.0.1", login: { user: "bob", password: PASSWORD as never, mechanism: "CRAM-MD5", port: 587 } }),
    ).toThrow(/must be a secret/);
  });
});

describe("verifySmtp from the host", () => {
  const local = new LocalTransport("local");

  it.each(["python3", "bash"] as const)("probes banner and EHLO with %s", async (use) => {
    const server = await fake({ banner: ["mail.example.org ESMTP Postfix (Debian/GNU)"], extensions: ["PIPELINING", "AUTH=PLAIN LOGIN"] });
    const closed = await closedPort();
    const command = hostProbeCommand({ host: "127.0.0.1", ports: [server.port, closed], timeoutMs: 3000, use });
    const result = await local.exec(command.text, { timeoutMs: 20_000 });
    const [open, refused] = parseHostProbe(result, 3000);
    expect(open).toMatchObject({
      port: server.port,
      connected: true,
      banner: { code: 220, lines: ["mail.example.org ESMTP Postfix (Debian/GNU)"] },
      ehlo: { code: 250 },
      mechanisms: ["PLAIN", "LOGIN"],
    });
    expect(open?.error).toBeUndefined();
    expect(refused).toMatchObject({ port: closed, connected: false, error: "connection refused" });
    expect(server.received.at(-1)).toBe("QUIT");
  });

  it.each(["python3", "bash"] as const)("bounds a silent server with %s", async (use) => {
    const silent = await fake({ silent: true });
    const started = Date.now();
    const command = hostProbeCommand({ host: "127.0.0.1", ports: [silent.port], timeoutMs: 1000, use });
    const [result] = parseHostProbe(await local.exec(command.text, { timeoutMs: 20_000 }), 1000);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result).toMatchObject({ connected: true, error: "timed out after 1000 ms waiting for the banner" });
  });

  it("runs as a batched remote read through the runner (check: drift; apply: failed)", async () => {
    const server = await fake({ banner: ["mail.example.org ESMTP Postfix (Debian/GNU)"] });
    const step = () =>
      verifySmtp({ host: "127.0.0.1", ports: [server.port], from: "host", expectBannerWithoutVersion: true, timeoutMs: 3000 });
    const run = (mode: "check" | "apply") =>
      runHost({
        playbook: playbook(step()),
        vars: {},
        host: { name: "local", address: "127.0.0.1" },
        connect: async () => new LocalTransport("local"),
        mode,
      });
    const summary = `port ${server.port}: banner reveals version: 'mail.example.org ESMTP Postfix (Debian/GNU)' ((Debian/GNU), Postfix)`;
    const check = await run("check");
    expect(check.steps[0]).toMatchObject({ name: `verify smtp 127.0.0.1:${server.port} (from the host)`, status: "would-change", summary });
    const apply = await run("apply");
    expect(apply.steps[0]).toMatchObject({ status: "failed", summary });
  });
});

describe("python smtplib login helper (a client that is not our code)", () => {
  it("logs in with CRAM-MD5 (235) and is refused with a wrong password (535)", async () => {
    const server = await fake();
    const ok = await pythonSmtpLogin({ host: "127.0.0.1", port: server.port, user: USER, password: PASSWORD, timeoutMs: 5000 });
    expect(ok).toMatchObject({ code: 235, mechanisms: ["CRAM-MD5", "DIGEST-MD5", "PLAIN", "LOGIN"] });
    const bad = await pythonSmtpLogin({ host: "127.0.0.1", port: server.port, user: USER, password: "nope-nope", timeoutMs: 5000 });
    expect(bad.code).toBe(535);
    expect(server.authenticated).toEqual([USER]);
    expect(server.received.filter((line) => line.toUpperCase().startsWith("AUTH"))).toEqual(["AUTH CRAM-MD5", "AUTH CRAM-MD5"]);
  });

  it("reports a refused connection", async () => {
    const result = await pythonSmtpLogin({ host: "127.0.0.1", port: await closedPort(), user: USER, password: PASSWORD, timeoutMs: 2000 });
    expect(result.code).toBeNull();
    expect(result.error).toMatch(/ConnectionRefused/);
  });
});
