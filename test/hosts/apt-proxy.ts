/**
 * A tiny forward proxy for apt inside test hosts, listening on the bridge gateway. It forwards
 * only GET/HEAD for http://<the Debian mirror host>/… and refuses everything else (other hosts,
 * other methods, CONNECT tunnels), so hosts reach nothing but the mirror.
 * Usage: node --import tsx apt-proxy.ts LISTEN_ADDRESS PORT MIRROR_HOST
 */
import http from "node:http";

const [listenAddress, portText, mirrorHost] = process.argv.slice(2);
if (!listenAddress || !portText || !mirrorHost) {
  console.error("usage: apt-proxy.ts LISTEN_ADDRESS PORT MIRROR_HOST");
  process.exit(2);
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);
const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function copyHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
  return out;
}

function refuse(res: http.ServerResponse, code: number, why: string): void {
  res.writeHead(code, { "content-type": "text/plain" });
  res.end(`${why}\n`);
}

const server = http.createServer((req, res) => {
  if (req.method !== "GET" && req.method !== "HEAD") return refuse(res, 405, "only GET and HEAD");
  let url: URL;
  try {
    url = new URL(req.url ?? "");
  } catch {
    return refuse(res, 400, "absolute http:// URL required");
  }
  if (url.protocol !== "http:" || url.hostname !== mirrorHost || (url.port !== "" && url.port !== "80")) {
    return refuse(res, 403, `only http://${mirrorHost}/`);
  }
  const upstream = http.request(
    {
      host: mirrorHost,
      port: 80,
      method: req.method,
      path: url.pathname + url.search,
      headers: { ...copyHeaders(req.headers), host: mirrorHost },
      agent: upstreamAgent,
      timeout: 30_000,
    },
    (up) => {
      res.writeHead(up.statusCode ?? 502, copyHeaders(up.headers));
      up.pipe(res);
    },
  );
  upstream.on("timeout", () => upstream.destroy(new Error("upstream timeout")));
  upstream.on("error", (e) => {
    if (!res.headersSent) refuse(res, 502, `upstream: ${e.message}`);
    else res.destroy();
  });
  upstream.end();
});

// CONNECT would be a tunnel to anywhere: refuse outright.
server.on("connect", (_req, socket) => socket.end("HTTP/1.1 405 Method Not Allowed\r\n\r\n"));
server.listen(Number(portText), listenAddress, () => console.log(`apt proxy on ${listenAddress}:${portText} → ${mirrorHost}`));
