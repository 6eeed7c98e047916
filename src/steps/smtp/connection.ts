/**
 * One SMTP connection over TCP (node:net), line-oriented, with every wait bounded: the connect and
 * each reply wait at most until the connection's deadline (set when it is opened). Lines end in
 * CRLF (a bare LF is accepted); lines longer than MAX_LINE or replies longer than MAX_REPLY_LINES
 * are a protocol error, so a misbehaving server cannot make the client buffer without end.
 *
 * Nothing the client sends appears in an error message: an AUTH response line is derived from a
 * password and must never be printed.
 */
import { createConnection, type Socket } from "node:net";
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from "node:tls";
import { StringDecoder } from "node:string_decoder";
import { parseReplyLine, type SmtpReply } from "./reply.ts";

const MAX_LINE = 8192;
const MAX_REPLY_LINES = 200;

export type SmtpErrorKind = "refused" | "timeout" | "unreachable" | "closed" | "protocol" | "error";

export class SmtpError extends Error {
  override readonly name = "SmtpError";
  constructor(
    readonly kind: SmtpErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface SmtpConnectOptions {
  host: string;
  port: number;
  /** The whole connection's time budget, from the start of the connect: every wait ends by then. */
  timeoutMs: number;
  /** Implicit TLS (port 465, "submissions"): the TLS handshake comes before the banner. */
  implicitTls?: TlsClientOptions;
}

export interface TlsClientOptions {
  /** SNI and the name the certificate is checked against. */
  servername: string;
  /** Extra trusted CA certificates (PEM), for `verify: "ca"` against a private CA. */
  ca?: string;
}

/** What the TLS handshake gave: the server's certificate and whether it chains to a trusted CA. */
export interface TlsSession {
  protocol: string | null;
  /** SHA-256 fingerprint of the leaf certificate, "AB:CD:…". */
  fingerprint256: string;
  subjectAltName: string;
  /** Chains to a trusted CA (node's default store plus `ca`); the hostname is checked separately. */
  authorized: boolean;
  authorizationError?: string;
  certificate: PeerCertificate;
}
export class SmtpConnection {
  #socket: Socket;
  #decoder = new StringDecoder("latin1");
  #deadline: number;
  readonly #timeoutMs: number;
  readonly #lines: string[] = [];
  #partial = "";
  #ended: SmtpError | null = null;
  #wake: (() => void) | null = null;

  private constructor(socket: Socket, deadline: number, timeoutMs: number) {
    this.#socket = socket;
    this.#deadline = deadline;
    this.#timeoutMs = timeoutMs;
    this.#listen(socket);
  }

  #listen(socket: Socket): void {
    socket.on("data", (chunk: Buffer) => this.#onData(this.#decoder.write(chunk)));
    socket.on("end", () => this.#end(new SmtpError("closed", "connection closed by the server")));
    socket.on("error", (error) => this.#end(socketError(error)));
    socket.on("close", () => this.#end(new SmtpError("closed", "connection closed by the server")));
  }

  /** The TLS session, once STARTTLS or implicit TLS has completed; undefined in clear text. */
  tls: TlsSession | undefined;

  /**
   * After a 220 reply to STARTTLS: the TLS handshake over the same socket (RFC 3207), bounded by
   * the deadline. Lines the server sent before the handshake are discarded (a server must send
   * none; keeping them would allow command injection, CVE-2021-33515-style).
   */
  async startTls(options: TlsClientOptions): Promise<TlsSession> {
    const plain = this.#socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("end");
    plain.removeAllListeners("close");
    plain.removeAllListeners("error");
    this.#lines.length = 0;
    this.#partial = "";
    this.#decoder = new StringDecoder("latin1");
    const secure = tlsConnect({
      socket: plain,
      servername: options.servername,
      rejectUnauthorized: false,
      ...(options.ca ? { ca: options.ca } : {}),
    });
    await handshake(secure, this.remainingMs, this.#timeoutMs);
    this.#socket = secure;
    this.#listen(secure);
    this.tls = tlsSession(secure);
    return this.tls;
  }

  /** Connect; rejects with an SmtpError ("connection refused", "connect timed out after N ms", …). */
  static async open(options: SmtpConnectOptions): Promise<SmtpConnection> {
    const deadline = Date.now() + options.timeoutMs;
    const connection = await new Promise<SmtpConnection>((resolve, reject) => {
      const socket = createConnection({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SmtpError("timeout", `connect timed out after ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new SmtpConnection(socket, deadline, options.timeoutMs));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(socketError(error, options.host));
      });
    });
    if (options.implicitTls) {
      try {
        await connection.startTls(options.implicitTls);
      } catch (error) {
        connection.close();
        throw error;
      }
    }
    return connection;
  }

  /** The local address of the socket (for an address-literal EHLO name). */
  get localAddress(): string | undefined {
    return this.#socket.localAddress;
  }

  /** Wait for `gate` with the connection idle; the wait does not count against the deadline (the probe's bound is for its own I/O). */
  async idleUntil(gate: Promise<void>): Promise<void> {
    const from = Date.now();
    try {
      await gate;
    } finally {
      this.#deadline += Date.now() - from;
    }
  }

  /** Milliseconds left before the deadline. */
  get remainingMs(): number {
    return Math.max(0, this.#deadline - Date.now());
  }

  /** Read one whole reply (multi-line aware). `waitingFor` names it in a timeout message ("the banner"). */
  async readReply(waitingFor: string, limitMs = this.remainingMs): Promise<SmtpReply> {
    const until = Date.now() + Math.min(limitMs, this.remainingMs);
    const reply: SmtpReply = { code: 0, lines: [] };
    for (let count = 0; count < MAX_REPLY_LINES; count += 1) {
      const line = await this.#readLine(waitingFor, until);
      const parsed = parseReplyLine(line);
      if (!parsed || (reply.code !== 0 && parsed.code !== reply.code)) {
        throw new SmtpError("protocol", `not an SMTP reply while waiting for ${waitingFor}: ${JSON.stringify(line.slice(0, 200))}`);
      }
      reply.code = parsed.code;
      reply.lines.push(parsed.text);
      if (parsed.last) return reply;
    }
    throw new SmtpError("protocol", `reply longer than ${MAX_REPLY_LINES} lines while waiting for ${waitingFor}`);
  }

  /** Send one command line (CRLF is added). */
  send(line: string): void {
    if (/[\r\n]/.test(line)) throw new Error("an SMTP command line cannot contain CR or LF");
    if (this.#ended) throw this.#ended;
    this.#socket.write(`${line}\r\n`, "latin1");
  }

  /** Send a command and read its reply. */
  async command(line: string, waitingFor: string): Promise<SmtpReply> {
    this.send(line);
    return this.readReply(waitingFor);
  }

  /** Send QUIT and wait briefly for 221 (errors ignored), then close. Never throws. */
  async quit(graceMs = 1000): Promise<void> {
    try {
      if (!this.#ended && this.remainingMs > 0) {
        this.send("QUIT");
        await this.readReply("the QUIT reply", graceMs);
      }
    } catch {
      // The server may close first; QUIT is a courtesy.
    } finally {
      this.close();
    }
  }

  close(): void {
    this.#socket.destroy();
  }

  async #readLine(waitingFor: string, until: number): Promise<string> {
    for (;;) {
      const line = this.#lines.shift();
      if (line !== undefined) return line;
      if (this.#ended) throw this.#ended;
      const left = until - Date.now();
      if (left <= 0) throw new SmtpError("timeout", `timed out after ${this.#timeoutMs} ms waiting for ${waitingFor}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#wake = null;
          resolve();
        }, left);
        this.#wake = () => {
          clearTimeout(timer);
          this.#wake = null;
          resolve();
        };
      });
    }
  }

  #onData(text: string): void {
    this.#partial += text;
    let at: number;
    while ((at = this.#partial.indexOf("\n")) >= 0) {
      this.#lines.push(this.#partial.slice(0, at).replace(/\r$/, ""));
      this.#partial = this.#partial.slice(at + 1);
    }
    if (this.#partial.length > MAX_LINE) {
      this.#end(new SmtpError("protocol", `line longer than ${MAX_LINE} characters`));
      this.#socket.destroy();
    }
    this.#wake?.();
  }

  #end(error: SmtpError): void {
    this.#ended ??= error;
    this.#wake?.();
  }
}

/** Wait for the handshake (rejectUnauthorized is off: the caller judges the certificate itself). */
function handshake(secure: TLSSocket, limitMs: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new SmtpError("timeout", `timed out after ${timeoutMs} ms in the TLS handshake`));
    }, limitMs);
    secure.once("secureConnect", () => {
      clearTimeout(timer);
      secure.removeAllListeners("error");
      secure.removeAllListeners("close");
      resolve();
    });
    secure.once("error", (error) => {
      clearTimeout(timer);
      secure.destroy();
      reject(new SmtpError("protocol", `TLS handshake failed: ${error.message}`));
    });
    secure.once("close", () => {
      clearTimeout(timer);
      reject(new SmtpError("closed", "connection closed during the TLS handshake"));
    });
  });
}

function tlsSession(secure: TLSSocket): TlsSession {
  const certificate = secure.getPeerCertificate();
  const error = secure.authorizationError;
  return {
    protocol: secure.getProtocol(),
    fingerprint256: certificate.fingerprint256 ?? "",
    subjectAltName: certificate.subjectaltname ?? "",
    authorized: secure.authorized,
    ...(error ? { authorizationError: String(error) } : {}),
    certificate,
  };
}

function socketError(error: Error, host?: string): SmtpError {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case "ECONNREFUSED":
      return new SmtpError("refused", "connection refused");
    case "ETIMEDOUT":
      return new SmtpError("timeout", "connect timed out");
    case "EHOSTUNREACH":
      return new SmtpError("unreachable", "host unreachable");
    case "ENETUNREACH":
      return new SmtpError("unreachable", "network unreachable");
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new SmtpError("unreachable", `cannot resolve ${host ?? "the host name"}`);
    case "ECONNRESET":
    case "EPIPE":
      return new SmtpError("closed", "connection reset by the server");
    default:
      return new SmtpError("error", error.message);
  }
}
