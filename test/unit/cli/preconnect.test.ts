/**
 * Pre-connection (bin/preconnect.js, src/transport/ssh/preconnected.ts): a run leaves the endpoints
 * its direct connections reached; the next run with the same host selection opens TCP to them
 * before the engine loads, and the SSH connection to exactly that endpoint runs over that socket.
 * A socket to another endpoint is never used (nor written to), one that fails is replaced by a
 * fresh connection, and the hint's key holds no argument but those that select hosts.
 * Checked against ssh2's own server on 127.0.0.1, behind a proxy that counts TCP connections.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { selectionOf, startPreconnect } from "../../../bin/preconnect.js";
import { connectSsh } from "../../../src/transport/ssh/ssh-transport.ts";
import { startLoopbackSshd, type LoopbackSshd } from "../transport/ssh/support/loopback-sshd.ts";

const REGISTRY = Symbol.for("provision.preconnect");
const registryHolder = globalThis as Record<symbol, unknown>;

interface Counter {
  port: number;
  connections: number;
  bytesIn: number[];
  stop(): Promise<void>;
}

/** A TCP proxy to `port` that counts the connections it accepts and the bytes each one sent. */
async function countingProxy(port: number, options: { closeAfterFirstBytes?: boolean } = {}): Promise<Counter> {
  const counter = { connections: 0, bytesIn: [] as number[] };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const index = counter.connections++;
    counter.bytesIn[index] = 0;
    sockets.add(client);
    if (options.closeAfterFirstBytes) {
      // A host that dropped the idle connection: it goes away once the client starts talking.
      client.once("data", () => client.destroy());
      return;
    }
    const upstream = net.connect({ host: "127.0.0.1", port });
    sockets.add(upstream);
    client.on("data", (chunk: Buffer) => {
      counter.bytesIn[index] = (counter.bytesIn[index] ?? 0) + chunk.length;
    });
    client.pipe(upstream).pipe(client);
    for (const socket of [client, upstream]) socket.on("error", () => undefined);
    client.on("close", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(counter, {
    port: (server.address() as AddressInfo).port,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

let sshd: LoopbackSshd;
let dir: string;
const previous = { cache: process.env.PROVISION_CACHE_DIR, off: process.env.PROVISION_PRECONNECT };

beforeAll(async () => {
  sshd = await startLoopbackSshd();
  dir = await mkdtemp(join(tmpdir(), "provision-preconnect-"));
  process.env.PROVISION_CACHE_DIR = join(dir, "cache");
  delete process.env.PROVISION_PRECONNECT;
});

afterEach(() => {
  delete registryHolder[REGISTRY];
});

afterAll(async () => {
  await sshd.stop();
  await rm(dir, { recursive: true, force: true });
  for (const [name, value] of [
    ["PROVISION_CACHE_DIR", previous.cache],
    ["PROVISION_PRECONNECT", previous.off],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** connectSsh's options for the loopback server reached through `port` (its known_hosts entry rewritten for that port). */
async function through(port: number) {
  const knownHostsFile = join(dir, `known_hosts-${port}`);
  const line = (await readFile(sshd.knownHostsFile, "utf8")).replace(/^\[127\.0\.0\.1\]:\d+/, `[127.0.0.1]:${port}`);
  await writeFile(knownHostsFile, line);
  return { ...sshd.client(), port, knownHostsFiles: [knownHostsFile] };
}

async function connectAndRun(port: number) {
  const transport = await connectSsh(await through(port));
  try {
    return await transport.exec("true");
  } finally {
    await transport.close();
  }
}

describe("the hint's key", () => {
  it("is made of the verb, the playbook and the host-selecting options only: never --var or a command", () => {
    const argv = ["run", "site.ts", "--host", "a", "--var", "pw=Secret-1", "-i", "inv.ini", "--limit=web", "--check", "--", "--host", "x"];
    expect(selectionOf(argv)).toEqual(["run", "playbook=site.ts", "--host=a", "-i=inv.ini", "--limit=web"]);
    expect(selectionOf(["exec", "--host", "a", "cat", "/etc/shadow"]).join(" ")).not.toContain("shadow");
  });
});

describe("a run with the same selection as the last one", () => {
  it("connects over the socket opened before the engine loaded: one TCP connection, not two", async () => {
    const proxy = await countingProxy(sshd.port);
    try {
      const argv = ["run", "pb.ts", "--host", `127.0.0.1:${proxy.port}`];
      const first = startPreconnect(argv);
      expect(first?.opened).toBe(0);
      registryHolder[REGISTRY] = first;
      expect((await connectAndRun(proxy.port)).exitCode).toBe(0);
      first?.save();
      const hints = await readdir(join(dir, "cache", "endpoints"));
      expect(hints).toHaveLength(1);
      expect(await readFile(join(dir, "cache", "endpoints", hints[0] as string), "utf8")).toContain(`"127.0.0.1:${proxy.port}"`);
      expect(proxy.connections).toBe(1);

      const second = startPreconnect(argv);
      expect(second?.opened).toBe(1);
      registryHolder[REGISTRY] = second;
      expect((await connectAndRun(proxy.port)).exitCode).toBe(0);
      second?.close();
      // The pre-connection was the connection: no second TCP connection was made for it.
      expect(proxy.connections).toBe(2);
      expect(proxy.bytesIn[1]).toBeGreaterThan(0);
    } finally {
      await proxy.stop();
    }
  });

  it("leaves a socket to another endpoint unused, without a byte sent on it, and connects afresh", async () => {
    const elsewhere = await countingProxy(sshd.port);
    const target = await countingProxy(sshd.port);
    try {
      const argv = ["run", "pb.ts", "--host", "moved"];
      const before = startPreconnect(argv);
      before?.record("127.0.0.1", elsewhere.port);
      before?.save();
      const registry = startPreconnect(argv);
      expect(registry?.opened).toBe(1);
      registryHolder[REGISTRY] = registry;
      expect((await connectAndRun(target.port)).exitCode).toBe(0);
      registry?.close();
      expect(target.connections).toBe(1);
      expect(elsewhere.connections).toBe(1);
      expect(elsewhere.bytesIn[0]).toBe(0);
    } finally {
      await elsewhere.stop();
      await target.stop();
    }
  });

  it("replaces a pre-connection the host dropped with a fresh connection", async () => {
    const dropping = await countingProxy(sshd.port, { closeAfterFirstBytes: true });
    const target = await countingProxy(sshd.port);
    try {
      const stale = net.connect({ host: "127.0.0.1", port: dropping.port });
      await new Promise<void>((resolve) => stale.once("connect", () => resolve()));
      let taken = 0;
      registryHolder[REGISTRY] = {
        take: () => (taken++ === 0 ? stale : undefined),
        record: () => undefined,
        setLimit: () => undefined,
      };
      expect((await connectAndRun(target.port)).exitCode).toBe(0);
      expect(taken).toBe(1);
      expect(dropping.connections).toBe(1);
      expect(target.connections).toBe(1);
    } finally {
      await dropping.stop();
      await target.stop();
    }
  });

  it("is off with PROVISION_PRECONNECT=off, and for verbs that reach no host", () => {
    process.env.PROVISION_PRECONNECT = "off";
    try {
      expect(startPreconnect(["run", "pb.ts", "--host", "a"])).toBeUndefined();
    } finally {
      delete process.env.PROVISION_PRECONNECT;
    }
    expect(startPreconnect(["inventory", "-i", "inv.ini"])).toBeUndefined();
  });
});
