/**
 * Development stand-in for the test-host fleet (test/hosts/global-setup.ts), for working on the
 * SSH transport without network namespaces: one OpenSSH sshd on 127.0.0.1, listening on two ports
 * (two "hosts", enough for ProxyJump), with its own host key, a throwaway client key and a
 * known_hosts file, all in a temp dir removed at teardown. It provides the same `fleet` shape.
 *
 * Needs root, /usr/sbin/sshd, sudo, and local users `deploy` (NOPASSWD sudo) and `deploy2` (sudo
 * with password "test-sudo-pass") — the same users the real test hosts have.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import type { TestFleetData, TestHost } from "./hosts/harness.ts";
import { check } from "./hosts/run.ts";

const PORTS = [Number(process.env.PROVISION_SSH_DEV_PORT ?? 2222), Number(process.env.PROVISION_SSH_DEV_PORT ?? 2222) + 1];

function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = net.connect({ host: "127.0.0.1", port });
      socket.once("data", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on 127.0.0.1:${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!existsSync("/usr/sbin/sshd")) throw new Error("ssh dev fleet: /usr/sbin/sshd missing (apt-get install -y openssh-server)");
  const dir = mkdtempSync(path.join(os.tmpdir(), "provision-sshd-"));
  chmodSync(dir, 0o755);
  const hostKey = path.join(dir, "ssh_host_ed25519_key");
  const clientKey = path.join(dir, "client_ed25519");
  await check("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "root@ssh-dev", "-f", hostKey]);
  await check("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "provision-ssh-dev", "-f", clientKey]);
  const publicKey = readFileSync(`${clientKey}.pub`, "utf8").trim();
  const authorized = path.join(dir, "authorized_keys");
  writeFileSync(authorized, `${publicKey}\n`, { mode: 0o644 });
  const hostPub = readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/);
  const hosts: TestHost[] = PORTS.map((port, i) => ({
    name: `dev${i + 1}`,
    address: "127.0.0.1",
    port,
    hostKeyLine: `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}`,
  }));
  const knownHostsPath = path.join(dir, "known_hosts");
  writeFileSync(knownHostsPath, hosts.map((h) => h.hostKeyLine).join("\n") + "\n", { mode: 0o600 });
  const config = path.join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      ...PORTS.map((port) => `ListenAddress 127.0.0.1:${port}`),
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "AllowTcpForwarding yes",
      `PidFile ${path.join(dir, "sshd.pid")}`,
      "",
    ].join("\n"),
  );
  mkdirSync("/run/sshd", { recursive: true });
  const sshd: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
  const log: Buffer[] = [];
  sshd.stderr?.on("data", (chunk: Buffer) => log.push(chunk));
  try {
    for (const port of PORTS) await waitForPort(port, 10_000);
  } catch (error) {
    sshd.kill("SIGKILL");
    throw new Error(`${(error as Error).message}\n${Buffer.concat(log).toString()}`);
  }
  const fleet: TestFleetData = { hosts, privateKeyPath: clientKey, publicKey, knownHostsPath, gateway: "127.0.0.1" };
  project.provide("fleet", fleet);
  project.provide("spareHost", null);
  return async () => {
    const exited = new Promise<void>((resolve) => {
      if (sshd.exitCode !== null || sshd.signalCode !== null) resolve();
      else sshd.once("exit", () => resolve());
    });
    sshd.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
    if (sshd.exitCode === null && sshd.signalCode === null) sshd.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
}
