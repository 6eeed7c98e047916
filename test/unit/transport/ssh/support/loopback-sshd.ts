/**
 * ssh2's own SSH server on 127.0.0.1 for transport unit tests: accepts one generated ed25519 client
 * key, runs no command (exec requests are answered with exit 0), and records what each connection
 * asked for, in order. `delayToClientMs` puts a one-way delay on what the server sends (a distance).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import type { SshOptions } from "../../../../../src/transport/ssh/ssh-transport.ts";

export interface LoopbackSshd {
  port: number;
  identityFile: string;
  knownHostsFile: string;
  /**
   * Per connection, what the server saw: "handshake", "auth <method>" ("auth publickey" for a signed
   * request, whose signature the server checks; "auth publickey (query)" for the question without
   * one), "ready", "exec", "close".
   */
  seen: string[][];
  /** When (performance.now()) the server saw each of `seen`'s events, per connection. */
  seenAt: number[][];
  /** connectSsh's options for this server: its address, the client key, its known_hosts, no config or agent. */
  client(): Pick<SshOptions, "host" | "port" | "user" | "identityFiles" | "knownHostsFiles" | "sshConfigPath" | "agent">;
  stop(): Promise<void>;
}

export async function startLoopbackSshd(
  options: { delayToClientMs?: number; clientKeyType?: "ed25519" | "rsa" } = {},
): Promise<LoopbackSshd> {
  const dir = await mkdtemp(join(tmpdir(), "provision-loopback-sshd-"));
  const hostKey = ssh2.utils.generateKeyPairSync("ed25519");
  const clientKey =
    options.clientKeyType === "rsa" ? ssh2.utils.generateKeyPairSync("rsa", { bits: 2048 }) : ssh2.utils.generateKeyPairSync("ed25519");
  const identityFile = join(dir, "id");
  await writeFile(identityFile, clientKey.private, { mode: 0o600 });
  const seen: string[][] = [];
  const seenAt: number[][] = [];
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    const events: string[] = [];
    const times: number[] = [];
    seen.push(events);
    seenAt.push(times);
    const record = (event: string) => {
      events.push(event);
      times.push(performance.now());
    };
    client.on("handshake", () => record("handshake"));
    client.on("authentication", (ctx) => {
      if (ctx.method !== "publickey") {
        record(`auth ${ctx.method}`);
        return ctx.reject(["publickey"]);
      }
      if (!ctx.signature || !ctx.blob) {
        record("auth publickey (query)");
        return ctx.accept();
      }
      record("auth publickey");
      const accepted = ssh2.utils.parseKey(clientKey.public);
      const valid = !(accepted instanceof Error) && accepted.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
      return valid ? ctx.accept() : ctx.reject(["publickey"]);
    });
    client.on("ready", () => {
      record("ready");
      client.on("session", (accept) => {
        accept().on("exec", (acceptExec) => {
          record("exec");
          const stream = acceptExec();
          stream.exit(0);
          stream.end();
        });
      });
    });
    client.on("error", () => undefined);
    client.on("close", () => record("close"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  let port = (server.address() as AddressInfo).port;
  let delay: net.Server | undefined;
  const delayMs = options.delayToClientMs ?? 0;
  if (delayMs > 0) {
    const sshdPort = port;
    delay = net.createServer({ allowHalfOpen: true }, (client) => {
      const upstream = net.connect({ port: sshdPort, host: "127.0.0.1", allowHalfOpen: true });
      client.on("data", (chunk) => upstream.write(chunk));
      client.on("end", () => upstream.end());
      upstream.on("data", (chunk) => setTimeout(() => client.destroyed || client.write(chunk), delayMs));
      upstream.on("end", () => setTimeout(() => client.destroyed || client.end(), delayMs));
      for (const socket of [client, upstream]) socket.on("error", () => undefined);
      client.on("close", () => upstream.destroy());
    });
    await new Promise<void>((resolve) => delay?.listen(0, "127.0.0.1", resolve));
    port = (delay.address() as AddressInfo).port;
  }
  const knownHostsFile = join(dir, "known_hosts");
  await writeFile(knownHostsFile, `[127.0.0.1]:${port} ${hostKey.public}\n`);
  return {
    port,
    identityFile,
    knownHostsFile,
    seen,
    seenAt,
    client: () => ({
      host: "127.0.0.1",
      port,
      user: "tester",
      identityFiles: [identityFile],
      knownHostsFiles: [knownHostsFile],
      sshConfigPath: false,
      agent: false,
    }),
    async stop() {
      await new Promise<void>((resolve) => (delay ?? server).close(() => resolve()));
      if (delay) await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
