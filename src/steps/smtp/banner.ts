/**
 * Does an SMTP banner reveal what software (and which version) answers? The rule, precisely:
 *
 * The banner text (every line of the 220 reply, after the code) is split into words. It reveals
 * the software when a word is
 *   1. an MTA product name (what Postfix's `$mail_name` expands to, and the other common MTAs):
 *      Postfix, Sendmail, Exim, qmail, OpenSMTPD, Haraka, Courier, ZMailer, MailEnable,
 *      hMailServer, Microsoft ESMTP MAIL Service ("Microsoft"), Exchange — case-insensitive,
 *      also glued to a version (`Exim/4.96`, `Sendmail-8.15`);
 *   2. a distribution tag: a parenthesised group naming an OS or vendor — `(Debian/GNU)`,
 *      `(Ubuntu)`, `(GNU/Linux)`, `(Red Hat)`, `(CentOS)`, `(FreeBSD)` …;
 *   3. a version number: digits and dots with at least one dot (`3.7.11`, `v2.1`, `8.15.2/8.15.2`),
 *      alone or in parentheses (`(3.7.11)`) — except a dotted-quad IPv4 address (a server may put
 *      its address in the banner; that is not a version).
 *
 * So Debian's default `$myhostname ESMTP $mail_name (Debian/GNU)` fails on "Postfix" and
 * "(Debian/GNU)", upstream's `$myhostname ESMTP $mail_name` on "Postfix", and
 * `$myhostname ESMTP` (or the guide's `$myhostname ESMTP unknown`) passes. Host names with digits
 * (`mail1.example.org`) pass: a version word must be digits from its start.
 */
const PRODUCTS = [
  "postfix",
  "sendmail",
  "exim",
  "qmail",
  "netqmail",
  "opensmtpd",
  "haraka",
  "courier",
  "zmailer",
  "mailenable",
  "hmailserver",
  "microsoft",
  "exchange",
];
const VENDORS = /\b(debian|ubuntu|gnu|linux|red ?hat|rhel|centos|fedora|rocky|alma(linux)?|suse|freebsd|openbsd|netbsd|alpine)\b/i;
const VERSION = /^v?\d+(\.\d+)+([a-z0-9._+~-]*)?$/i;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The words of the banner that reveal software or version; empty when it hides them. */
export function bannerDisclosures(bannerLines: readonly string[]): string[] {
  const found: string[] = [];
  const add = (word: string) => void (found.includes(word) || found.push(word));
  const text = bannerLines.join(" ");
  for (const group of text.match(/\([^()]*\)/g) ?? []) {
    const inner = group.slice(1, -1).trim();
    if (VENDORS.test(inner) || inner.split(/[\s/]+/).some(isVersion)) add(group);
  }
  for (const raw of text.replace(/\([^()]*\)/g, " ").split(/\s+/)) {
    const word = raw.replace(/^[^\w]+|[^\w]+$/g, "");
    if (!word) continue;
    const head = word.split(/[/-]/)[0] ?? "";
    if (PRODUCTS.includes(head.toLowerCase()) || word.split("/").some(isVersion)) {
      add(word);
    }
  }
  return found;
}

function isVersion(word: string): boolean {
  return VERSION.test(word) && !IPV4.test(word);
}
