/**
 * The SMTP probe run ON the host (verifySmtp `from: "host"`), without installing anything. A POSIX
 * shell has no sockets, so the probe uses what a host usually has:
 *   1. python3 (Debian's postfix hosts often have it; Ansible needs it): socket module, every recv
 *      bounded by the remaining time of the port's budget;
 *   2. else bash's /dev/tcp, with `read -t` bounding each line and coreutils/busybox `timeout`
 *      bounding the whole port (including the connect, which bash cannot time out by itself;
 *      without `timeout` a connect to a silently dropping port waits for the kernel's SYN retries —
 *      the runner's command timeout is then the bound);
 *   3. neither: the read fails, naming both.
 * Limits: banner + EHLO + QUIT only (no AUTH: the password would have to reach the host); ports are
 * probed one after another, so the read takes at most ports × timeout. The output is a small
 * line protocol (`@port 25`, `@connect ok|refused|timeout|error TEXT`, `@banner LINE`,
 * `@ehlo LINE`, `@error TEXT`; other lines are diagnostics) parsed into the same SmtpProbeResult
 * as the controller's probe.
 */
import { sh, type ShellCommand } from "../../shell/sh.ts";
import type { ExecResult } from "../../transport/transport.ts";
import { ReadFailedError } from "../../playbook/step.ts";
import { parseEhlo } from "./ehlo.ts";
import { parseReplies } from "./reply.ts";
import type { SmtpProbeResult } from "./probe.ts";

const PYTHON_PROBE = `
import socket, sys, time
host, limit, ports = sys.argv[1], float(sys.argv[2]) / 1000.0, sys.argv[3:]
def emit(tag, text):
    sys.stdout.write("@%s %s\\n" % (tag, text.encode("ascii", "backslashreplace").decode("ascii")))
    sys.stdout.flush()
class Timeout(Exception):
    pass
def lines(sock, deadline):
    buf = b""
    while True:
        while b"\\n" in buf:
            line, buf = buf.split(b"\\n", 1)
            yield line.rstrip(b"\\r").decode("latin-1")
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        sock.settimeout(left)
        try:
            data = sock.recv(4096)
        except socket.timeout:
            raise Timeout()
        if not data:
            return
        buf += data
        if len(buf) > 8192:
            return
def reply(it, tag):
    for _ in range(200):
        line = next(it, None)
        if line is None:
            emit("error", "closed waiting for " + tag)
            return False
        emit(tag, line)
        if not (len(line) >= 4 and line[3] == "-"):
            return line[:3] in ("220", "250", "221")
    return False
for port in ports:
    emit("port", port)
    deadline = time.monotonic() + limit
    try:
        sock = socket.create_connection((host, int(port)), timeout=limit)
    except socket.timeout:
        emit("connect", "timeout")
        continue
    except ConnectionRefusedError:
        emit("connect", "refused")
        continue
    except OSError as e:
        emit("connect", "error " + (e.strerror or str(e)))
        continue
    emit("connect", "ok")
    try:
        it = lines(sock, deadline)
        if reply(it, "banner"):
            local = sock.getsockname()[0]
            name = ("[IPv6:%s]" % local) if ":" in local else ("[%s]" % local)
            sock.sendall(("EHLO %s\\r\\n" % name).encode("ascii"))
            if reply(it, "ehlo"):
                sock.sendall(b"QUIT\\r\\n")
                reply(it, "quit")
    except Timeout:
        emit("error", "timeout")
    except OSError as e:
        emit("error", e.strerror or str(e))
    finally:
        sock.close()
`;

// Run by bash (never by the host's /bin/sh, which may be dash): $1 host, $2 port, $3 seconds per line.
const BASH_PROBE = `
if ! exec 3<>"/dev/tcp/$1/$2"; then echo "@connect failed"; exit 0; fi
echo "@connect ok"
reply() {
  n=0
  while [ "$n" -lt 200 ]; do
    n=$((n + 1))
    IFS= read -r -t "$3" line <&3 || { echo "@error timeout"; return 1; }
    line=\${line%$'\\r'}
    echo "@$4 $line"
    case $line in [0-9][0-9][0-9]-*) ;; 2[0-9][0-9]*) return 0 ;; *) return 1 ;; esac
  done
  return 1
}
reply "$1" "$2" "$3" banner || exit 0
printf 'EHLO %s\\r\\n' "\${HOSTNAME:-localhost}" >&3
reply "$1" "$2" "$3" ehlo || exit 0
printf 'QUIT\\r\\n' >&3
reply "$1" "$2" "$3" quit
exit 0
`;

export interface HostProbeOptions {
  host: string;
  ports: readonly number[];
  timeoutMs: number;
  /** Force one implementation (tests); default python3, then bash. */
  use?: "python3" | "bash";
}

const NONE = "@none";

export function hostProbeCommand(options: HostProbeOptions): ShellCommand {
  const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  const python = sh`python3 -c ${PYTHON_PROBE} ${options.host} ${options.timeoutMs} ${options.ports}`;
  const bash = sh`for p in ${options.ports}; do
  echo "@port $p"
  if command -v timeout >/dev/null 2>&1; then
    timeout ${seconds + 1} bash -c ${BASH_PROBE} probe ${options.host} "$p" ${seconds} 2>&1
  else
    bash -c ${BASH_PROBE} probe ${options.host} "$p" ${seconds} 2>&1
  fi
  [ $? -eq 124 ] && echo "@error timeout"
done
exit 0`;
  if (options.use === "python3") return python;
  if (options.use === "bash") return bash;
  return sh`if command -v python3 >/dev/null 2>&1; then
${python}
elif command -v bash >/dev/null 2>&1; then
${bash}
else
  echo ${NONE}; exit 3
fi`;
}

/** Parse the probe's output into one result per port. */
export function parseHostProbe(result: ExecResult, timeoutMs: number): SmtpProbeResult[] {
  const text = result.stdout.toString("latin1");
  if (text.includes(NONE)) {
    throw new ReadFailedError("cannot probe SMTP from the host: neither python3 nor bash is installed there");
  }
  const results: SmtpProbeResult[] = [];
  let current: { result: SmtpProbeResult; banner: string[]; ehlo: string[]; notes: string[] } | null = null;
  const finish = () => {
    if (!current) return;
    const { result: port, banner, ehlo, notes } = current;
    if (port.error === undefined && notes.length > 0 && !port.connected) port.error = notes.join("; ");
    const [bannerReply] = parseReplies(banner);
    if (bannerReply) port.banner = bannerReply;
    const [ehloReply] = parseReplies(ehlo);
    if (ehloReply) {
      port.ehlo = ehloReply;
      if (ehloReply.code === 250) {
        const info = parseEhlo(ehloReply);
        port.extensions = info.extensions;
        port.mechanisms = info.mechanisms;
      }
    }
    if (port.error === "timeout") {
      port.error = port.connected
        ? `timed out after ${timeoutMs} ms waiting for ${port.banner ? "the EHLO reply" : "the banner"}`
        : `connect timed out after ${timeoutMs} ms`;
    }
    results.push(port);
  };
  for (const line of text.split("\n")) {
    const match = /^@(\w+) ?(.*)$/.exec(line.replace(/\r$/, ""));
    if (!match) {
      if (current && line.trim()) current.notes.push(line.trim());
      continue;
    }
    const [, tag = "", rest = ""] = match;
    if (tag === "port") {
      finish();
      current = { result: { port: Number(rest), connected: false }, banner: [], ehlo: [], notes: [] };
      continue;
    }
    if (!current) continue;
    const port = current.result;
    if (tag === "connect") {
      if (rest === "ok") port.connected = true;
      else Object.assign(port, connectFailure(rest, current.notes, timeoutMs));
    } else if (tag === "banner") current.banner.push(rest);
    else if (tag === "ehlo") current.ehlo.push(rest);
    else if (tag === "error") {
      port.error ??= rest;
      port.errorKind ??= rest === "timeout" ? "timeout" : "error";
    }
  }
  finish();
  return results;
}

function connectFailure(rest: string, notes: string[], timeoutMs: number): Pick<SmtpProbeResult, "error" | "errorKind"> {
  const said = `${rest} ${notes.join(" ")}`;
  if (/refused/i.test(said)) return { error: "connection refused", errorKind: "refused" };
  if (/timeout|timed out/i.test(said)) return { error: `connect timed out after ${timeoutMs} ms`, errorKind: "timeout" };
  if (/unreachable/i.test(said)) return { error: "host unreachable", errorKind: "unreachable" };
  const detail = rest.replace(/^(error|failed) ?/, "") || notes.join("; ");
  return { error: detail ? `cannot connect: ${detail}` : "cannot connect", errorKind: "error" };
}
