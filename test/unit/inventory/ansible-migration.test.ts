/**
 * Honest migration: every `ansible_*` var that provision does not honour is a warning naming it and
 * where it was set (file:line) — never a silent drop — and the common ones are honoured.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { addInventoryText, loadInventory } from "../../../src/inventory/load-inventory.ts";
import { InventoryBuilder } from "../../../src/inventory/inventory-builder.ts";
import { parseSshArgs } from "../../../src/inventory/ssh-args.ts";
import { isSecret } from "../../../src/shell/secret.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function ini(text: string, file = "inv/hosts.ini") {
  const builder = new InventoryBuilder(file);
  addInventoryText(builder, file, text);
  return builder.build();
}

describe("ansible_* vars provision does not honour", () => {
  it("warns once per var and place, naming file:line and the hosts", () => {
    const inventory = ini(
      [
        "[web]",
        "web1 ansible_python_interpreter=/usr/bin/python3",
        "web2 ansible_shell_type=csh",
        "web3",
        "[web:vars]",
        "ansible_become_flags=-H",
        "ansible_foo_bar=1",
        "http_port=80",
      ].join("\n"),
    );
    expect(inventory.warnings).toEqual([
      "inv/hosts.ini:6: ansible_become_flags is not honoured by provision (sudo and su get provision's own flags): ignored (hosts web1, web2, web3)",
      "inv/hosts.ini:7: ansible_foo_bar is not honoured by provision: ignored (hosts web1, web2, web3)",
      "inv/hosts.ini:2: ansible_python_interpreter is not honoured by provision (provision runs no Python on hosts): ignored (host web1)",
      "inv/hosts.ini:3: ansible_shell_type is not honoured by provision (commands always run under /bin/sh): ignored (host web2)",
    ]);
    // Still out of the playbook's vars.
    expect(inventory.hosts.get("web1")?.vars).toEqual({ http_port: 80 });
  });

  it("names the YAML line and the group_vars / host_vars file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "provision-migration-"));
    dirs.push(dir);
    writeFileSync(
      join(dir, "hosts.yml"),
      "all:\n  children:\n    db:\n      hosts:\n        db1:\n          ansible_ssh_pipelining: true\n",
    );
    mkdirSync(join(dir, "group_vars"));
    mkdirSync(join(dir, "host_vars"));
    writeFileSync(join(dir, "group_vars", "db.yml"), "pg_version: 15\nansible_ssh_executable: /usr/bin/ssh\n");
    writeFileSync(join(dir, "host_vars", "db1.yml"), "ansible_become_exe: /usr/local/bin/sudo\n");
    const inventory = await loadInventory(join(dir, "hosts.yml"));
    expect(inventory.warnings).toEqual([
      `${join(dir, "group_vars", "db.yml")}:2: ansible_ssh_executable is not honoured by provision (provision speaks SSH itself (no ssh binary is run)): ignored (host db1)`,
      `${join(dir, "hosts.yml")}:6: ansible_ssh_pipelining is not honoured by provision (commands always go over one kept connection): ignored (host db1)`,
      `${join(dir, "host_vars", "db1.yml")}:1: ansible_become_exe is not honoured by provision (the become program is always sudo or su from PATH): ignored (host db1)`,
    ]);
  });

  it("lists at most three hosts per warning", () => {
    const inventory = ini("[all:vars]\nansible_python_interpreter=auto\n[web]\nweb[1:5]\n");
    expect(inventory.warnings).toEqual([
      "inv/hosts.ini:2: ansible_python_interpreter is not honoured by provision (provision runs no Python on hosts): ignored (hosts web1, web2, web3 and 2 more)",
    ]);
  });
});

describe("ansible_* vars provision honours", () => {
  it("lifts become user, method and password, the SSH password and the connection", () => {
    const inventory = ini(
      [
        "db1 ansible_become=yes ansible_become_user=postgres ansible_become_method=su ansible_become_password='pg pass' ansible_password=ssh-pass",
        "here ansible_connection=local",
        "box ansible_connection=smart ansible_sudo_pass=old-style",
        "win ansible_connection=winrm",
      ].join("\n"),
    );
    const db1 = inventory.hosts.get("db1");
    expect(db1).toMatchObject({ become: true, becomeUser: "postgres", becomeMethod: "su" });
    expect(isSecret(db1?.becomePassword) && db1.becomePassword.reveal()).toBe("pg pass");
    expect(isSecret(db1?.password) && db1.password.reveal()).toBe("ssh-pass");
    expect(JSON.stringify(db1)).not.toContain("pg pass");
    expect(inventory.hosts.get("here")?.connection).toBe("local");
    expect(inventory.hosts.get("box")?.connection).toBe("ssh");
    expect(inventory.hosts.get("box")?.becomePassword?.reveal()).toBe("old-style");
    expect(inventory.hosts.get("win")?.connection).toBe("winrm"); // refused when connecting
    expect(inventory.warnings).toEqual([]);
  });

  it("maps ansible_ssh_common_args onto ProxyCommand, ProxyJump, port, user and keys; warns for the rest", () => {
    const inventory = ini(
      [
        `[web]`,
        `web1 ansible_ssh_common_args='-o ProxyCommand="nc -X connect %h %p" -o ControlMaster=auto -p 2222'`,
        `web2 ansible_ssh_extra_args="-J bastion@jump:22 -C -o StrictHostKeyChecking=no -l deploy -i ~/.ssh/web"`,
      ].join("\n"),
    );
    expect(inventory.hosts.get("web1")?.sshArgs).toEqual({ proxyCommand: "nc -X connect %h %p", port: 2222 });
    expect(inventory.hosts.get("web2")?.sshArgs).toEqual({
      proxyJump: "bastion@jump:22",
      acceptNewHostKeys: true,
      user: "deploy",
      identityFiles: ["~/.ssh/web"],
    });
    expect(inventory.warnings).toEqual([
      `inv/hosts.ini:2: ansible_ssh_common_args: "-o ControlMaster=auto" is not honoured by provision: ignored (host web1)`,
      `inv/hosts.ini:3: ansible_ssh_extra_args: "-C" is not honoured by provision: ignored (host web2)`,
    ]);
  });

  it("splits ssh args like a shell and keeps an option's argument with it", () => {
    expect(parseSshArgs(`-oProxyJump=a,b -o 'ServerAliveInterval 30' -F /dev/null extra`)).toEqual({
      args: { proxyJump: "a,b" },
      ignored: ["-o ServerAliveInterval 30", "-F /dev/null", "extra"],
    });
  });
});
