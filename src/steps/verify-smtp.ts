/**
 * verify.smtp: a read-only step that checks a mail server the way a client sees it — each port
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
 * - No STARTTLS: Postfix offers AUTH without TLS unless `smtpd_tls_auth_only = yes`; CRAM-MD5
 *   never sends the password. Behind smtpd_tls_auth_only, AUTH shows as "not offered".
 * - The banner rule is in smtp/banner.ts.
 * - The password is revealed only to compute the CRAM-MD5 response; neither it nor the response
 *   enters the state, the summary or any error.
 */
import { z } from "zod";
import type { Change, Step } from "../playbook/step.ts";
import { isSecret, type Secret } from "../shell/secret.ts";
import { bannerDisclosures } from "./smtp/banner.ts";
import { hostProbeCommand, parseHostProbe } from "./smtp/host-probe.ts";
import { probeSmtp, type SmtpProbeResult } from "./smtp/probe.ts";
import { formatReply } from "./smtp/reply.ts";
import { parseStepParams } from "./params.ts";
import { EVERYTHING } from "../playbook/resources.ts";

const port = z.number().int().min(1).max(65535);
const mechanism = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,20}$/, "not a SASL mechanism name")
  .transform((name) => name.toUpperCase());
const mechanisms = z.array(mechanism).min(1);

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
    login: z
      .object({
        user: z.string().min(1).regex(/^[^\s]+$/, "no whitespace"),
        /** SASL realm: the identity sent is user@realm (as saslpasswd2 -u REALM USER stores it). */
        realm: z.string().min(1).regex(/^[^\s@]+$/, "no whitespace or @").optional(),
        password: z.custom<Secret>(isSecret, "must be a secret: secret(\"…\") or a secretVar()"),
        mechanism: z.literal("CRAM-MD5").default("CRAM-MD5"),
        port: port.default(587),
      })
      .strict()
      .optional(),
    /** Bound of each port's whole probe (controller), or of each port (host). */
    timeoutMs: z.number().int().positive().max(300_000).default(10_000),
  })
  .strict()
  .superRefine((params, ctx) => {
    if (params.login && !params.ports.includes(params.login.port)) {
      ctx.addIssue({ code: "custom", path: ["login", "port"], message: `port ${params.login.port} is not one of ports ${params.ports.join(", ")}` });
    }
    if (params.login && params.from === "host") {
      ctx.addIssue({ code: "custom", path: ["login"], message: 'a login is verified only from the controller (from: "controller")' });
    }
    if (params.expectMechanisms && !Array.isArray(params.expectMechanisms)) {
      for (const key of Object.keys(params.expectMechanisms)) {
        if (!params.ports.includes(Number(key))) {
          ctx.addIssue({ code: "custom", path: ["expectMechanisms", key], message: `port ${key} is not one of ports ${params.ports.join(", ")}` });
        }
      }
    }
  });

export type VerifySmtpParams = z.input<typeof verifySmtpParams>;

export interface SmtpState {
  from: "controller" | "host";
  ports: SmtpProbeResult[];
}

export function verifySmtp(input: VerifySmtpParams): Step<SmtpState> {
  const params = parseStepParams("verify.smtp", verifySmtpParams, input);
  const login = params.login
    ? {
        user: params.login.realm ? `${params.login.user}@${params.login.realm}` : params.login.user,
        password: params.login.password,
        mechanism: params.login.mechanism,
        port: params.login.port,
      }
    : undefined;
  const expected = (p: number): string[] =>
    Array.isArray(params.expectMechanisms) ? params.expectMechanisms : (params.expectMechanisms?.[String(p)] ?? []);

  return {
    kind: "verify.smtp",
    name: `verify smtp ${params.host}:${params.ports.join(",")}${params.from === "host" ? " (from the host)" : ""}`,
    // What a client sees depends on everything the playbook changes (packages, main.cf, master.cf,
    // the firewall, a restart): unknown in --check while any of it is pending.
    requires: [EVERYTHING],
    read() {
      if (params.from === "host") {
        const options = { host: params.host, ports: params.ports, timeoutMs: params.timeoutMs };
        return { command: hostProbeCommand(options), parse: (result) => ({ from: "host", ports: parseHostProbe(result, params.timeoutMs) }) };
      }
      return {
        local: async () => ({
          from: "controller",
          ports: await Promise.all(
            params.ports.map((p) =>
              probeSmtp({ host: params.host, port: p, timeoutMs: params.timeoutMs, ...(login && login.port === p ? { login } : {}) }),
            ),
          ),
        }),
      };
    },
    diff(current): Change | null {
      const problems = params.ports.flatMap((p) => {
        const result = current.ports.find((r) => r.port === p);
        if (!result) return [`port ${p}: not probed`];
        return portProblems(result, {
          banner: params.expectBannerWithoutVersion === true,
          mechanisms: expected(p),
          login: login && login.port === p ? login : undefined,
        }).map((problem) => `port ${p}: ${problem}`);
      });
      return problems.length === 0 ? null : { summary: problems.join("; ") };
    },
  };
}

interface PortExpectations {
  banner: boolean;
  mechanisms: string[];
  login: { user: string; mechanism: string } | undefined;
}

/** What is wrong with one port's probe, worst first; empty when it meets every expectation. */
export function portProblems(result: SmtpProbeResult, expect: PortExpectations): string[] {
  if (!result.connected) return [result.error ?? "cannot connect"];
  const problems: string[] = [];
  const banner = result.banner;
  if (!banner) return [result.error ?? "no banner"];
  if (banner.code !== 220) return [`greeted with '${formatReply(banner)}', not 220`];
  if (expect.banner) {
    const revealed = bannerDisclosures(banner.lines);
    if (revealed.length > 0) problems.push(`banner reveals version: '${banner.lines.join(" ").trim()}' (${revealed.join(", ")})`);
  }
  if (!result.ehlo) return [...problems, result.error ?? "no EHLO reply"];
  if (result.ehlo.code !== 250) return [...problems, `EHLO refused: '${formatReply(result.ehlo)}'`];
  const offered = result.mechanisms ?? [];
  const offers = offered.length > 0 ? `offers ${offered.join(" ")}` : "offers no AUTH";
  const missing = expect.mechanisms.filter((m) => !offered.includes(m));
  if (missing.length > 0) problems.push(`AUTH lacks ${missing.join(" ")} (${offers})`);
  if (expect.login) {
    const as = `${expect.login.mechanism} login as ${expect.login.user}`;
    const auth = result.auth;
    if (!auth) problems.push(`${as}: not attempted${result.error ? ` (${result.error})` : ""}`);
    else if (auth.outcome === "not-offered") {
      // Already said by "AUTH lacks …" when the mechanism was expected.
      if (!missing.includes(auth.mechanism)) problems.push(`${as}: not possible, ${auth.mechanism} not offered (${offers})`);
    } else if (auth.outcome === "rejected") problems.push(`${as} → ${auth.reply ?? auth.code}`);
    else if (auth.outcome === "error") problems.push(`${as}: ${auth.error ?? "failed"}`);
  } else if (result.error) {
    problems.push(result.error);
  }
  return problems;
}
