/**
 * Masking of secret values in any text that leaves the process (events, errors, diffs, reports).
 * Every `Secret` registers its value here when created, so masking does not depend on each caller
 * remembering which values are secret: the reporters pass everything they print through `mask`.
 *
 * A multi-line secret (a private key) also registers each of its lines of at least
 * MIN_SECRET_LENGTH characters: output is often cut into lines (a stderr tail, a first line, a
 * diff's `+`/`-` lines), and a line of a key is as secret as the key.
 */
export const MASK = "***";
/** Shorter values are refused as secrets: masking "e" would turn "directory" into "dir***ctory". */
export const MIN_SECRET_LENGTH = 8;
// Kept on globalThis: a playbook may load its own copy of this module (tsx namespaces, or a
// project's own node_modules), and a secret registered there must still be masked here.
const REGISTRY = Symbol.for("provision.secret-values");
const secretValues: Set<string> =
  ((globalThis as Record<symbol, unknown>)[REGISTRY] as Set<string> | undefined) ??
  (((globalThis as Record<symbol, unknown>)[REGISTRY] = new Set<string>()) as Set<string>);

// Short values that came from elsewhere (an Ansible Vault file: `port: "25"` is as encrypted as a
// key) cannot be refused, and masking them inside words would garble text and give them away:
// they are masked only where they stand as a whole word.
const WORD_REGISTRY = Symbol.for("provision.secret-words");
const secretWords: Set<string> =
  ((globalThis as Record<symbol, unknown>)[WORD_REGISTRY] as Set<string> | undefined) ??
  (((globalThis as Record<symbol, unknown>)[WORD_REGISTRY] = new Set<string>()) as Set<string>);

/** Register a short secret: masked only as a whole word (not preceded or followed by a letter, digit or _). */
export function registerSecretWord(value: string): void {
  secretWords.add(value);
}

function maskWords(text: string): string {
  let out = text;
  for (const word of secretWords) {
    if (!out.includes(word)) continue;
    const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    out = out.replace(new RegExp(`(?<![\\p{L}\\p{N}_])${escaped}(?![\\p{L}\\p{N}_])`, "gu"), MASK);
  }
  return out;
}

export function registerSecretValue(value: string): void {
  secretValues.add(value);
  if (!/[\r\n]/.test(value)) return;
  for (const line of value.split(/\r?\n|\r/)) if (line.trim().length >= MIN_SECRET_LENGTH) secretValues.add(line);
}

/** Longest first: a secret may contain another (or one of its own lines). */
function knownValues(): string[] {
  return [...secretValues].sort((a, b) => b.length - a.length);
}

/** Replace every known secret value in `text` with `***`. */
export function mask(text: string): string {
  if ((secretValues.size === 0 && secretWords.size === 0) || text.length === 0) return text;
  let out = text;
  for (const value of knownValues()) if (out.includes(value)) out = out.split(value).join(MASK);
  return secretWords.size === 0 ? out : maskWords(out);
}

/** True when `text` holds a known secret value (or a line of a multi-line one). */
export function containsSecret(text: string): boolean {
  if (secretValues.size === 0 || text.length === 0) return false;
  for (const value of secretValues) if (text.includes(value)) return true;
  return false;
}

/**
 * Like `mask`, but a multi-line value becomes as many `***` lines as it had: for text that is
 * diffed afterwards, so the diff's line numbers still match the real file's.
 */
export function maskKeepingLines(text: string): string {
  if (secretValues.size === 0 || text.length === 0) return text;
  let out = text;
  for (const value of knownValues()) {
    if (!out.includes(value)) continue;
    const masked = value
      .split(/(\r?\n|\r)/)
      .map((part, i) => (i % 2 === 1 ? part : MASK))
      .join("");
    out = out.split(value).join(masked);
  }
  return out;
}

/**
 * Text shortened for display (a step name, a one-line reason): masked FIRST, then cut, so the cut
 * can never leave the start of a secret that masking would no longer recognise.
 */
export function shortenMasked(text: string, max: number): string {
  const masked = mask(text);
  return masked.length <= max ? masked : `${masked.slice(0, max - 1)}…`;
}

/** Mask every string inside a JSON-like value (for reports). */
export function maskDeep<T>(value: T): T {
  if (typeof value === "string") return mask(value) as T;
  if (Array.isArray(value)) return value.map((item) => maskDeep(item)) as T;
  if (value !== null && typeof value === "object") {
    if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
      return maskDeep((value as unknown as { toJSON: () => unknown }).toJSON()) as T;
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = maskDeep(item);
    return out as T;
  }
  return value;
}
