/**
 * Masking of secret values in any text that leaves the process (events, errors, diffs, reports).
 * Every `Secret` registers its value here when created, so masking does not depend on each caller
 * remembering which values are secret: the reporters pass everything they print through `mask`.
 */
const MASK = "***";
// Kept on globalThis: a playbook may load its own copy of this module (tsx namespaces, or a
// project's own node_modules), and a secret registered there must still be masked here.
const REGISTRY = Symbol.for("provision.secret-values");
const secretValues: Set<string> = ((globalThis as Record<symbol, unknown>)[REGISTRY] as Set<string> | undefined) ??
  ((globalThis as Record<symbol, unknown>)[REGISTRY] = new Set<string>()) as Set<string>;

export function registerSecretValue(value: string): void {
  secretValues.add(value);
}

/** Replace every known secret value in `text` with `***`, longest first (a secret may contain another). */
export function mask(text: string): string {
  if (secretValues.size === 0 || text.length === 0) return text;
  let out = text;
  const values = [...secretValues].sort((a, b) => b.length - a.length);
  for (const value of values) {
    if (out.includes(value)) out = out.split(value).join(MASK);
  }
  return out;
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
