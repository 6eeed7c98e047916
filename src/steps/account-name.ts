/**
 * What a user or group name may be, for the account steps (user, group, authorizedKey, sudoers):
 * the portable set shadow-utils accepts (a leading letter, digit or _, then also . and -, and a
 * final $ for Samba machine accounts), at most 32 characters (useradd's limit). A leading "-"
 * would read as an option, ":" and line breaks would corrupt /etc/passwd: refused, never run.
 */
import { z } from "zod";

export const accountName = z
  .string()
  .max(32, "must be at most 32 characters")
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/, "must be a user or group name (letters, digits, _ . -)");

/** A field of /etc/passwd (home, shell, comment): no ":" (the separator), no line break, no NUL. */
export const passwdField = z.string().refine((v) => !/[:\n\r\0]/.test(v), "must not contain ':', a line break or a NUL byte");
