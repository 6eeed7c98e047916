/**
 * Ansible's connection vars, read as they are and lifted into typed host fields:
 *
 *   ansible_host (ansible_ssh_host)                            → address
 *   ansible_port (ansible_ssh_port)                            → port
 *   ansible_user (ansible_ssh_user)                            → user
 *   ansible_ssh_private_key_file (ansible_private_key_file)    → identityFile
 *   ansible_become                                             → become
 *
 * Every `ansible_*` key is then dropped from the playbook vars (ansible_python_interpreter and
 * friends mean nothing here, and a strict vars schema would reject them).
 */
import { InventoryError } from "./inventory.ts";

export interface ConnectionFields {
  address?: string;
  port?: number;
  user?: string;
  identityFile?: string;
  become?: boolean;
}

const ALIASES: Record<keyof ConnectionFields, string[]> = {
  address: ["ansible_host", "ansible_ssh_host"],
  port: ["ansible_port", "ansible_ssh_port"],
  user: ["ansible_user", "ansible_ssh_user"],
  identityFile: ["ansible_ssh_private_key_file", "ansible_private_key_file"],
  become: ["ansible_become"],
};

/** Split effective vars into connection fields and playbook vars. `where` names the host for errors. */
export function liftConnectionVars(vars: Record<string, unknown>, where: string): { fields: ConnectionFields; vars: Record<string, unknown> } {
  const fields: ConnectionFields = {};
  for (const [field, keys] of Object.entries(ALIASES) as [keyof ConnectionFields, string[]][]) {
    const key = keys.find((k) => vars[k] !== undefined && vars[k] !== null);
    if (key === undefined) continue;
    const value = vars[key];
    if (field === "port") fields.port = toPort(value, `${where}: ${key}`);
    else if (field === "become") fields.become = toBoolean(value, `${where}: ${key}`);
    else fields[field] = toText(value, `${where}: ${key}`);
  }
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(vars)) if (!key.startsWith("ansible_")) rest[key] = value;
  return { fields, vars: rest };
}

function toPort(value: unknown, where: string): number {
  const port = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InventoryError(`${where}: expected a port number (1-65535), got ${JSON.stringify(value)}`);
  return port;
}

function toBoolean(value: unknown, where: string): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number" && (value === 0 || value === 1)) return value === 1;
  if (typeof value === "string") {
    const text = value.trim().toLowerCase();
    if (["yes", "true", "on", "1", "y"].includes(text)) return true;
    if (["no", "false", "off", "0", "n"].includes(text)) return false;
  }
  throw new InventoryError(`${where}: expected a boolean (true/false, yes/no), got ${JSON.stringify(value)}`);
}

function toText(value: unknown, where: string): string {
  if (typeof value === "string" && value.trim() !== "") return value.trim();
  if (typeof value === "number") return String(value);
  throw new InventoryError(`${where}: expected a non-empty string, got ${JSON.stringify(value)}`);
}
