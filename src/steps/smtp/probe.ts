/**
 * One SMTP probe of one port, from the controller: connect, read the banner, EHLO, optionally log
 * in (AUTH CRAM-MD5), QUIT. The result is plain data (no secrets: the password and the CRAM
 * response never enter it), so a step can diff it and a test can assert on it.
 *
 * The whole probe is bounded by `timeoutMs` (connect and every reply wait share that budget).
 *
 * TLS: `tls.mode: "starttls"` reads the clear-text EHLO (its AUTH mechanisms are kept as
 * `mechanismsBeforeTls`, to prove a server hides AUTH until TLS), sends STARTTLS, upgrades the same
 * socket (node:tls), and EHLOs again (RFC 3207 §4.2: everything from before is forgotten);
 * `"implicit"` does the handshake first (465). The certificate presented is recorded (fingerprint,
 * SAN, chain trust, and whether it is valid for `servername`), never judged here: the step decides.
 * Without `tls`, nothing is encrypted and a server that hides AUTH until STARTTLS shows "no AUTH".
 *
 * A failure records its `stage` (connect, TLS, banner, EHLO, STARTTLS, AUTH) and what the server said.
 */
import { checkServerIdentity } from "node:tls";
import type { Secret } from "../../shell/secret.ts";
import { SmtpConnection, SmtpError } from "./connection.ts";
import type { TlsSession } from "./connection.ts";
import { cramMd5Response } from "./cram-md5.ts";
import { parseEhlo } from "./ehlo.ts";
import { formatReply, type SmtpReply } from "./reply.ts";

export interface SmtpLogin {
  /** The authentication identity sent to the server (`user` or `user@realm`). */
  user: string;
  password: Secret;
  mechanism: "CRAM-MD5" | "PLAIN";
}

export type SmtpStage = "connect" | "TLS" | "banner" | "EHLO" | "STARTTLS" | "AUTH";

export interface SmtpTlsOptions {
  mode: "starttls" | "implicit";
  /** SNI and the name the certificate must be valid for. */
  servername: string;
  /** Extra trusted CA certificates (PEM). */
  ca?: string;
}

export interface SmtpTlsResult {
  protocol: string | null;
  fingerprint256: string;
  subjectAltName: string;
  /** Chains to a trusted CA. */
  authorized: boolean;
  authorizationError?: string;
  /** Why the certificate is not valid for `servername` (node's checkServerIdentity); absent when it is. */
  hostnameError?: string;
}

export interface SmtpProbeOptions {
  host: string;
  port: number;
  timeoutMs: number;
  /** The EHLO name; default an address literal of this end of the connection (`[192.0.2.1]`). */
  ehloName?: string;
  login?: SmtpLogin;
  tls?: SmtpTlsOptions;
  /** The login (AUTH) waits for it; a rejection ends the probe before AUTH (stage "AUTH", its reason). */
  beforeLogin?: Promise<void>;
}

export interface SmtpAuthResult {
  mechanism: string;
  user: string;
  /** ok: 235; rejected: any other final reply; not-offered: EHLO did not list the mechanism; error: I/O. */
  outcome: "ok" | "rejected" | "not-offered" | "error";
  /** The server's final reply, formatted ("535 5.7.8 Error: authentication failed: …"). */
  reply?: string;
  code?: number;
  error?: string;
}

export interface SmtpProbeResult {
  port: number;
  connected: boolean;
  /** Why the probe stopped before the end ("connection refused", "timed out after … waiting for the banner"). */
  error?: string;
  errorKind?: SmtpError["kind"];
  /** Where it stopped, when it did. */
  stage?: SmtpStage;
  /** STARTTLS mode: the clear-text EHLO offered STARTTLS, and these AUTH mechanisms before it. */
  starttlsOffered?: boolean;
  mechanismsBeforeTls?: string[];
  /** The reply to STARTTLS when it was not 220. */
  starttlsReply?: string;
  tls?: SmtpTlsResult;
  banner?: SmtpReply;
  ehlo?: SmtpReply;
  /** EHLO extension lines, and the AUTH mechanisms among them (upper case). */
  extensions?: string[];
  mechanisms?: string[];
  auth?: SmtpAuthResult;
}

export async function probeSmtp(options: SmtpProbeOptions): Promise<SmtpProbeResult> {
  const result: SmtpProbeResult = { port: options.port, connected: false };
  const implicit = options.tls?.mode === "implicit" ? options.tls : undefined;
  let connection: SmtpConnection;
  let stage: SmtpStage = implicit ? "TLS" : "connect";
  try {
    connection = await SmtpConnection.open({ ...options, ...(implicit ? { implicitTls: implicit } : {}) });
  } catch (error) {
    // A refused or unreachable port fails before TLS even with implicit TLS.
    const atConnect = error instanceof SmtpError && error.kind !== "protocol" && !/TLS/.test(error.message);
    return { ...result, connected: !atConnect, ...failure(error), stage: atConnect ? "connect" : stage };
  }
  result.connected = true;
  if (implicit && connection.tls) result.tls = tlsResult(connection.tls, implicit.servername);
  try {
    stage = "banner";
    result.banner = await connection.readReply("the banner");
    if (result.banner.code !== 220) return { ...result, stage };
    stage = "EHLO";
    const ehloLine = `EHLO ${options.ehloName ?? addressLiteral(connection.localAddress)}`;
    result.ehlo = await connection.command(ehloLine, "the EHLO reply");
    if (result.ehlo.code !== 250) return { ...result, stage };
    let ehlo = parseEhlo(result.ehlo);
    if (options.tls?.mode === "starttls") {
      stage = "STARTTLS";
      result.mechanismsBeforeTls = ehlo.mechanisms;
      result.starttlsOffered = ehlo.extensions.some((line) => /^STARTTLS$/i.test(line));
      if (!result.starttlsOffered) return { ...result, stage, error: "STARTTLS not offered in the EHLO reply" };
      const reply = await connection.command("STARTTLS", "the STARTTLS reply");
      if (reply.code !== 220)
        return { ...result, stage, starttlsReply: formatReply(reply), error: `STARTTLS refused: ${formatReply(reply)}` };
      result.tls = tlsResult(await connection.startTls(options.tls), options.tls.servername);
      stage = "EHLO";
      result.ehlo = await connection.command(ehloLine, "the EHLO reply after STARTTLS");
      if (result.ehlo.code !== 250) return { ...result, stage };
      ehlo = parseEhlo(result.ehlo);
    }
    result.extensions = ehlo.extensions;
    result.mechanisms = ehlo.mechanisms;
    if (options.login) {
      stage = "AUTH";
      if (options.beforeLogin) await connection.idleUntil(options.beforeLogin);
      const { user, mechanism } = options.login;
      result.auth = !ehlo.mechanisms.includes(mechanism)
        ? { mechanism, user, outcome: "not-offered" }
        : mechanism === "PLAIN"
          ? await authPlain(connection, options.login)
          : await authCramMd5(connection, options.login);
    }
    return result;
  } catch (error) {
    return { ...result, ...failure(error), stage };
  } finally {
    await connection.quit();
  }
}

function tlsResult(session: TlsSession, servername: string): SmtpTlsResult {
  const hostnameError = checkServerIdentity(servername, session.certificate);
  return {
    protocol: session.protocol,
    fingerprint256: session.fingerprint256,
    subjectAltName: session.subjectAltName,
    authorized: session.authorized,
    ...(session.authorizationError ? { authorizationError: session.authorizationError } : {}),
    ...(hostnameError ? { hostnameError: hostnameError.message } : {}),
  };
}

/**
 * AUTH PLAIN (RFC 4616) with an initial response: base64("\0" + user + "\0" + password). It
 * carries the password itself: only ever sent inside TLS by verifySmtp, never printed.
 */
export async function authPlain(connection: SmtpConnection, login: SmtpLogin): Promise<SmtpAuthResult> {
  const base = { mechanism: "PLAIN", user: login.user };
  try {
    const response = Buffer.from(`\0${login.user}\0${login.password.reveal()}`, "utf8").toString("base64");
    return { ...base, ...final(await connection.command(`AUTH PLAIN ${response}`, "the AUTH reply")) };
  } catch (error) {
    return { ...base, outcome: "error", error: failure(error).error };
  }
}

/** AUTH CRAM-MD5 on an open connection after EHLO. I/O failures become outcome "error", never throw. */
export async function authCramMd5(connection: SmtpConnection, login: SmtpLogin): Promise<SmtpAuthResult> {
  const base = { mechanism: "CRAM-MD5", user: login.user };
  try {
    const challenge = await connection.command("AUTH CRAM-MD5", "the CRAM-MD5 challenge");
    if (challenge.code !== 334) return { ...base, ...final(challenge) };
    const encoded = (challenge.lines[0] ?? "").trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
      connection.send("*");
      return { ...base, outcome: "error", error: "the server's CRAM-MD5 challenge is not base64" };
    }
    const reply = await connection.command(cramMd5Response(login.user, login.password, Buffer.from(encoded, "base64")), "the AUTH reply");
    if (reply.code === 334) {
      // CRAM-MD5 has one round: a second challenge is a protocol error; cancel (RFC 4954 §4).
      connection.send("*");
      await connection.readReply("the AUTH cancel reply").catch(() => undefined);
      return { ...base, outcome: "error", error: "the server sent a second CRAM-MD5 challenge" };
    }
    return { ...base, ...final(reply) };
  } catch (error) {
    return { ...base, outcome: "error", error: failure(error).error };
  }
}

function final(reply: SmtpReply): Pick<SmtpAuthResult, "outcome" | "reply" | "code"> {
  return { outcome: reply.code === 235 ? "ok" : "rejected", reply: formatReply(reply), code: reply.code };
}

function failure(error: unknown): Pick<SmtpProbeResult, "error" | "errorKind"> {
  if (error instanceof SmtpError) return { error: error.message, errorKind: error.kind };
  return { error: error instanceof Error ? error.message : String(error), errorKind: "error" };
}

/** RFC 5321 §4.1.3 address literal: `[192.0.2.1]` or `[IPv6:2001:db8::1]`. */
export function addressLiteral(address: string | undefined): string {
  if (!address) return "[127.0.0.1]";
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return `[${v4[1]}]`;
  return address.includes(":") ? `[IPv6:${address}]` : `[${address}]`;
}
