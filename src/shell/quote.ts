/**
 * POSIX single-quoting. The remote `/bin/sh` may be dash, so only portable syntax is emitted:
 * `'…'` with embedded quotes written as `'\''`. (zx's `quote()` emits bash-only `$'…'`.)
 */
export function quote(value: string): string {
  if (value.includes("\0")) {
    throw new Error("a shell argument cannot contain a NUL byte");
  }
  if (value !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) {
    return value;
  }
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
