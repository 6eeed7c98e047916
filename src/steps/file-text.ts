/**
 * A text file's bytes as a string to edit, and back, byte-exact on everything an edit leaves alone:
 * - UTF-8 when the bytes are valid UTF-8 (they round-trip exactly), else Latin-1 — one character
 *   per byte, so `caf\xe9` stays `caf\xe9` (decoding it as UTF-8 would write U+FFFD back). The
 *   user's strings (a line, a setting) then go in as their UTF-8 bytes.
 * - CRLF: a file whose every line ends in CRLF is edited without the CRs and written back with
 *   them, so a line added to it ends in CRLF too (and regexps' `$` see the line's end). A file with
 *   mixed endings is edited as it is.
 */
export interface FileText {
  /** The text to edit: line breaks are "\n". */
  text: string;
  /** A user's string (UTF-8) as a string of this text's kind. */
  fromUser(value: string): string;
  /** An edited text back to bytes, in the file's encoding and line ending. */
  encode(text: string): Buffer;
}

export function decodeFileText(bytes: Buffer): FileText {
  const utf8 = bytes.toString("utf8");
  const isUtf8 = Buffer.from(utf8, "utf8").equals(bytes);
  const raw = isUtf8 ? utf8 : bytes.toString("latin1");
  const crlf = raw.includes("\r\n") && !/(^|[^\r])\n/.test(raw);
  return {
    text: crlf ? raw.replace(/\r\n/g, "\n") : raw,
    fromUser: isUtf8 ? (value) => value : (value) => Buffer.from(value, "utf8").toString("latin1"),
    encode: (text) => Buffer.from(crlf ? text.replace(/\n/g, "\r\n") : text, isUtf8 ? "utf8" : "latin1"),
  };
}
