/**
 * verifySmtp: a read-only step that checks a mail server the way a client sees it — each port
 * accepts a connection, greets with 220, answers EHLO with 250, (optionally) hides its software
 * and version in the banner, offers the expected AUTH mechanisms, and (optionally) accepts an
 * AUTH CRAM-MD5 login of a configured user with 235. It has no `apply`: in --check a problem is
 * drift ("would-change"), in apply mode a failure.
 *
 * - `from: "controller"` (default): a LocalRead on the controller (node:net), so it also proves
 *   the firewall lets the port through. Ports are probed in parallel; each port's whole probe
 *   (connect, banner, EHLO, AUTH, QUIT) is bounded by `timeoutMs`.
 * - `from: "host"`: a remote read that probes from the host itself with python3 or bash's
 *   /dev/tcp (see smtp/host-probe.ts): banner + EHLO only; `login` is refused there.
 * - TLS (`tls`): ports in `tls.starttls` must offer STARTTLS and are probed inside it; ports in
 *   `tls.implicit` (465) speak TLS from the first byte. The certificate presented must be the one
 *   installed (`verify: "fingerprint"`: `tls.fingerprint` is a value, or a function read at diff
 *   time — a tlsCertificate step's `fingerprint`, so the comparison is with what the host has),
 *   or (`verify: "ca"`) chain to a trusted CA and be valid for `servername`. Ports in
 *   `tls.authOnlyAfterTls` must NOT offer AUTH before STARTTLS (smtpd_tls_auth_only).
 *   Without `tls`, nothing is encrypted: behind smtpd_tls_auth_only AUTH shows as "no AUTH".
 * - `login` (one, or a list — each login is its own connection, as a server allows one AUTH per
 *   session): CRAM-MD5 anywhere, PLAIN only on a TLS port (it carries the password itself).
 * - Every problem names the port and the stage (connect, TLS, banner, EHLO, STARTTLS, AUTH).
 * - The banner rule is in smtp/banner.ts.
 * - The password is revealed only to compute the AUTH response; neither it nor the response
 *   enters the state, the summary or any error.
 */
import { z } from "zod";
import type { Change, Step } from "../playbook/step.ts";
import { isSecret, type Secret } from "../shell/secret.ts";
import { bannerDisclosures } from "./smtp/banner.ts";
import { hostProbeCommand, parseHostProbe } from "./smtp/host-probe.ts";
import { probeSmtp, type SmtpLogin, type SmtpProbeResult, type SmtpTlsOptions, type SmtpTlsResult } from "./smtp/probe.ts";
import { formatReply } from "./smtp/reply.ts";
import { parseStepParams } from "./params.ts";
import { EVERYTHING } from "../playbook/resources.ts";

const port = z.number().int().min(1).max(65535);
const mechanism = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,20}$/, "not a SASL mechanism name")
  .transform((name) => name.toUpperCase());
const mechanisms = z.array(mechanism).min(1);

const loginParams = z
  .object({
    user: z
      .string()
      .min(1)
      .regex(/^[^\s]+$/, "no whitespace"),
    /** SASL realm: the identity sent is user@realm (as saslpasswd2 -u REALM USER stores it). */
    realm: z
      .string()
      .min(1)
      .regex(/^[^\s@]+$/, "no whitespace or @")
      .optional(),
    password: z.custom<Secret>(isSecret, 'must be a secret: secret("…") or a secretVar()'),
    mechanism: z.enum(["CRAM-MD5", "PLAIN"]).default("CRAM-MD5"),
    port: port.default(587),
  })
  .strict();

const tlsParams = z
  .object({
    starttls: z.array(port).default([]),
    implicit: z.array(port).default([]),
    authOnlyAfterTls: z.array(port).default([]),
    verify: z.enum(["fingerprint", "ca"]).default("fingerprint"),
    /** "AB:CD:…" (SHA-256), or a function giving it when the step diffs. */
    fingerprint: z
      .union([
        z.string().regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, "a SHA-256 fingerprint AB:CD:…"),
        z.custom<() => string | undefined>((v) => typeof v === "function"),
      ])
      .optional(),
    /** The name the certificate must be valid for (and SNI); default `host`. */
    servername: z.string().min(1).optional(),
    /** Extra trusted CA certificates (PEM) for verify: "ca". */
    ca: z.string().includes("-----BEGIN CERTIFICATE-----", { message: "must be PEM certificates" }).optional(),
  })
  .strict();

const verifySmtpParams = z
  .object({
    /** Address (or name) to connect to. From the host, usually 127.0.0.1 or its own address. */
    host: z.string().min(1),
    ports: z.array(port).min(1).default([25, 587]),
    from: z.enum(["controller", "host"]).default("controller"),
    /** The banner must not reveal the MTA's name, distribution or version (smtp/banner.ts). */
    expectBannerWithoutVersion: z.boolean().optional(),
    /** Mechanisms every port must offer, or per port: `{ 587: ["CRAM-MD5"] }`. */
    expectMechanisms: z.union([mechanisms, z.record(z.string().regex(/^\d+$/, "a port number"), mechanisms)]).optional(),
    /** One login or several (each on its own connection). */
    login: z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(loginParams).min(1)).optional(),
    tls: tlsParams.optional(),
    /** Bound of each port's whole probe (controller), or of each port (host). */
    timeoutMs: z.number().int().positive().max(300_000).default(10_000),
  })
  .strict()
  .superRefine((params, ctx) => {
    const logins = params.login ?? [];
    const tls = params.tls;
    const tlsPorts = [...(tls?.starttls ?? []), ...(tls?.implicit ?? [])];
    logins.forEach((login, index) => {
      const path = logins.length > 1 ? ["login", index] : ["login"];
      if (!params.ports.includes(login.port)) {
        ctx.addIssue({
          code: "custom",
          path: [...path, "port"],
          message: `port ${login.port} is not one of ports ${params.ports.join(", ")}`,
        });
      }
      if (login.mechanism === "PLAIN" && !tlsPorts.includes(login.port)) {
        ctx.addIssue({
          code: "custom",
          path: [...path, "mechanism"],
          message: `PLAIN sends the password itself: only inside TLS (port ${login.port} is not in tls.starttls or tls.implicit)`,
        });
      }
    });
    if (logins.length > 0 && params.from === "host") {
      ctx.addIssue({ code: "custom", path: ["login"], message: 'a login is verified only from the controller (from: "controller")' });
    }
    if (tls) {
      if (params.from === "host")
        ctx.addIssue({ code: "custom", path: ["tls"], message: 'TLS is verified only from the controller (from: "controller")' });
      for (const key of ["starttls", "implicit", "authOnlyAfterTls"] as const) {
        for (const p of tls[key]) {
          if (!params.ports.includes(p))
            ctx.addIssue({ code: "custom", path: ["tls", key], message: `port ${p} is not one of ports ${params.ports.join(", ")}` });
        }
      }
      for (const p of tls.starttls) {
        if (tls.implicit.includes(p))
          ctx.addIssue({ code: "custom", path: ["tls"], message: `port ${p} cannot be both starttls and implicit` });
      }
      for (const p of tls.authOnlyAfterTls) {
        if (!tls.starttls.includes(p))
          ctx.addIssue({ code: "custom", path: ["tls", "authOnlyAfterTls"], message: `port ${p} is not in tls.starttls` });
      }
      if (tls.verify === "fingerprint" && tls.fingerprint === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["tls", "fingerprint"],
          message: 'required with verify: "fingerprint" (or use verify: "ca")',
        });
      }
    }
    if (params.expectMechanisms && !Array.isArray(params.expectMechanisms)) {
      for (const key of Object.keys(params.expectMechanisms)) {
        if (!params.ports.includes(Number(key))) {
          ctx.addIssue({
            code: "custom",
            path: ["expectMechanisms", key],
            message: `port ${key} is not one of ports ${params.ports.join(", ")}`,
          });
        }
      }
    }
  });

export type VerifySmtpParams = z.input<typeof verifySmtpParams>;

export interface SmtpState {
  from: "controller" | "host";
  /** One probe per port (carrying the first login on that port, if any). */
  ports: SmtpProbeResult[];
  /** Further logins, each on its own connection. */
  logins?: SmtpProbeResult[];
}

interface Login extends SmtpLogin {
  port: number;
}

// Long: a step factory: read, diff and the outputs share the parsed parameters in one closure.
export function verifySmtp(input: VerifySmtpParams): Step<SmtpState> {
  const params = parseStepParams("verifySmtp", verifySmtpParams, input);
  const logins: Login[] = (params.login ?? []).map((l) => ({
    user: l.realm ? `${l.user}@${l.realm}` : l.user,
    password: l.password,
    mechanism: l.mechanism,
    port: l.port,
  }));
  const firstLogin = (p: number) => logins.find((l) => l.port === p);
  const extraLogins = logins.filter((l) => firstLogin(l.port) !== l);
  const expected = (p: number): string[] =>
    Array.isArray(params.expectMechanisms) ? params.expectMechanisms : (params.expectMechanisms?.[String(p)] ?? []);
  const tls = params.tls;
  const tlsFor = (p: number): SmtpTlsOptions | undefined => {
    if (!tls) return undefined;
    const mode = tls.starttls.includes(p) ? "starttls" : tls.implicit.includes(p) ? "implicit" : undefined;
    return mode ? { mode, servername: tls.servername ?? params.host, ...(tls.ca ? { ca: tls.ca } : {}) } : undefined;
  };
  const probe = (p: number, login: Login | undefined, beforeLogin: Promise<void> | undefined) => {
    const tlsOptions = tlsFor(p);
    return probeSmtp({
      host: params.host,
      port: p,
      timeoutMs: params.timeoutMs,
      ...(login ? { login } : {}),
      ...(beforeLogin ? { beforeLogin } : {}),
      ...(tlsOptions ? { tls: tlsOptions } : {}),
    });
  };

  return {
    kind: "verify-smtp",
    name: `verify smtp ${params.host}:${params.ports.join(",")}${params.from === "host" ? " (from the host)" : ""}`,
    // What a client sees depends on everything the playbook changes (packages, main.cf, master.cf,
    // the firewall, a restart): unknown in --check while any of it is pending.
    requires: [EVERYTHING],
    read() {
      if (params.from === "host") {
        const options = { host: params.host, ports: params.ports, timeoutMs: params.timeoutMs };
        return {
          command: hostProbeCommand(options),
          parse: (result) => ({ from: "host", ports: parseHostProbe(result, params.timeoutMs) }),
        };
      }
      return {
        local: async (beforeLogin) => {
          const [ports, extra] = await Promise.all([
            Promise.all(params.ports.map((p) => probe(p, firstLogin(p), beforeLogin))),
            Promise.all(extraLogins.map((l) => probe(l.port, l, beforeLogin))),
          ]);
          return { from: "controller", ports, ...(extra.length ? { logins: extra } : {}) };
        },
      };
    },
    diff(current): Change | null {
      const fingerprint = typeof tls?.fingerprint === "function" ? tls.fingerprint() : tls?.fingerprint;
      const tlsExpect = (p: number): TlsExpectations | undefined =>
        tlsFor(p)
          ? {
              verify: tls?.verify ?? "fingerprint",
              fingerprint: fingerprint?.toUpperCase(),
              authOnly: tls?.authOnlyAfterTls.includes(p) ?? false,
            }
          : undefined;
      const problems = params.ports.flatMap((p) => {
        const result = current.ports.find((r) => r.port === p);
        if (!result) return [`port ${p}: not probed`];
        const login = firstLogin(p);
        return portProblems(result, {
          banner: params.expectBannerWithoutVersion === true,
          mechanisms: expected(p),
          login,
          tls: tlsExpect(p),
        }).map((problem) => `port ${p}: ${problem}`);
      });
      extraLogins.forEach((login, index) => {
        const result = current.logins?.[index];
        if (!result) problems.push(`port ${login.port}: ${login.mechanism} login not probed`);
        else
          problems.push(
            ...portProblems(result, { banner: false, mechanisms: [], login, tls: tlsExpect(login.port) }).map(
              (problem) => `port ${login.port}: ${problem}`,
            ),
          );
      });
      return problems.length === 0 ? null : { summary: [...new Set(problems)].join("; ") };
    },
  };
}

interface TlsExpectations {
  verify: "fingerprint" | "ca";
  /** The installed certificate's; undefined when unknown (the certificate step has not read it). */
  fingerprint: string | undefined;
  /** AUTH must not be offered before STARTTLS. */
  authOnly: boolean;
}

interface PortExpectations {
  banner: boolean;
  mechanisms: string[];
  login: { user: string; mechanism: string } | undefined;
  tls?: TlsExpectations | undefined;
}

/** What is wrong with one port's probe, worst first; empty when it meets every expectation. */
export function portProblems(result: SmtpProbeResult, expect: PortExpectations): string[] {
  const at = (stage: string | undefined, text: string) => (stage ? `${stage}: ${text}` : text);
  if (!result.connected) return [at("connect", result.error ?? "cannot connect")];
  const problems: string[] = [];
  if (result.tls && expect.tls) problems.push(...certificateProblems(result.tls, expect.tls));
  const banner = result.banner;
  if (!banner) return [...problems, at(result.stage ?? "banner", result.error ?? "no banner")];
  if (banner.code !== 220) return [...problems, `banner: greeted with '${formatReply(banner)}', not 220`];
  if (expect.banner) {
    const revealed = bannerDisclosures(banner.lines);
    if (revealed.length > 0) problems.push(`banner reveals version: '${banner.lines.join(" ").trim()}' (${revealed.join(", ")})`);
  }
  if (expect.tls?.authOnly && result.mechanismsBeforeTls && result.mechanismsBeforeTls.length > 0) {
    problems.push(`EHLO: AUTH offered before STARTTLS (${result.mechanismsBeforeTls.join(" ")}): smtpd_tls_auth_only is off`);
  }
  if (!result.ehlo) return [...problems, at(result.stage ?? "EHLO", result.error ?? "no EHLO reply")];
  if (result.ehlo.code !== 250) return [...problems, `EHLO refused: '${formatReply(result.ehlo)}'`];
  if (result.stage === "STARTTLS" || (result.error && result.stage === "EHLO"))
    return [...problems, at(result.stage, result.error ?? "failed")];
  const offered = result.mechanisms ?? [];
  const offers = offered.length > 0 ? `offers ${offered.join(" ")}` : "offers no AUTH";
  const missing = expect.mechanisms.filter((m) => !offered.includes(m));
  if (missing.length > 0) problems.push(`AUTH lacks ${missing.join(" ")} (${offers})`);
  if (expect.login) {
    const as = `AUTH: ${expect.login.mechanism} login as ${expect.login.user}`;
    const auth = result.auth;
    if (!auth) problems.push(`${as}: not attempted${result.error ? ` (${result.error})` : ""}`);
    else if (auth.outcome === "not-offered") {
      // Already said by "AUTH lacks …" when the mechanism was expected.
      if (!missing.includes(auth.mechanism)) problems.push(`${as}: not possible, ${auth.mechanism} not offered (${offers})`);
    } else if (auth.outcome === "rejected") problems.push(`${as} → ${auth.reply ?? auth.code}`);
    else if (auth.outcome === "error") problems.push(`${as}: ${auth.error ?? "failed"}`);
  } else if (result.error) {
    problems.push(at(result.stage, result.error));
  }
  return problems;
}

function certificateProblems(tls: SmtpTlsResult, expect: TlsExpectations): string[] {
  if (expect.verify === "ca") {
    const problems: string[] = [];
    if (!tls.authorized) problems.push(`TLS: the certificate does not chain to a trusted CA (${tls.authorizationError ?? "unverified"})`);
    if (tls.hostnameError) problems.push(`TLS: ${tls.hostnameError}`);
    return problems;
  }
  if (expect.fingerprint === undefined) return ["TLS: the installed certificate's fingerprint is not known (its step did not read it)"];
  return tls.fingerprint256.toUpperCase() === expect.fingerprint
    ? []
    : [
        `TLS: the server presents ${tls.fingerprint256.slice(0, 23)}…, not the installed certificate ${expect.fingerprint.slice(0, 23)}… (Postfix not reloaded, or another certificate configured)`,
      ];
}
