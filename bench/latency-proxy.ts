/**
 * A user-space network distance for the benchmark: this machine's kernel has no netem, so each
 * host's sshd gets a TCP proxy in front of it that holds every chunk of data for a set one-way
 * delay, in each direction (RTT = 2 × delay). Data keeps its order (every chunk waits the same
 * time, and Node runs timers of equal duration in the order they were set) and is passed on
 * byte for byte; an end or a close is delayed like data, so nothing in flight is cut.
 *
 * Bound to a loopback address only (the tools connect to 127.0.0.1:PORT), forwarding to our own
 * test host; every proxy closes itself after `lifetimeMs` at the latest.
 *
 * The TCP handshake is modelled too: the host sees a connection (and its first data) 3 one-way
 * delays after the client connected, as on a real path (SYN, SYN-ACK, then the ACK with data); a
 * tool that opens its connection earlier gains that round trip here as it would there.
 *
 * Not modelled: bandwidth, jitter, loss, Nagle/ACK timing of a real path — only the delay, which
 * is what a round trip pays.
 */
import net from "node:net";

export interface LatencyProxy {
  /** Where to connect instead of the target. */
  host: string;
  port: number;
  close(): Promise<void>;
}

export interface LatencyProxyOptions {
  target: { host: string; port: number };
  /** Added in each direction, ms (RTT grows by twice this). */
  oneWayDelayMs: number;
  /** Loopback address to listen on (127.0.0.0/8 only). */
  listenHost?: string;
  /** Port to listen on (default 0: any free one). A fixed port (SMTP's 25, 587, 465) needs its own listenHost per target. */
  listenPort?: number;
  /** The proxy closes itself (and its connections) after this long at the latest. */
  lifetimeMs?: number;
}

/**
 * Pass `from`'s data to `to` in order, each chunk when it is due: `delayMs` after it arrived, and
 * never before `notBefore` (the time the connection is open at the far end, see below). Its end
 * (FIN) is queued like data, so nothing in flight is cut; both sockets are half-open capable. A
 * socket that fails (reset, error) takes the other down after the same delay. One queue per
 * direction, drained by one timer: chunks due at the same moment keep their order (Node does not
 * promise that for timers of different durations).
 */
function pipeDelayed(from: net.Socket, to: () => net.Socket, delayMs: number, notBefore = 0): void {
  const queue: { due: number; act: () => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const drain = () => {
    timer = undefined;
    while (queue.length > 0 && (queue[0] as { due: number }).due <= performance.now()) (queue.shift() as { act: () => void }).act();
    if (queue.length > 0) timer = setTimeout(drain, Math.max(0, (queue[0] as { due: number }).due - performance.now()));
  };
  const later = (act: () => void) => {
    queue.push({ due: Math.max(performance.now() + delayMs, notBefore), act });
    if (timer === undefined) timer = setTimeout(drain, Math.max(0, (queue[0] as { due: number }).due - performance.now()));
  };
  from.on("data", (chunk: Buffer) => later(() => to().destroyed || to().write(chunk)));
  from.on("end", () => later(() => to().destroyed || to().end()));
  from.on("close", (hadError) => hadError && later(() => to().destroy()));
  from.on("error", () => undefined); // reported through "close"
}

export async function startLatencyProxy(options: LatencyProxyOptions): Promise<LatencyProxy> {
  const listenHost = options.listenHost ?? "127.0.0.1";
  if (!/^127\.\d+\.\d+\.\d+$/.test(listenHost))
    throw new Error(`latency proxy: listen on a loopback address (127.0.0.0/8), not ${listenHost}`);
  if (!(options.oneWayDelayMs >= 0 && options.oneWayDelayMs <= 10_000)) throw new Error("latency proxy: oneWayDelayMs must be 0–10000");
  const sockets = new Set<net.Socket>();
  const delay = options.oneWayDelayMs;
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
    // The TCP handshake: on a real path the client's connect() returns after SYN and SYN-ACK (2
    // one-way delays), its first data arrives one more later, and the server accepts with it (the
    // ACK). Here the kernel completes the client's connect at once, so the far end opens only 3
    // delays after it, and nothing the client sent meanwhile reaches the host sooner.
    const openAt = performance.now() + 3 * delay;
    let upstream: net.Socket | undefined;
    const track = (socket: net.Socket) => {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    };
    const openUpstream = () => {
      if (upstream) return upstream;
      upstream = net.connect({ ...options.target, allowHalfOpen: true });
      track(upstream);
      pipeDelayed(upstream, () => client, delay);
      // The client left before the far end opened: it never connects (as a SYN that got no answer).
      if (client.destroyed) upstream.destroy();
      return upstream;
    };
    track(client);
    pipeDelayed(client, openUpstream, delay, openAt);
    const opening = setTimeout(openUpstream, Math.max(0, openAt - performance.now()));
    client.on("close", () => clearTimeout(opening));
    client.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listenPort ?? 0, listenHost, () => resolve());
  });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      clearTimeout(lifetime);
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };
  const lifetime = setTimeout(() => void close(), options.lifetimeMs ?? 30 * 60_000);
  lifetime.unref();
  const address = server.address() as net.AddressInfo;
  return { host: listenHost, port: address.port, close };
}

/**
 * The RTT the proxy really adds, measured rather than assumed: `rounds` one-byte round trips
 * through it to a local echo server, the median minus the same without it; and the first round
 * trip of a new connection, connect() to the first byte back (on a real path: the handshake's
 * round trip plus the data's, so ≈ 2 RTT). Bounded: at most `rounds` (≤ 200) exchanges and 30 s.
 */
export async function measureAddedRtt(
  oneWayDelayMs: number,
  rounds = 20,
): Promise<{ medianMs: number; directMs: number; addedMs: number; firstExchangeAddedMs: number }> {
  if (rounds < 1 || rounds > 200) throw new Error("rounds: 1–200");
  const echo = net.createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", () => resolve()));
  const echoPort = (echo.address() as net.AddressInfo).port;
  const proxy = await startLatencyProxy({ target: { host: "127.0.0.1", port: echoPort }, oneWayDelayMs, lifetimeMs: 30_000 });
  try {
    const direct = await roundTrips("127.0.0.1", echoPort, rounds);
    const through = await roundTrips(proxy.host, proxy.port, rounds);
    return {
      medianMs: median(through.times),
      directMs: median(direct.times),
      addedMs: median(through.times) - median(direct.times),
      firstExchangeAddedMs: through.firstExchangeMs - direct.firstExchangeMs,
    };
  } finally {
    await proxy.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  }
}

/** One connection: connect() to the first byte echoed, then `rounds` one-byte round trips after it. */
async function roundTrips(host: string, port: number, rounds: number): Promise<{ firstExchangeMs: number; times: number[] }> {
  const connectedFrom = process.hrtime.bigint();
  const socket = net.connect({ host, port });
  socket.setNoDelay(true);
  const times: number[] = [];
  const deadline = Date.now() + 30_000;
  const exchange = () => {
    const back = new Promise<void>((resolve) => socket.once("data", () => resolve()));
    socket.write("x");
    return back;
  };
  try {
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    await exchange();
    const firstExchangeMs = Number(process.hrtime.bigint() - connectedFrom) / 1e6;
    for (let i = 0; i < rounds && Date.now() < deadline; i += 1) {
      const started = process.hrtime.bigint();
      await exchange();
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    return { firstExchangeMs, times };
  } finally {
    socket.destroy();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
