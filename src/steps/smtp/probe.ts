/**
 * One SMTP probe of one port, from the controller: connect, read the banner, EHLO, optionally log
 * in (AUTH CRAM-MD5), QUIT. The result is plain data (no secrets: the password and the CRAM
 * response never enter it), so a step can diff it and a test can assert on it.
 *
 * The whole probe is bounded by `timeoutMs` (connect and every reply wait share that budget).
 * STARTTLS is not spoken: Postfix offers AUTH in clear unless `smtpd_tls_auth_only = yes`, and
 * CRAM-MD5 never sends the password itself. A server that hides AUTH until STARTTLS shows up here
 * as "AUTH not offered".
 */
import type { Secret } from "../../shell/secret.ts";
import { SmtpConnection, SmtpError } from "./connection.ts";
import { cramMd5Response } from "./cram-md5.ts";
import { parseEhlo } from "./ehlo.ts";
import { formatReply, type SmtpReply } from "./reply.ts";

export interface SmtpLogin {
  /** The authentication identity sent to the server (`user` or `user@realm`). */
  user: string;
  password: Secret;
  mechanism: "CRAM-MD5";
}

export interface SmtpProbeOptions {
  host: string;
  port: number;
  timeoutMs: number;
  /** The EHLO name; default an address literal of this end of the connection (`[192.0.2.1]`). */
  ehloName?: string;
  login?: SmtpLogin;
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
  banner?: SmtpReply;
  ehlo?: SmtpReply;
  /** EHLO extension lines, and the AUTH mechanisms among them (upper case). */
  extensions?: string[];
  mechanisms?: string[];
  auth?: SmtpAuthResult;
}

export async function probeSmtp(options: SmtpProbeOptions): Promise<SmtpProbeResult> {
  const result: SmtpProbeResult = { port: options.port, connected: false };
  let connection: SmtpConnection;
  try {
    connection = await SmtpConnection.open(options);
  } catch (error) {
    return { ...result, ...failure(error) };
  }
  result.connected = true;
  try {
    result.banner = await connection.readReply("the banner");
    if (result.banner.code !== 220) return result;
    result.ehlo = await connection.command(`EHLO ${options.ehloName ?? addressLiteral(connection.localAddress)}`, "the EHLO reply");
    if (result.ehlo.code !== 250) return result;
    const ehlo = parseEhlo(result.ehlo);
    result.extensions = ehlo.extensions;
    result.mechanisms = ehlo.mechanisms;
    if (options.login) {
      const { user, mechanism } = options.login;
      result.auth = ehlo.mechanisms.includes(mechanism)
        ? await authCramMd5(connection, options.login)
        : { mechanism, user, outcome: "not-offered" };
    }
    return result;
  } catch (error) {
    return { ...result, ...failure(error) };
  } finally {
    await connection.quit();
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
    const reply = await connection.command(
      cramMd5Response(login.user, login.password, Buffer.from(encoded, "base64")),
      "the AUTH reply",
    );
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
