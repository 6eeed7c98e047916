/**
 * ProxyJump through one test host to another, from an ssh config file the test writes: both hops
 * resolved through the config, both host keys verified against the fleet's known_hosts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connectSsh } from "../../src/transport/ssh/index.ts";
import { TransportError } from "../../src/transport/transport.ts";
import { fleet, host } from "./ssh-support.ts";

const tmp = mkdtempSync(path.join(os.tmpdir(), "provision-jump-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!fleet || fleet.hosts.length < 2)("ssh transport: ProxyJump", () => {
  function writeConfig(name: string, knownHosts: string): string {
    const jump = host(0);
    const target = host(1);
    const file = path.join(tmp, name);
    writeFileSync(
      file,
      `Host jumpbox
  HostName ${jump.address}
  Port ${jump.port}

Host target
  HostName ${target.address}
  Port ${target.port}
  ProxyJump jumpbox

Host *
  User root
  IdentityFile ${fleet!.privateKeyPath}
  UserKnownHostsFile ${knownHosts}
`,
    );
    return file;
  }

  it("reaches the target through the jump host", async () => {
    const sshConfigPath = writeConfig("config", fleet!.knownHostsPath);
    const started = Date.now();
    const t = await connectSsh({ host: "target", sshConfigPath, agent: false });
    const connectMs = Date.now() - started;
    try {
      expect(t.target.proxyJump).toEqual([{ host: "jumpbox" }]);
      expect(t.target.hostname).toBe(host(1).address);
      // The target sees the connection coming from the jump host.
      const seen = await t.exec("echo $SSH_CONNECTION");
      const [clientIp, , serverIp, serverPort] = seen.stdout.toString().trim().split(" ");
      expect(serverIp).toBe(host(1).address);
      expect(Number(serverPort)).toBe(host(1).port);
      if (host(0).address !== host(1).address) expect(clientIp).toBe(host(0).address);
      const big = Buffer.alloc(2 * 1024 * 1024, 0xab);
      expect((await t.exec("cat", { stdin: big })).stdout.equals(big)).toBe(true);
      expect(connectMs).toBeLessThan(15_000);
    } finally {
      await t.close();
    }
  });

  it("verifies the jump host's key too", async () => {
    const knownHosts = path.join(tmp, "only_target_known");
    writeFileSync(knownHosts, `${host(1).hostKeyLine}\n`);
    const sshConfigPath = writeConfig("config-unknown-jump", knownHosts);
    const error = await connectSsh({ host: "target", sshConfigPath, agent: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).kind).toBe("host-key");
    expect((error as TransportError).host).toBe("target");
    expect((error as TransportError).message).toContain("jump host jumpbox");
  });
});
