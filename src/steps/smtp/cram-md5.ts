/**
 * CRAM-MD5 (RFC 2195): the client answers the server's challenge with
 * base64(user + " " + lowercase-hex(HMAC-MD5(key = password, message = challenge))).
 * The challenge is the base64-decoded text of the server's `334` line, used as bytes.
 *
 * (Guides that say base64(md5(password + " " + challenge)) are wrong: it is an HMAC, keyed by the
 * password, and the user name goes in front in clear.)
 *
 * The response is derived from the password: treat it like the password (never log or print it).
 */
import { createHmac } from "node:crypto";
import type { Secret } from "../../shell/secret.ts";

export function cramMd5Digest(password: Secret | string, challenge: Buffer | string): string {
  const key = typeof password === "string" ? password : password.reveal();
  return createHmac("md5", Buffer.from(key, "utf8")).update(challenge).digest("hex");
}

/** The base64 line the client sends after `334 <challenge>`. */
export function cramMd5Response(user: string, password: Secret | string, challenge: Buffer | string): string {
  return Buffer.from(`${user} ${cramMd5Digest(password, challenge)}`, "utf8").toString("base64");
}
