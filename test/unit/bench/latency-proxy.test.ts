/**
 * The benchmark's latency proxy (bench/latency-proxy.ts): data passes intact and in order both
 * ways, each direction is held for the set delay (lower bounds only: a loaded machine may add,
 * never remove), a new connection pays the TCP handshake (the host sees it 3 one-way delays after
 * the connect, with the first data), a half-close keeps the other direction's data, and the proxy
 * closes cleanly.
 */
import { randomBytes } from "node:crypto";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startLatencyProxy, type LatencyProxy } from "../../../bench/latency-proxy.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(onConnection: (socket: net.Socket) => void): Promise<number> {
  const s = net.createServer({ allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  cleanups.push(() => new Promise((resolve) => s.close(() => resolve())));
  return (s.address() as net.AddressInfo).port;
}

async function proxyTo(port: number, oneWayDelayMs: number): Promise<LatencyProxy> {
  const proxy = await startLatencyProxy({ target: { host: "127.0.0.1", port }, oneWayDelayMs, lifetimeMs: 20_000 });
  cleanups.push(() => proxy.close());
  return proxy;
}

function connect(proxy: LatencyProxy): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: proxy.host, port: proxy.port, allowHalfOpen: true }, () => resolve(socket));
    socket.once("error", reject);
  });
}

const collect = (socket: net.Socket) =>
  new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => resolve(Buffer.concat(chunks)));
  });

describe("latency proxy", () => {
  it("passes data intact and in order, both ways", async () => {
    const echoPort = await server((socket) => socket.pipe(socket));
    const client = await connect(await proxyTo(echoPort, 5));
    const payload = randomBytes(1 << 20);
    const back = collect(client);
    client.end(payload);
    expect((await back).equals(payload)).toBe(true);
  });

  it("holds each direction for the set delay", async () => {
    const delay = 60;
    let arrivedAt = 0;
    const port = await server((socket) => {
      socket.once("data", () => {
        arrivedAt = performance.now();
        socket.write("pong");
      });
      socket.on("end", () => socket.end());
    });
    const client = await connect(await proxyTo(port, delay));
    const sentAt = performance.now();
    const reply = new Promise<number>((resolve) => client.once("data", () => resolve(performance.now())));
    client.write("ping");
    const repliedAt = await reply;
    expect(arrivedAt - sentAt).toBeGreaterThanOrEqual(delay - 1); // timers may fire up to 1 ms early
    expect(repliedAt - arrivedAt).toBeGreaterThanOrEqual(delay - 1);
    client.end();
  });

  it("opens the far end only after the TCP handshake's round trip: the host sees the connection and the first data 3 delays after the connect", async () => {
    const delay = 40;
    let acceptedAt = 0;
    let firstDataAt = 0;
    const port = await server((socket) => {
      acceptedAt = performance.now();
      socket.once("data", () => {
        firstDataAt = performance.now();
        socket.write("pong");
      });
      socket.on("end", () => socket.end());
    });
    const proxy = await proxyTo(port, delay);
    const connectedFrom = performance.now();
    const client = await connect(proxy);
    // Sent at once, as a client that thinks it is connected does; a real path would not let it arrive sooner.
    const reply = new Promise<number>((resolve) => client.once("data", () => resolve(performance.now())));
    client.write("ping");
    client.write("pong"); // a second chunk due at the same moment: it must stay behind the first
    const repliedAt = await reply;
    expect(acceptedAt - connectedFrom).toBeGreaterThanOrEqual(3 * delay - 1);
    expect(firstDataAt - connectedFrom).toBeGreaterThanOrEqual(3 * delay - 1);
    expect(repliedAt - connectedFrom).toBeGreaterThanOrEqual(4 * delay - 2);
    client.end();
  });

  it("keeps chunks in order when the first ones wait for the handshake and later ones do not", async () => {
    const port = await server((socket) => socket.pipe(socket));
    const client = await connect(await proxyTo(port, 30));
    const back = collect(client);
    const parts: Buffer[] = [];
    for (let i = 0; i < 20; i += 1) {
      const part = Buffer.from(`${i},`);
      parts.push(part);
      client.write(part);
      await new Promise((resolve) => setTimeout(resolve, 7));
    }
    client.end();
    expect((await back).toString()).toBe(Buffer.concat(parts).toString());
  });

  it("keeps the reply after the client's end (half-close), then ends, and closes cleanly", async () => {
    const port = await server(async (socket) => {
      const request = await collect(socket); // the client's data, then its end
      socket.end(Buffer.concat([Buffer.from("got "), request]));
    });
    const proxy = await proxyTo(port, 20);
    const client = await connect(proxy);
    const reply = collect(client);
    client.end("request");
    expect((await reply).toString()).toBe("got request");
    await new Promise<void>((resolve) => (client.closed ? resolve() : client.once("close", () => resolve())));
    await proxy.close();
    await expect(connect(proxy)).rejects.toThrow(/ECONNREFUSED/);
  });

  it("listens on loopback only", async () => {
    await expect(startLatencyProxy({ target: { host: "127.0.0.1", port: 1 }, oneWayDelayMs: 1, listenHost: "0.0.0.0" })).rejects.toThrow(
      /loopback/,
    );
  });
});
