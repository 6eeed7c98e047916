/**
 * Verify a message's DKIM-Signature with an independent verifier: Debian's python3-dkim
 * (/usr/bin/python3: the `python3` first on PATH may lack it), its DNS lookups answered by the
 * test's own DNS server on 127.0.0.1 (dnspython, pointed at that address and port only).
 */
import { execFile } from "node:child_process";

const VERIFY = `
import sys, dkim, dns.resolver
server, port = sys.argv[1], int(sys.argv[2])
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = [server]
resolver.port = port
resolver.lifetime = 5
def dnsfunc(name, timeout=5):
    try:
        answer = resolver.resolve(name.decode("ascii").rstrip("."), "TXT")
    except Exception:
        return None
    return b"".join(b"".join(r.strings) for r in answer)
message = sys.stdin.buffer.read()
d = dkim.DKIM(message)
ok = d.verify(dnsfunc=dnsfunc)
sys.stdout.write("ok\\n" if ok else "fail %s\\n" % (d.logger and "", ))
sys.exit(0 if ok else 3)
`;

export function pythonDkimVerify(message: Buffer, dnsPort: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = execFile("/usr/bin/python3", ["-c", VERIFY, "127.0.0.1", String(dnsPort)], { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ ok: !error, output: `${stdout}${stderr}` }),
    );
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(message);
  });
}
