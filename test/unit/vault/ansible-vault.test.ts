/**
 * Ansible Vault content written by the real `ansible-vault` (Debian's ansible-core; CI installs
 * it) is read: whole files (1.1) and inline `encrypt_string` values (1.1 and 1.2 with a vault id),
 * in an INI inventory's group_vars and host_vars, an inventory encrypted whole, and a YAML
 * inventory. A wrong password and altered text are refused with an error naming the file.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadInventory } from "../../../src/inventory/load-inventory.ts";
import { isSecret } from "../../../src/shell/secret.ts";
import { mask } from "../../../src/shell/mask.ts";
import { loadVaultKeyring, VaultKeyring } from "../../../src/vault/index.ts";

const ANSIBLE_VAULT = "/usr/bin/ansible-vault";
let dir: string;

function vault(args: string[], input?: string): string {
  return execFileSync(ANSIBLE_VAULT, args, { cwd: dir, encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

function write(path: string, text: string): string {
  const full = join(dir, path);
  mkdirSync(join(full, ".."), { recursive: true });
  writeFileSync(full, text);
  return full;
}

function reveal(value: unknown): string {
  if (!isSecret(value)) throw new Error(`expected a Secret, got ${JSON.stringify(value)}`);
  return value.reveal();
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "provision-vault-"));
  write("pw-default", "correct horse battery staple\n");
  write("pw-prod", "  prod-pass  \n"); // Ansible strips the white space around a file's password
  write("pw-wrong", "not the password\n");

  // group_vars/all/vault.yml: encrypted whole (format 1.1).
  write("inv/hosts.ini", "[db]\ndb1 ansible_host=10.0.0.5\n[web]\nweb1\n");
  write("inv/group_vars/all/vault.yml", "vault_db_password: s3cret-all\nvault_api_token: tok\nvault_port: 5432\n");
  vault(["encrypt", "--vault-password-file", "pw-default", "inv/group_vars/all/vault.yml"]);
  // host_vars/db1.yml: plain, with inline values — one default (1.1), one with vault id prod (1.2),
  // one multi-line (a key).
  const inline = vault(["encrypt_string", "--vault-password-file", "pw-default", "--name", "db_password", "db1-pass"]);
  const labelled = vault(["encrypt_string", "--vault-id", "prod@pw-prod", "--name", "ansible_become_password", "sudo-pass"]);
  const multi = vault(
    ["encrypt_string", "--vault-password-file", "pw-default", "--stdin-name", "tls_key"],
    "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n",
  );
  write("inv/host_vars/db1.yml", `plain: visible\n${inline}\n${labelled}\n${multi}\n`);
}, 30_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Ansible Vault written by ansible-vault", () => {
  it("decrypts a vaulted group_vars file and inline values; every decrypted string is a Secret", async () => {
    const keyring = await loadVaultKeyring({
      passwordFiles: [join(dir, "pw-default")],
      vaultIds: [`prod@${join(dir, "pw-prod")}`],
      env: {},
    });
    const inventory = await loadInventory(join(dir, "inv/hosts.ini"), { vault: keyring });
    const db1 = inventory.hosts.get("db1");
    const web1 = inventory.hosts.get("web1");
    expect(reveal(web1?.vars.vault_db_password)).toBe("s3cret-all");
    expect(reveal(db1?.vars.vault_api_token)).toBe("tok");
    expect(db1?.vars.vault_port).toBe(5432); // a number stays a number (only strings are secrets)
    expect(db1?.vars.plain).toBe("visible");
    expect(reveal(db1?.vars.db_password)).toBe("db1-pass");
    expect(reveal(db1?.vars.tls_key)).toBe("-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n");
    // masked wherever it is printed
    expect(JSON.stringify(db1?.vars)).not.toContain("db1-pass");
    expect(mask("password is s3cret-all")).toBe("password is ***");
  });

  it("tries the password of the matching vault id first, then the others", async () => {
    // The 1.2 value's label is prod; with only the default password, it cannot be read.
    const onlyDefault = await loadVaultKeyring({ passwordFiles: [join(dir, "pw-default")], env: {} });
    await expect(loadInventory(join(dir, "inv/hosts.ini"), { vault: onlyDefault })).rejects.toThrow(
      /host_vars\/db1\.yml:\d+: cannot decrypt vault id prod: wrong vault password, or the text was altered/,
    );
    // A label that does not match still works when its password fits (Ansible's default).
    const mislabelled = await loadVaultKeyring({ vaultIds: [`other@${join(dir, "pw-default")}`, `x@${join(dir, "pw-prod")}`], env: {} });
    const inventory = await loadInventory(join(dir, "inv/hosts.ini"), { vault: mislabelled });
    expect(reveal(inventory.hosts.get("db1")?.vars.db_password)).toBe("db1-pass");
  });

  it("refuses a wrong password, naming the file, and never shows plaintext", async () => {
    const wrong = await loadVaultKeyring({ passwordFiles: [join(dir, "pw-wrong")], env: {} });
    const error = await loadInventory(join(dir, "inv/hosts.ini"), { vault: wrong }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(
      /group_vars\/all\/vault\.yml:1: cannot decrypt: wrong vault password, or the text was altered \(the HMAC does not match\); tried default/,
    );
    expect(message).not.toContain("not the password");
    expect(message).not.toContain("s3cret");
  });

  it("refuses altered ciphertext and a damaged envelope", async () => {
    const keyring = await loadVaultKeyring({ passwordFiles: [join(dir, "pw-default")], env: {} });
    const text = readFileSync(join(dir, "inv/group_vars/all/vault.yml"), "utf8");
    // Change one hex digit of the ciphertext (the envelope stays well-formed), as an attacker would.
    const [header, ...body] = text.trim().split("\n");
    const inner = Buffer.from(body.join(""), "hex").toString("latin1");
    const tampered = inner.slice(0, -1) + (inner.at(-1) === "0" ? "1" : "0");
    const altered = `${header}\n${Buffer.from(tampered, "latin1")
      .toString("hex")
      .replace(/(.{80})/g, "$1\n")}\n`;
    expect(altered).not.toBe(text);
    expect(() => keyring.decrypt(altered, "f.yml:1")).toThrow(/^f\.yml:1: cannot decrypt: wrong vault password, or the text was altered/);
    expect(() => keyring.decrypt(text.replace("AES256", "AES128"), "f.yml:1")).toThrow(
      /^f\.yml:1: damaged Ansible Vault text: unsupported vault cipher "AES128"/,
    );
    expect(() => keyring.decrypt(text.replace(/\n3/, "\nz"), "f.yml:1")).toThrow(
      /damaged Ansible Vault text: the vault body is not hexadecimal/,
    );
    expect(keyring.decrypt(text, "f.yml:1")).toContain("vault_db_password: s3cret-all");
  });

  it("without a vault password, says how to give one", async () => {
    await expect(loadInventory(join(dir, "inv/hosts.ini"))).rejects.toThrow(
      /group_vars\/all\/vault\.yml:1: ansible-vault encrypted content, but no vault password was given: use --vault-password-file/,
    );
    await expect(loadInventory(join(dir, "inv/hosts.ini"), { vault: new VaultKeyring([]) })).rejects.toThrow(/no vault password was given/);
  });

  it("reads an inventory encrypted whole, and a YAML inventory with inline values", async () => {
    write("whole/hosts.ini", "[mail]\nmx1 ansible_host=10.0.0.9 relay=mx.example.net\n");
    vault(["encrypt", "--vault-password-file", "pw-default", "whole/hosts.ini"]);
    expect(readFileSync(join(dir, "whole/hosts.ini"), "utf8")).toMatch(/^\$ANSIBLE_VAULT;1\.1;AES256\n/);
    const keyring = await loadVaultKeyring({ passwordFiles: [join(dir, "pw-default")], env: {} });
    const whole = await loadInventory(join(dir, "whole/hosts.ini"), { vault: keyring });
    expect(whole.hosts.get("mx1")).toMatchObject({ address: "10.0.0.9", vars: { relay: "mx.example.net" } });

    const value = vault(["encrypt_string", "--vault-password-file", "pw-default", "--name", "pw", "yaml-pass"]);
    write("y/hosts.yml", `all:\n  hosts:\n    h1:\n      ${value.split("\n").join("\n      ")}\n`);
    const yaml = await loadInventory(join(dir, "y/hosts.yml"), { vault: keyring });
    expect(reveal(yaml.hosts.get("h1")?.vars.pw)).toBe("yaml-pass");
  });

  it("runs an executable password file (a -client script gets --vault-id) and reads env passwords", async () => {
    const script = write("get-pass", `#!/bin/sh\necho 'correct horse battery staple'\n`);
    chmodSync(script, 0o755);
    const client = write("keyring-client.sh", `#!/bin/sh\n[ "$1" = --vault-id ] && [ "$2" = prod ] && echo prod-pass || exit 3\n`);
    chmodSync(client, 0o755);
    const keyring = await loadVaultKeyring({ passwordFiles: [script], vaultIds: [`prod@${client}`], env: {} });
    expect(keyring.passwords.map((p) => [p.id, p.password.reveal()])).toEqual([
      ["default", "correct horse battery staple"],
      ["prod", "prod-pass"],
    ]);
    await expect(loadVaultKeyring({ vaultIds: [`dev@${client}`], env: {} })).rejects.toThrow(
      /vault password script .*keyring-client\.sh failed \(exit code 3\)/,
    );

    const fromEnv = await loadVaultKeyring({
      env: { PROVISION_VAULT_PASSWORD: "correct horse battery staple", ANSIBLE_VAULT_PASSWORD_FILE: join(dir, "pw-prod") },
    });
    expect(fromEnv.passwords.map((p) => [p.id, p.source])).toEqual([
      ["default", join(dir, "pw-prod")],
      ["default", "PROVISION_VAULT_PASSWORD"],
    ]);
    const inventory = await loadInventory(join(dir, "inv/hosts.ini"), { vault: fromEnv });
    expect(reveal(inventory.hosts.get("db1")?.vars.ansible_become_password ?? inventory.hosts.get("db1")?.becomePassword)).toBe(
      "sudo-pass",
    );
  });

  it("refuses prompting and malformed --vault-id values", async () => {
    await expect(loadVaultKeyring({ vaultIds: ["prod@prompt"], env: {} })).rejects.toThrow(
      /prompting for a vault password is not supported/,
    );
    await expect(loadVaultKeyring({ vaultIds: ["@file"], env: {} })).rejects.toThrow(/expected LABEL@FILE/);
    await expect(loadVaultKeyring({ passwordFiles: [join(dir, "missing")], env: {} })).rejects.toThrow(
      /cannot read vault password file .*missing/,
    );
  });
});

describe("a vaulted value in a field that is not a secretVar()", () => {
  it("the vars error says the value is a secret and what to declare", async () => {
    const { definePlaybook } = await import("../../../src/playbook/playbook.ts");
    const { validateVars } = await import("../../../src/playbook/vars.ts");
    const { z } = await import("zod");
    const { secret } = await import("../../../src/shell/secret.ts");
    const pb = definePlaybook({ name: "p", vars: z.object({ token: z.string() }), steps: () => [] });
    expect(() => validateVars(pb, { token: secret("vaulted-token-x") })).toThrow(
      /token: .*\(the value is a secret, e\.g\. from ansible-vault: declare this field with secretVar\(\)\)/,
    );
  });
});

describe("a --vars-file encrypted by ansible-vault (vaultVarsFile)", () => {
  it("decrypts a whole file and inline values into Secrets; a plain file is left to the caller; no password is an error naming the file", async () => {
    const { vaultVarsFile } = await import("../../../src/vault/index.ts");
    const keyring = await loadVaultKeyring({ passwordFiles: [join(dir, "pw-default")], env: {} });
    const whole = write("extra/secrets.yml", "api_key: k-91\nretries: 3\n");
    vault(["encrypt", "--vault-password-file", "pw-default", "extra/secrets.yml"]);
    const vars = vaultVarsFile(whole, readFileSync(whole, "utf8"), keyring);
    expect(reveal(vars?.api_key)).toBe("k-91");
    expect(vars?.retries).toBe(3);
    const inline = vault(["encrypt_string", "--vault-password-file", "pw-default", "--name", "token", "t-42"]);
    expect(reveal(vaultVarsFile("inline.yml", `plain: x\n${inline}\n`, keyring)?.token)).toBe("t-42");
    expect(vaultVarsFile("plain.yml", "a: 1\n", keyring)).toBeUndefined();
    expect(() => vaultVarsFile(whole, readFileSync(whole, "utf8"), undefined)).toThrow(
      /secrets\.yml:1: ansible-vault encrypted content, but no vault password was given/,
    );
  });
});
