/**
 * A host pattern with an optional port, as Ansible inventories write it: `web01`, `web01:2222`,
 * `web[01:10]:2222` (the colon inside a range is not a port), `[2001:db8::1]:2222`, or a bare IPv6
 * address.
 */
export function splitHostPort(pattern: string): { host: string; port?: number } {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(pattern);
  if (bracketed && (bracketed[1]?.match(/:/g) ?? []).length >= 2) return withPort(bracketed[1] as string, bracketed[2], pattern);
  if (/^[0-9a-fA-F:.]+$/.test(pattern) && (pattern.match(/:/g) ?? []).length >= 2) return { host: pattern };
  // The last colon outside brackets separates the port.
  let depth = 0;
  let colon = -1;
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i];
    if (c === "[") depth += 1;
    else if (c === "]") depth -= 1;
    else if (c === ":" && depth === 0) colon = i;
  }
  if (colon < 0) return { host: pattern };
  return withPort(pattern.slice(0, colon), pattern.slice(colon + 1), pattern);
}

function withPort(host: string, port: string | undefined, pattern: string): { host: string; port?: number } {
  if (port === undefined) return { host };
  const n = Number(port);
  if (!/^\d+$/.test(port) || n < 1 || n > 65535) throw new Error(`"${pattern}": the port after ":" must be a number from 1 to 65535`);
  if (host === "") throw new Error(`"${pattern}": missing the host name before ":"`);
  return { host, port: n };
}
