/**
 * Ansible's connection vars, read as they are and lifted into typed host fields:
 *
 *   ansible_host (ansible_ssh_host)                            → address
 *   ansible_port (ansible_ssh_port)                            → port
 *   ansible_user (ansible_ssh_user)                            → user
 *   ansible_ssh_private_key_file (ansible_private_key_file)    → identityFile
 *   ansible_password (ansible_ssh_pass, ansible_ssh_password)  → password (a Secret)
 *   ansible_become (ansible_sudo)                              → become
 *   ansible_become_user (ansible_sudo_user)                    → becomeUser
 *   ansible_become_method                                      → becomeMethod (sudo, su; others fail at connect)
 *   ansible_become_password (ansible_become_pass, ansible_sudo_pass) → becomePassword (a Secret)
 *   ansible_connection                                         → connection (ssh/smart/paramiko → ssh; local)
 *   ansible_ssh_common_args, ansible_ssh_extra_args            → sshArgs (see ssh-args.ts)
 *   ansible_group_priority                                     → (group precedence, inventory-builder.ts)
 *
 * Every `ansible_*` key is then dropped from the playbook vars. Each one that provision does not
 * honour (and each part of ssh args it does not map) becomes a warning naming the var and where it
 * was set — never a silent drop.
 */
import { isSecret, Secret } from "../shell/secret.ts";
import { InventoryError } from "./inventory.ts";
import { parseSshArgs, type SshArgs } from "./ssh-args.ts";

/** How a host is reached, as an inventory says it (InventoryHost carries these). */
export interface ConnectionFields {
  /** Address to connect to (Ansible `ansible_host`); unset: the name, resolved through ~/.ssh/config. */
  address?: string;
  port?: number;
  user?: string;
  identityFile?: string;
  /** SSH password (Ansible `ansible_password`), when key authentication is not used. */
  password?: Secret;
  /** Run commands as another user (Ansible `ansible_become`). */
  become?: boolean;
  /** Whom to become (default root; Ansible `ansible_become_user`). */
  becomeUser?: string;
  /** How: "sudo" (default) or "su"; any other value is refused when connecting. */
  becomeMethod?: string;
  /** sudo's (the login user's) or su's (the target user's) password. */
  becomePassword?: Secret;
  /** "ssh" (default), "local" (run on this machine), or what the inventory said (refused when connecting). */
  connection?: string;
  /** What `ansible_ssh_common_args` / `ansible_ssh_extra_args` map onto. */
  sshArgs?: SshArgs;
}

type Field = Exclude<keyof ConnectionFields, "sshArgs">;

const ALIASES: Record<Field, string[]> = {
  address: ["ansible_host", "ansible_ssh_host"],
  port: ["ansible_port", "ansible_ssh_port"],
  user: ["ansible_user", "ansible_ssh_user"],
  identityFile: ["ansible_ssh_private_key_file", "ansible_private_key_file"],
  password: ["ansible_password", "ansible_ssh_pass", "ansible_ssh_password"],
  become: ["ansible_become", "ansible_sudo"],
  becomeUser: ["ansible_become_user", "ansible_sudo_user"],
  becomeMethod: ["ansible_become_method"],
  becomePassword: ["ansible_become_password", "ansible_become_pass", "ansible_sudo_pass", "ansible_sudo_password"],
  connection: ["ansible_connection"],
};

const SSH_ARGS = ["ansible_ssh_common_args", "ansible_ssh_extra_args"];

/** Honoured without being a host field. */
const USED_ELSEWHERE = new Set(["ansible_group_priority"]);

/** Why a var that Ansible users set often is not honoured, so the warning helps. */
const REASONS: Record<string, string> = {
  ansible_python_interpreter: "provision runs no Python on hosts",
  ansible_shell_type: "commands always run under /bin/sh",
  ansible_shell_executable: "commands always run under /bin/sh",
  ansible_ssh_executable: "provision speaks SSH itself (no ssh binary is run)",
  ansible_pipelining: "commands always go over one kept connection",
  ansible_ssh_pipelining: "commands always go over one kept connection",
  ansible_host_key_checking: "host keys are always verified (--accept-new-host-keys records unknown ones)",
  ansible_ssh_host_key_checking: "host keys are always verified (--accept-new-host-keys records unknown ones)",
  ansible_become_exe: "the become program is always sudo or su from PATH",
  ansible_become_flags: "sudo and su get provision's own flags",
  ansible_scp_extra_args: "provision copies files over the SSH session, not scp",
  ansible_sftp_extra_args: "provision copies files over the SSH session, not sftp",
};

const SSH_CONNECTIONS = new Set(["ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh"]);
const LOCAL_CONNECTIONS = new Set(["local", "ansible.builtin.local"]);

export interface LiftedVars {
  fields: ConnectionFields;
  vars: Record<string, unknown>;
  /** `origin: ansible_x …: ignored` lines, one per var or option not honoured. */
  warnings: string[];
}

/**
 * Split effective vars into connection fields and playbook vars. `where` names the host for errors;
 * `originOf(key)` says where a key was set (`file:line`), for warnings.
 */
export function liftConnectionVars(
  vars: Record<string, unknown>,
  where: string,
  originOf: (key: string) => string = () => where,
): LiftedVars {
  const fields: ConnectionFields = {};
  const used = new Set<string>(USED_ELSEWHERE);
  for (const [field, keys] of Object.entries(ALIASES) as [Field, string[]][]) {
    for (const k of keys) used.add(k);
    const key = keys.find((k) => vars[k] !== undefined && vars[k] !== null);
    if (key === undefined) continue;
    const value = vars[key];
    const at = `${where}: ${key}`;
    if (field === "port") fields.port = toPort(value, at);
    else if (field === "become") fields.become = toBoolean(value, at);
    else if (field === "password" || field === "becomePassword") fields[field] = toSecret(value, at);
    else if (field === "connection") fields.connection = toConnection(toText(value, at));
    else fields[field] = toText(value, at);
  }
  const warnings: string[] = [];
  for (const key of SSH_ARGS) {
    used.add(key);
    const value = vars[key];
    if (value === undefined || value === null || value === "") continue;
    let parsed: ReturnType<typeof parseSshArgs>;
    try {
      parsed = parseSshArgs(toText(value, `${where}: ${key}`));
    } catch (error) {
      throw new InventoryError(`${where}: ${key}: ${(error as Error).message}`);
    }
    fields.sshArgs = { ...fields.sshArgs, ...parsed.args };
    for (const option of parsed.ignored)
      warnings.push(`${originOf(key)}: ${key}: ${JSON.stringify(option)} is not honoured by provision: ignored`);
  }
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(vars)) {
    if (!key.startsWith("ansible_")) rest[key] = value;
    else if (!used.has(key))
      warnings.push(`${originOf(key)}: ${key} is not honoured by provision${REASONS[key] ? ` (${REASONS[key]})` : ""}: ignored`);
  }
  return { fields, vars: rest, warnings };
}

function toConnection(text: string): string {
  const value = text.toLowerCase();
  if (SSH_CONNECTIONS.has(value)) return "ssh";
  if (LOCAL_CONNECTIONS.has(value)) return "local";
  return text;
}

function toPort(value: unknown, where: string): number {
  const plain = isSecret(value) ? value.reveal() : value;
  const port = typeof plain === "number" ? plain : typeof plain === "string" && /^\d+$/.test(plain.trim()) ? Number(plain.trim()) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new InventoryError(`${where}: expected a port number (1-65535), got ${JSON.stringify(value)}`);
  return port;
}

function toBoolean(value: unknown, where: string): boolean {
  const plain = isSecret(value) ? value.reveal() : value;
  if (typeof plain === "boolean") return plain;
  if (typeof plain === "number" && (plain === 0 || plain === 1)) return plain === 1;
  if (typeof plain === "string") {
    const text = plain.trim().toLowerCase();
    if (["yes", "true", "on", "1", "y"].includes(text)) return true;
    if (["no", "false", "off", "0", "n"].includes(text)) return false;
  }
  throw new InventoryError(`${where}: expected a boolean (true/false, yes/no), got ${JSON.stringify(value)}`);
}

/** A value from a vaulted file is a Secret; connection fields other than passwords are not secret. */
function toText(value: unknown, where: string): string {
  const plain = isSecret(value) ? value.reveal() : value;
  if (typeof plain === "string" && plain.trim() !== "") return plain.trim();
  if (typeof plain === "number") return String(plain);
  throw new InventoryError(`${where}: expected a non-empty string, got ${JSON.stringify(value)}`);
}

/** A password given in plain text in an inventory is still a secret from here on. */
function toSecret(value: unknown, where: string): Secret {
  if (isSecret(value)) return value;
  // Passwords are not provision's to choose: a short one is kept, masked as a whole word (see Secret).
  if (typeof value === "string" && value.trim() !== "") return new Secret(value, { shortValues: "whole-words" });
  if (typeof value === "number") return new Secret(String(value), { shortValues: "whole-words" });
  throw new InventoryError(`${where}: expected a non-empty password, got ${typeof value}`);
}
