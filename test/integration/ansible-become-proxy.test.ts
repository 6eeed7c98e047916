/**
 * What an Ansible inventory asks of the connection, on a real test host (position 15):
 * - become_method su (the target user's password on stdin; su reads it without a tty — measured),
 *   become_user with sudo and su;
 * - ProxyCommand (`ssh -W %h:%p`, OpenSSH's own client as the proxy), its process killed when the
 *   connection ends.
 * The host is left as found: root's password entry and the extra user are restored/removed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostExec } from "../hosts/harness.ts";
import { secret } from "../../src/shell/secret.ts";
import { connectSsh } from "../../src/transport/ssh/index.ts";
import { TransportError } from "../../src/transport/transport.ts";
import { connectAs, devFleet, fleet, host, SUDO_PASSWORD } from "./ssh-support.ts";
import { provisionCli, REPO, fleetSshArgs } from "./support/cli.ts";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";

const POSITION = 15;
const ROOT_PASSWORD = "su-root-pass-7f3";
const OTHER_USER = "pgtest";
const OTHER_PASSWORD = "su-pgtest-pass-2d9";
const tmp = mkdtempSync(path.join(os.tmpdir(), "provision-become-"));

describe.skipIf(!fleet || devFleet || (fleet?.hosts.length ?? 0) <= POSITION)("Ansible become and ProxyCommand on a real host", () => {
  let savedRootHash = "";

  beforeAll(async () => {
    const target = host(POSITION);
    savedRootHash = (await hostExec(target, "getent shadow root | cut -d: -f2")).stdout.trim();
    // printf is a shell builtin: the password is in no process's argv on the host.
    const set = await hostExec(
      target,
      `(id ${OTHER_USER} >/dev/null 2>&1 || useradd -m -s /bin/bash ${OTHER_USER}) && printf 'root:%s\\n${OTHER_USER}:%s\\n' '${ROOT_PASSWORD}' '${OTHER_PASSWORD}' | chpasswd`,
    );
    expect(set.exitCode, set.stderr).toBe(0);
  });

  afterAll(async () => {
    rmSync(tmp, { recursive: true, force: true });
    if (!fleet || devFleet || fleet.hosts.length <= POSITION) return;
    const target = host(POSITION);
    await hostExec(target, `usermod -p '${savedRootHash.replace(/'/g, "")}' root; userdel -r ${OTHER_USER} 2>/dev/null; true`);
  });

  it("su as root with root's password: runs as root, stdin intact, password in no argv", async () => {
    const t = await connectAs(host(POSITION), "deploy", { become: { method: "su", password: secret(ROOT_PASSWORD) } });
    try {
      expect(t.wireCommand("id -un")).not.toContain(ROOT_PASSWORD);
      const id = await t.exec("id -un");
      expect(id.stdout.toString()).toBe("root\n");
      expect(id.stderr.toString()).toBe(""); // su's "Password: " prompt is stripped
      const data = Buffer.concat([Buffer.from("first\nsecond\n"), randomBytes(32 * 1024)]);
      const echoed = await t.exec("cat", { stdin: data });
      expect(echoed.exitCode).toBe(0);
      expect(echoed.stdout.equals(data)).toBe(true);
      const ps = await t.exec("ps -eo args");
      expect(ps.stdout.toString()).not.toContain(ROOT_PASSWORD);
    } finally {
      await t.close();
    }
  });

  it("su with a wrong password: a clear error naming su and the target user", async () => {
    const t = await connectAs(host(POSITION), "deploy", { become: { method: "su", password: secret("not-roots-password") } });
    try {
      const error = await t.exec("id -un").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TransportError);
      expect((error as TransportError).message).toMatch(/su from deploy to root refused the password/);
    } finally {
      await t.close();
    }
  });

  it("su without a password from a non-root login is refused before connecting", async () => {
    await expect(connectAs(host(POSITION), "deploy", { become: { method: "su" } })).rejects.toThrow(
      /become method su as deploy needs root's password/,
    );
  });

  it("become_user: sudo -u (NOPASSWD and with a password), and su from root (no password asked, none leaked)", async () => {
    const nopasswd = await connectAs(host(POSITION), "deploy", { become: { method: "sudo", user: OTHER_USER } });
    const withPassword = await connectAs(host(POSITION), "deploy2", {
      become: { method: "sudo", user: OTHER_USER, password: secret(SUDO_PASSWORD) },
    });
    const fromRoot = await connectAs(host(POSITION), "root", {
      become: { method: "su", user: OTHER_USER, password: secret(ROOT_PASSWORD) },
    });
    const rootSudo = await connectAs(host(POSITION), "root", { become: { method: "sudo", user: OTHER_USER } });
    try {
      for (const t of [nopasswd, withPassword, fromRoot, rootSudo]) {
        expect(t.becomes).toBe(true);
        const out = await t.exec("id -un; cat", { stdin: "line one\n" });
        expect(out.exitCode, out.stderr.toString()).toBe(0);
        expect(out.stdout.toString()).toBe(`${OTHER_USER}\nline one\n`);
      }
    } finally {
      await Promise.all([nopasswd.close(), withPassword.close(), fromRoot.close(), rootSudo.close()]);
    }
  });

  it("ProxyCommand ssh -W %h:%p: connects through it, and the proxy process ends with the connection", async () => {
    const target = host(POSITION);
    const f = fleet!;
    const pidFile = path.join(tmp, "proxy.pid");
    const config = path.join(tmp, "ssh_config");
    // The proxy records its pid, runs OpenSSH's client forwarding stdio, then stays (exec sleep
    // keeps the pid): a proxy that does not exit on its own must still end with the connection.
    writeFileSync(
      config,
      `Host via-proxy
  HostName ${target.address}
  Port ${target.port}
  User root
  IdentityFile ${f.privateKeyPath}
  UserKnownHostsFile ${f.knownHostsPath}
  ProxyCommand sh -c 'echo $$ > ${pidFile}; ssh -o BatchMode=yes -o UserKnownHostsFile=${f.knownHostsPath} -i ${f.privateKeyPath} -W %h:%p root@%h; exec sleep 120'
  ServerAliveInterval 30
`,
    );
    const warnings: string[] = [];
    const t = await connectSsh({ host: "via-proxy", sshConfigPath: config, agent: false, warn: (m) => warnings.push(m) });
    try {
      expect(t.target.proxyCommand).toContain(`-W ${target.address}:${target.port} root@${target.address}`);
      const out = await t.exec("cat /etc/hostname; echo $SSH_CLIENT");
      expect(out.exitCode).toBe(0);
      // Through `ssh -W`, the host sees the session coming from itself (the forwarding sshd), not the bridge gateway.
      expect(out.stdout.toString()).toMatch(new RegExp(`\\n(127\\.0\\.0\\.1|::1|${target.address.replace(/\./g, "\\.")}) `));
      expect(warnings).toEqual([`${config}:8: ServerAliveInterval is not honoured by provision: ignored (host via-proxy)`]);
    } finally {
      await t.close();
    }
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    expect(pid).toBeGreaterThan(1);
    // Bounded wait for the proxy to be gone (killed on close): 50 × 100 ms.
    let alive = true;
    for (let i = 0; i < 50 && alive; i += 1) {
      alive = existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
      if (alive) await new Promise((r) => setTimeout(r, 100));
    }
    expect(alive).toBe(false);
  });

  it("a ProxyCommand that fails: the error names the host and carries the command's stderr", async () => {
    const t = connectSsh({
      host: host(POSITION).address,
      user: "root",
      identityFiles: [fleet!.privateKeyPath],
      knownHostsFiles: [fleet!.knownHostsPath],
      sshConfigPath: false,
      agent: false,
      proxyCommand: "sh -c 'echo proxy says no >&2; exit 3'",
    });
    const error = await t.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).message).toMatch(/proxy says no/);
    // Noticed when the command exits, not after the handshake timeout.
    expect((error as TransportError).kind).toBe("connect");
  });

  it("provision run on an Ansible inventory: ProxyCommand from ansible_ssh_common_args, su to become_user with a vaulted password", async () => {
    const target = host(POSITION);
    const f = fleet!;
    const proof = `/tmp/provision-become-proof-${randomBytes(4).toString("hex")}`;
    const inv = path.join(tmp, "inv");
    mkdirSync(path.join(inv, "host_vars"), { recursive: true });
    writeFileSync(
      path.join(tmp, "site.ts"),
      `import { definePlaybook, file, z } from ${JSON.stringify(path.join(REPO, "src/index.ts"))};
export default definePlaybook({ name: "proof", vars: z.object({ proof: z.string() }), steps: ({ vars }) => [file({ path: vars.proof, content: "made by su\\n", mode: "0644" })] });
`,
    );
    // The proxy leaves a mark, so the test knows the connection went through it.
    const marker = path.join(tmp, "proxy-used");
    const script = path.join(tmp, "proxy.sh");
    writeFileSync(
      script,
      `#!/bin/sh\necho "$1 $2" > ${marker}\nexec ssh -o BatchMode=yes -o UserKnownHostsFile=${f.knownHostsPath} -i ${f.privateKeyPath} -W "$1:$2" "root@$1"\n`,
      { mode: 0o755 },
    );
    const proxy = `${script} %h %p`;
    writeFileSync(
      path.join(inv, "hosts.ini"),
      `[db]\ndb1 ansible_host=${target.address} ansible_user=deploy ansible_become=yes ansible_become_method=su ansible_become_user=${OTHER_USER} ansible_ssh_common_args='-o ProxyCommand="${proxy}" -o ControlMaster=auto' proof=${proof}\n`,
    );
    writeFileSync(path.join(inv, "host_vars", "db1.yml"), `ansible_become_password: ${OTHER_PASSWORD}\n`);
    writeFileSync(path.join(tmp, "vault-pass"), "integration-vault-pass\n");
    execFileSync(
      "/usr/bin/ansible-vault",
      ["encrypt", "--vault-password-file", path.join(tmp, "vault-pass"), path.join(inv, "host_vars", "db1.yml")],
      { stdio: "pipe" },
    );

    const run = await provisionCli([
      "run",
      path.join(tmp, "site.ts"),
      "-i",
      path.join(inv, "hosts.ini"),
      "--group",
      "db",
      ...fleetSshArgs(),
      "--vault-password-file",
      path.join(tmp, "vault-pass"),
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stderr).toContain(
      `${path.join(inv, "hosts.ini")}:2: ansible_ssh_common_args: "-o ControlMaster=auto" is not honoured by provision: ignored (host db1)`,
    );
    expect(readFileSync(marker, "utf8")).toBe(`${target.address} ${target.port}\n`);
    const owner = await hostExec(target, `stat -c %U ${proof} && cat ${proof}; rm -f ${proof}`);
    expect(owner.stdout).toBe(`${OTHER_USER}\nmade by su\n`);
  });
});
