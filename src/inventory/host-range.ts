/**
 * Ansible host ranges: `web[01:10].example.com` (numeric; a leading zero pads every number to the
 * width of the start), `db-[a:c]` (letters), an optional step `[1:10:2]`; several ranges in one
 * name expand as a product, left range outermost. Throws an Error with a plain message; the caller
 * adds the file and line.
 */
const RANGE = /\[([^\]:]*):([^\]:]*)(?::([^\]:]*))?\]/;
const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

export function expandHostRange(pattern: string): string[] {
  const match = RANGE.exec(pattern);
  if (!match) return [pattern];
  const head = pattern.slice(0, match.index);
  const tail = pattern.slice(match.index + match[0].length);
  const [, rawStart = "", rawEnd = "", rawStep] = match;
  const start = rawStart === "" ? "0" : rawStart;
  const end = rawEnd;
  if (end === "") throw new Error(`host range ${match[0]} in "${pattern}" must have an end`);
  const step = rawStep === undefined || rawStep === "" ? 1 : Number(rawStep);
  if (!Number.isInteger(step) || step < 1)
    throw new Error(`host range ${match[0]} in "${pattern}": the step must be a positive whole number`);

  let items: string[];
  if (/^\d+$/.test(start) && /^\d+$/.test(end)) {
    const padded = start.length > 1 && start.startsWith("0");
    if (padded && start.length !== end.length) {
      throw new Error(`host range ${match[0]} in "${pattern}": a zero-padded range needs a start and end of the same width`);
    }
    const from = Number(start);
    const to = Number(end);
    if (from > to) throw new Error(`host range ${match[0]} in "${pattern}": the start is after the end`);
    items = [];
    for (let n = from; n <= to; n += step) items.push(padded ? String(n).padStart(start.length, "0") : String(n));
  } else if (/^[a-zA-Z]$/.test(start) && /^[a-zA-Z]$/.test(end)) {
    const from = LETTERS.indexOf(start);
    const to = LETTERS.indexOf(end);
    if (from > to) throw new Error(`host range ${match[0]} in "${pattern}": the start is after the end`);
    items = [];
    for (let n = from; n <= to; n += step) items.push(LETTERS[n] as string);
  } else {
    throw new Error(`host range ${match[0]} in "${pattern}": expected numbers ([01:10]) or single letters ([a:f])`);
  }
  return items.flatMap((item) => expandHostRange(`${head}${item}${tail}`));
}
