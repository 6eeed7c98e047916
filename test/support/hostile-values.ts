/**
 * A corpus of hostile values: shell metacharacters, quotes of both kinds, command substitutions
 * (canaries that would create /tmp/PWNED-<run>-<n> if ever run), option-like words, globs, line
 * breaks, CR, tab, NUL, non-ASCII, bidi controls, a 100 KiB value and the empty string.
 */
export function hostileValues(run: string): string[] {
  const pwn = (n: number) => `/tmp/PWNED-${run}-${n}`;
  return [
    "", " ", "  leading and trailing  ", "\t", "tab\there", "a\nb", "\n", "line1\nline2\n", "cr\rhere", "crlf\r\n",
    "'", "''", '"', '""', `'"'"'`, "it's", 'say "hi"',
    `$(touch ${pwn(1)})`, `\`touch ${pwn(2)}\``, `; touch ${pwn(3)}`, `&& touch ${pwn(4)}`, `| touch ${pwn(5)}`,
    `\ntouch ${pwn(6)}\n`, `'$(touch ${pwn(7)})'`, `"$(touch ${pwn(8)})"`, `'; touch ${pwn(9)}; '`,
    `$(touch\${IFS}${pwn(10)})`, `\\$(touch ${pwn(11)})`, `x' && touch ${pwn(12)} && echo '`, `$(touch ${pwn(13)}`,
    "-", "--", "-n", "-e", "--help", "-rf /", "*", "?", "[a]", "*.*", "/*", "~", "~root", "$HOME", "${HOME}", "$0", "$$", "$?",
    "%s", "%d%n%x", "%", "\\", "\\\\", "\\n", "\\'", "back\\slash", "trailing\\",
    "nul\u0000byte", "\u0000",
    "h\u00e9llo", "\u65e5\u672c\u8a9e", "emoji \u{1F389}\u{1F525}", "RTL \u202Eevil\u202C", "\u200Bzero width", "\u05E9\u05DC\u05D5\u05DD", "\u00A0nbsp",
    "#comment", "key = value", "a=b", "}{", "!!", "&", ";", "|", ">out", "<in", "2>&1", "$(", "`", "EOF", "\u0007bell", "\u001b[31mred",
    ".", "..",
    "x".repeat(100 * 1024),
  ];
}
