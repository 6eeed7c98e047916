/**
 * The EHLO reply (RFC 5321 §4.1.1.1): the first line is the server's name and greeting, each
 * further line one extension keyword with parameters. AUTH mechanisms come from `AUTH m1 m2`
 * (RFC 4954) and from the legacy `AUTH=m1 m2` line old Outlook clients needed (Postfix's
 * `broken_sasl_auth_clients = yes`); both are read, upper-cased and de-duplicated.
 */
import type { SmtpReply } from "./reply.ts";

export interface EhloInfo {
  /** The first line's text: the server's name and greeting. */
  greeting: string;
  /** Extension lines as sent ("PIPELINING", "SIZE 10240000", "AUTH CRAM-MD5 PLAIN"). */
  extensions: string[];
  /** AUTH mechanisms offered, upper case, in the order first seen. */
  mechanisms: string[];
}

export function parseEhlo(reply: SmtpReply): EhloInfo {
  const [greeting = "", ...extensions] = reply.lines.map((line) => line.trim());
  const mechanisms: string[] = [];
  for (const line of extensions) {
    const match = /^AUTH(?:=|\s+|$)(.*)$/i.exec(line);
    if (!match) continue;
    for (const word of (match[1] ?? "").split(/\s+/)) {
      const mechanism = word.toUpperCase();
      if (mechanism && !mechanisms.includes(mechanism)) mechanisms.push(mechanism);
    }
  }
  return { greeting, extensions, mechanisms };
}
