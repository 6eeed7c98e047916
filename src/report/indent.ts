/** Indent every line of `text` by four spaces (trailing whitespace trimmed): a diff or a script under its heading line. */
export function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");
}
