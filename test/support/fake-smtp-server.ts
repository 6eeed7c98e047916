/**
 * A tiny fake SMTP server for tests, on 127.0.0.1 (an ephemeral port): a configurable banner and
 * EHLO extension list, and AUTH CRAM-MD5 checked for real against known passwords (the HMAC is
 * computed here with node:crypto, independently of the client under test). `silent: true` accepts
 * connections and never says a word. Everything it received is recorded, except AUTH responses.
 */
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, TLSSocket } from "node:tls";

export interface FakeSmtpOptions {
  /** Lines of the 220 greeting (default: one line "mail.example.org ESMTP"). */
  banner?: string[];
  /** Reply code of the greeting (default 220). */
  greetingCode?: number;
  /** EHLO extension lines (default: PIPELINING, SIZE, AUTH CRAM-MD5 DIGEST-MD5 PLAIN LOGIN, 8BITMIME). */
  extensions?: string[];
  /** Users (authentication identities) and their passwords. */
  users?: Record<string, string>;
  silent?: boolean;
  /**
   * TLS with this certificate and key (PEM): STARTTLS offered in clear text (or, `implicit`, TLS
   * from the first byte, as on 465); `authOnlyAfterTls` hides AUTH until TLS (smtpd_tls_auth_only).
   * Inside TLS, AUTH PLAIN is checked too.
   */
  tls?: { cert: string; key: string; implicit?: boolean; authOnlyAfterTls?: boolean };
}

export interface FakeSmtpServer {
  port: number;
  /** Commands received (AUTH responses replaced by "<auth response>"). */
  received: string[];
  /** Authentication identities that logged in. */
  authenticated: string[];
  close(): Promise<void>;
}

export const DEFAULT_EXTENSIONS = ["PIPELINING", "SIZE 10240000", "AUTH CRAM-MD5 DIGEST-MD5 PLAIN LOGIN", "8BITMIME"];

export async function startFakeSmtp(options: FakeSmtpOptions = {}): Promise<FakeSmtpServer> {
  const received: string[] = [];
  const authenticated: string[] = [];
  const sockets = new Set<Socket>();
  const accept = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    if (options.silent) return;
    serve(socket, options, received, authenticated, Boolean(options.tls?.implicit));
  };
  const server: Server = options.tls?.implicit
    ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, accept)
    : createServer(accept);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fake SMTP server has no port");
  return {
    port: address.port,
    received,
    authenticated,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

function serve(socket: Socket, options: FakeSmtpOptions, received: string[], authenticated: string[], secure: boolean, greet = true): void {
  const write = (code: number, lines: string[]) =>
    socket.write(lines.map((line, i) => `${code}${i === lines.length - 1 ? " " : "-"}${line}\r\n`).join(""));
  if (greet) write(options.greetingCode ?? 220, options.banner ?? ["mail.example.org ESMTP"]);
  const extensions = () => {
    const all = options.extensions ?? DEFAULT_EXTENSIONS;
    if (!options.tls || secure) return all;
    const clear = options.tls.authOnlyAfterTls ? all.filter((line) => !/^AUTH\b/i.test(line)) : all;
    return options.tls.implicit ? clear : [...clear, "STARTTLS"];
  };
  let challenge: string | null = null;
  let buffer = "";
  socket.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("latin1");
    let at: number;
    while ((at = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, at).replace(/\r$/, "");
      buffer = buffer.slice(at + 1);
      if (challenge !== null) {
        received.push("<auth response>");
        const expected = challenge;
        challenge = null;
        if (line === "*") {
          write(501, ["5.7.0 Authentication aborted"]);
          continue;
        }
        const [user = "", digest = ""] = Buffer.from(line, "base64").toString("utf8").split(" ");
        const password = options.users?.[user];
        const want = password === undefined ? null : createHmac("md5", password).update(expected).digest("hex");
        if (want !== null && digest === want) {
          authenticated.push(user);
          write(235, ["2.7.0 Authentication successful"]);
        } else {
          write(535, ["5.7.8 Error: authentication failed: authentication failure"]);
        }
        continue;
      }
      received.push(line);
      const verb = line.split(" ")[0]?.toUpperCase() ?? "";
      if (verb === "EHLO") write(250, ["mail.example.org", ...extensions()]);
      else if (verb === "STARTTLS" && options.tls && !secure && !options.tls.implicit) {
        write(220, ["2.0.0 Ready to start TLS"]);
        socket.removeAllListeners("data");
        const tlsSocket = new TLSSocket(socket, { isServer: true, cert: options.tls.cert, key: options.tls.key });
        tlsSocket.on("error", () => undefined);
        serve(tlsSocket, options, received, authenticated, true, false);
        return;
      } else if (/^AUTH PLAIN /i.test(line) && secure) {
        received[received.length - 1] = "AUTH PLAIN <auth response>";
        const [, user = "", password = ""] = Buffer.from(line.slice(11), "base64").toString("utf8").split("\0");
        if (options.users?.[user] === password && password !== "") {
          authenticated.push(user);
          write(235, ["2.7.0 Authentication successful"]);
        } else write(535, ["5.7.8 Error: authentication failed: authentication failure"]);
      } else if (verb === "HELO") write(250, ["mail.example.org"]);
      else if (verb === "QUIT") {
        write(221, ["2.0.0 Bye"]);
        socket.end();
      } else if (/^AUTH CRAM-MD5$/i.test(line)) {
        challenge = `<${randomBytes(4).readUInt32BE()}.${Date.now()}@mail.example.org>`;
        write(334, [Buffer.from(challenge).toString("base64")]);
      } else if (verb === "AUTH") write(504, ["5.5.4 Unsupported authentication mechanism"]);
      else if (verb === "NOOP") write(250, ["2.0.0 Ok"]);
      else write(502, ["5.5.2 Error: command not recognized"]);
    }
  });
}
