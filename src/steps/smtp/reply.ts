/**
 * SMTP replies (RFC 5321 §4.2): one or more lines `ddd-text` ending with `ddd text` (or a bare
 * `ddd`). Pure parsing, shared by the controller's client and the on-host probe's parser.
 */
export interface SmtpReply {
  code: number;
  /** The text of each line, without the code and separator. */
  lines: string[];
}

export interface ReplyLine {
  code: number;
  /** True for the reply's last line (`ddd text` or `ddd`), false for a continuation (`ddd-text`). */
  last: boolean;
  text: string;
}

/** Parse one reply line; null when it is not one (no 3-digit code, or a separator other than " " / "-"). */
export function parseReplyLine(line: string): ReplyLine | null {
  const match = /^([2-5][0-9][0-9])([ -]|$)(.*)$/.exec(line);
  if (!match) return null;
  return { code: Number(match[1]), last: match[2] !== "-", text: match[3] ?? "" };
}

/** Group raw lines into replies (for output captured on a host). Malformed lines end the parse. */
export function parseReplies(lines: readonly string[]): SmtpReply[] {
  const replies: SmtpReply[] = [];
  let current: SmtpReply | null = null;
  for (const line of lines) {
    const parsed = parseReplyLine(line);
    if (!parsed) break;
    current ??= { code: parsed.code, lines: [] };
    current.lines.push(parsed.text);
    if (parsed.last) {
      replies.push(current);
      current = null;
    }
  }
  return replies;
}

/** One line for messages: `535 5.7.8 Error: authentication failed`, continuation lines joined by " / ". */
export function formatReply(reply: SmtpReply): string {
  const text = reply.lines
    .map((line) => line.trim())
    .filter(Boolean)
    .join(" / ");
  return text ? `${reply.code} ${text}` : String(reply.code);
}
