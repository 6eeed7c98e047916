/**
 * The server steps for accounts and files on a real Debian 12 host (fleet position 16): group,
 * user (with a password hash), authorizedKey, sudoers, blockInFile, absent. One playbook goes
 * through the whole cycle; then each step is tampered with in turn and the check must name
 * exactly that step. Results are checked with independent clients: getent/shadow on the host, a
 * real `ssh` login with the managed key, `sudo -l`, and Ansible's own blockinfile writing the block
 * our step then finds converged.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { hostExec, type TestHost } from "../hosts/harness.ts";
import type {} from "../hosts/global-setup.ts";
import { testFleet, testHost } from "./support/fleet.ts";
import { cycle, drifted, onHost, play } from "./support/steps-cycle.ts";
import { secret } from "../../src/shell/secret.ts";
import { absent, authorizedKey, blockInFile, group, sudoers, user } from "../../src/steps/index.ts";

const fleet = inject("fleet");
// Position 16 in the full suite; PROVISION_STEPS_SERVER_HOST runs this file alone on a small fleet.
const POSITION = Number(process.env.PROVISION_STEPS_SERVER_HOST ?? 16);

describe.skipIf(!fleet)("account and file steps on a real host", () => {
  let h: TestHost;
  let keyDir: string;
  let publicKey: string;
  // openssl passwd -6 -salt abc s3cret (made on the host; the test never needs the password itself).
  const HASH = "$6$abc$Qciy6P8ZI4.BUgLFaLq4ucJ/kaRX8v1UyAM81WBAsuW.zwYw31yCKomfTgHAlZwPGi/aFdo83BhJQPQYtp74M0";
  const CLEANUP =
    "userdel -r srvapp 2>/dev/null; groupdel srvops 2>/dev/null; rm -rf /etc/sudoers.d/srvapp /etc/srv-block.conf /srv/srv-gone /usr/local/sbin/chpasswd /root/.chpasswd-argv; true";

  const steps = () => [
    group({ name: "srvops", gid: 3911 }),
    user({ name: "srvapp", uid: 3901, groups: ["srvops", "adm"], shell: "/bin/sh", comment: "Server app", password: secret(HASH) }),
    authorizedKey({ user: "srvapp", key: publicKey, exclusive: true }),
    sudoers({ name: "srvapp", user: "srvapp", runAs: "root", nopassword: true, commands: ["/usr/bin/systemctl restart cron"] }),
    blockInFile({ path: "/etc/srv-block.conf", block: "alpha = 1\nbeta = 2\n", create: true }),
    absent({ path: "/srv/srv-gone" }),
  ];

  beforeAll(async () => {
    h = testHost(POSITION);
    await onHost(h, CLEANUP);
    keyDir = mkdtempSync(join(tmpdir(), "provision-steps-server-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "srvapp@controller", "-f", join(keyDir, "id")]);
    publicKey = readFileSync(join(keyDir, "id.pub"), "utf8");
  });
  afterAll(async () => {
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
    if (h) await onHost(h, CLEANUP);
  });

  function sshAs(login: string, command: string): string {
    const f = testFleet();
    return execFileSync(
      "ssh",
      [
        "-i",
        join(keyDir, "id"),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        `UserKnownHostsFile=${f.knownHostsPath}`,
        "-o",
        "ConnectTimeout=10",
        "-p",
        String(h.port),
        `${login}@${h.address}`,
        command,
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
  }

  it("the whole cycle; the results seen by getent, shadow, ssh and sudo", { timeout: 300_000 }, async () => {
    await onHost(h, "mkdir -p /srv/srv-gone/sub && touch /srv/srv-gone/sub/f");
    // The chpasswd the step runs is wrapped to record its argv: the hash must reach it on stdin only.
    await onHost(
      h,
      `printf '#!/bin/sh\\nprintf "%%s\\\\n" "$*" >> /root/.chpasswd-argv\\nexec /usr/sbin/chpasswd "$@"\\n' > /usr/local/sbin/chpasswd && chmod 755 /usr/local/sbin/chpasswd`,
    );
    const drift = await cycle(h, steps, "usermod -s /bin/bash srvapp");
    expect(drifted(drift)).toEqual(["user srvapp"]);
    expect(drift.steps[1]).toMatchObject({ status: "would-change", summary: "shell /bin/bash → /bin/sh" });

    expect((await onHost(h, "getent passwd srvapp")).trim()).toBe("srvapp:x:3901:3901:Server app:/home/srvapp:/bin/sh");
    expect((await onHost(h, "id -nG srvapp")).trim().split(" ").sort()).toEqual(["adm", "srvapp", "srvops"]);
    expect((await onHost(h, "getent group srvops")).trim()).toBe("srvops:x:3911:srvapp");
    expect((await onHost(h, "getent shadow srvapp | cut -d: -f2")).trim()).toBe(HASH);
    expect((await onHost(h, "cat /root/.chpasswd-argv")).trim()).toBe("-e");
    // A real login with the managed key, and sudo as the drop-in allows.
    expect(sshAs("srvapp", "id -un").trim()).toBe("srvapp");
    expect(sshAs("srvapp", "sudo -n -l /usr/bin/systemctl restart cron").trim()).toBe("/usr/bin/systemctl restart cron");
    expect(await onHost(h, "stat -c '%U %G %a' /etc/sudoers.d/srvapp /home/srvapp/.ssh /home/srvapp/.ssh/authorized_keys")).toBe(
      "root root 440\nsrvapp srvapp 700\nsrvapp srvapp 600\n",
    );
    expect(await onHost(h, "cat /etc/srv-block.conf")).toBe(
      "# BEGIN ANSIBLE MANAGED BLOCK\nalpha = 1\nbeta = 2\n# END ANSIBLE MANAGED BLOCK\n",
    );
    expect(await hostExecCode(h, "test -e /srv/srv-gone")).toBe(1);
  });

  it.each([
    [
      "the password hash",
      "printf 'srvapp:%s\\n' \"$(openssl passwd -6 -salt zz other)\" | chpasswd -e",
      "user srvapp",
      "password hash differs",
    ],
    ["the gid", "groupmod -g 3999 srvops", "group srvops", "gid 3999 → 3911"],
    [
      "a foreign key",
      `echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMUlZ3wNvYNTXz5FL2nAi1mMUC7X1wmesWaVPijOxS7l mallory' >> /home/srvapp/.ssh/authorized_keys`,
      "authorized key of srvapp: srvapp@controller",
      "remove 1 other key",
    ],
    ["the sudoers drop-in", "echo 'srvapp ALL=(ALL) NOPASSWD: ALL' >> /etc/sudoers.d/srvapp", "sudoers srvapp", "content"],
    [
      "the block",
      "sed -i 's/beta = 2/beta = 3/' /etc/srv-block.conf",
      "block in /etc/srv-block.conf: # BEGIN ANSIBLE MANAGED BLOCK",
      "content",
    ],
    ["the removed directory", "mkdir -p /srv/srv-gone", "absent /srv/srv-gone", "remove directory"],
  ])("tampering with %s is drift in exactly that step, fixed by apply", { timeout: 120_000 }, async (_what, tamper, name, summary) => {
    await onHost(h, tamper);
    const check = await play(h, "check", steps);
    expect(drifted(check.report)).toEqual([name]);
    expect(check.report.steps.find((s) => s.name === name)?.summary).toBe(summary);
    expect(JSON.stringify(check)).not.toContain(HASH);
    expect((await play(h, "apply", steps)).report.counts.changed).toBe(1);
    expect((await play(h, "check", steps)).report.status).toBe("ok");
  });

  it("a sudoers rule visudo rejects never replaces the drop-in", async () => {
    const before = await onHost(h, "cat /etc/sudoers.d/srvapp");
    const broken = () => [sudoers({ name: "srvapp", content: "srvapp ALL=(ALL NOPASSWD: ALL\n" })];
    const { report } = await play(h, "apply", broken);
    expect(report.steps[0]?.status).toBe("failed");
    expect(report.steps[0]?.error).toContain("validation failed");
    expect(await onHost(h, "cat /etc/sudoers.d/srvapp")).toBe(before);
    expect(await onHost(h, "ls -a /etc/sudoers.d")).not.toContain(".provision-");
  });

  it("hostile values are stored exactly (a comment, a block), never run", async () => {
    const comment = "x'; touch /tmp/pwned-user; echo '$(touch /tmp/pwned-user2)`id`";
    const block = "a = '$(touch /tmp/pwned-block)'\nb = `id` ; rm -rf /\n";
    const hostile = () => [user({ name: "srvapp", comment }), blockInFile({ path: "/etc/srv-block.conf", block })];
    expect((await play(h, "apply", hostile)).report.status).toBe("changed");
    expect((await onHost(h, "getent passwd srvapp")).split(":")[4]).toBe(comment);
    expect(await onHost(h, "cat /etc/srv-block.conf")).toBe(`# BEGIN ANSIBLE MANAGED BLOCK\n${block}# END ANSIBLE MANAGED BLOCK\n`);
    expect(await onHost(h, "ls /tmp")).not.toContain("pwned");
    expect((await play(h, "check", hostile)).report.status).toBe("ok");
    await play(h, "apply", steps);
  });

  it("a block Ansible's blockinfile wrote is recognised as ours (converged, then taken over)", { timeout: 120_000 }, async () => {
    const f = testFleet();
    await onHost(h, "rm -f /etc/srv-ansible.conf; printf 'keep = me\\n' > /etc/srv-ansible.conf");
    execFileSync(
      "ansible",
      [
        "all",
        "-i",
        `${h.address},`,
        "-u",
        "root",
        "--private-key",
        f.privateKeyPath,
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
        "-e",
        `ansible_port=${h.port}`,
        "-e",
        `ansible_ssh_common_args='-o UserKnownHostsFile=${f.knownHostsPath}'`,
        "-m",
        "blockinfile",
        "-a",
        'path=/etc/srv-ansible.conf block="alpha = 1\nbeta = 2"',
      ],
      { encoding: "utf8", timeout: 100_000, env: { ...process.env, ANSIBLE_HOST_KEY_CHECKING: "True", ANSIBLE_NOCOLOR: "1" } },
    );
    const ours = (block: string) => () => [blockInFile({ path: "/etc/srv-ansible.conf", block })];
    expect((await play(h, "check", ours("alpha = 1\nbeta = 2\n"))).report.status).toBe("ok");
    const change = await play(h, "check", ours("alpha = 9\n"));
    expect(change.report.steps[0]?.diff).toContain("-beta = 2");
    expect((await play(h, "apply", ours("alpha = 9\n"))).report.status).toBe("changed");
    expect(await onHost(h, "cat /etc/srv-ansible.conf")).toBe(
      "keep = me\n# BEGIN ANSIBLE MANAGED BLOCK\nalpha = 9\n# END ANSIBLE MANAGED BLOCK\n",
    );
    await onHost(h, "rm -f /etc/srv-ansible.conf");
  });

  it("state absent: user and group removed (userdel -r takes the home)", async () => {
    const gone = () => [user({ name: "srvapp", state: "absent", remove: true }), group({ name: "srvops", state: "absent" })];
    expect((await play(h, "apply", gone)).report.counts.changed).toBe(2);
    expect(await hostExecCode(h, "getent passwd srvapp")).toBe(2);
    expect(await hostExecCode(h, "test -d /home/srvapp")).toBe(1);
    expect((await play(h, "check", gone)).report.status).toBe("ok");
  });
});

async function hostExecCode(host: TestHost, command: string): Promise<number> {
  return (await hostExec(host, command)).exitCode;
}
