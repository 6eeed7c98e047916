/**
 * Client authentication, as an ssh2 `authHandler` that offers methods in order and remembers what
 * it tried (for the error message when all fail):
 *   1. ssh-agent (SSH_AUTH_SOCK), when the socket exists;
 *   2. private key files: IdentityFile from options / ssh config, else the defaults that exist
 *      (~/.ssh/id_ed25519, id_ecdsa, id_rsa). An encrypted key is decrypted with
 *      PROVISION_SSH_PASSPHRASE, or a passphrase asked on the terminal (only when stdin is a TTY);
 *   3. password, only when explicitly configured (a Secret).
 * Methods the server does not accept (its "methods that can continue" list) are skipped.
 */
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import ssh2 from "ssh2";
import type { AnyAuthMethod, AuthenticationType, AuthHandlerMiddleware } from "ssh2";
import type { Secret } from "../../shell/secret.ts";

export const PASSPHRASE_ENV = "PROVISION_SSH_PASSPHRASE";
const DEFAULT_KEYS = ["id_ed25519", "id_ecdsa", "id_rsa"];
// ssh2 is CommonJS: Node's ESM loader exposes only its default export reliably.
const { utils } = ssh2;

export interface AuthSettings {
  user: string;
  /** Key files from options or config; empty = the defaults that exist. */
  identityFiles: string[];
  homeDir: string;
  /** ssh-agent socket; undefined = none. */
  agentSocket?: string;
  password?: Secret;
  /** Passphrase for encrypted keys (default: the PROVISION_SSH_PASSPHRASE environment variable). */
  passphrase?: string;
  /** Ask for a key's passphrase (default: on the terminal when stdin is a TTY, else nothing). */
  promptPassphrase?: (keyFile: string) => Promise<string | undefined>;
}

export interface AuthHandler {
  handler: AuthHandlerMiddleware;
  /** What was offered, in order, e.g. ["agent", "key /root/.ssh/id_ed25519"]. */
  readonly tried: string[];
  /** Keys that could not be used and why (missing, wrong passphrase). */
  readonly skipped: string[];
  /** The methods the server said can continue (after the first refusal). */
  serverMethods(): string[] | undefined;
}

/** The key files to offer: configured ones, or the defaults present in ~/.ssh. */
export function identityCandidates(identityFiles: readonly string[], homeDir: string): string[] {
  if (identityFiles.length > 0) return [...identityFiles];
  return DEFAULT_KEYS.map((name) => path.join(homeDir, ".ssh", name)).filter((file) => existsSync(file));
}

export function agentSocketFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const socket = env.SSH_AUTH_SOCK;
  if (!socket) return undefined;
  try {
    return statSync(socket).isSocket() ? socket : undefined;
  } catch {
    return undefined;
  }
}

type Step = () => Promise<AnyAuthMethod | undefined>;

// Long: the ordered authentication attempts (agent, keys, password) share the tried/skipped record the final error reports.
export function makeAuthHandler(settings: AuthSettings): AuthHandler {
  const tried: string[] = [];
  const skipped: string[] = [];
  let serverMethods: string[] | undefined;
  let cachedPassphrase = settings.passphrase;
  const username = settings.user;

  const steps: { kind: AuthenticationType; step: Step }[] = [];
  if (settings.agentSocket) {
    const agent = settings.agentSocket;
    steps.push({
      kind: "publickey",
      step: async () => {
        tried.push(`ssh-agent (${agent})`);
        return { type: "agent", username, agent };
      },
    });
  }
  for (const file of identityCandidates(settings.identityFiles, settings.homeDir)) {
    steps.push({
      kind: "publickey",
      step: async () => {
        const key = await loadKey(file);
        if (key === undefined) return undefined;
        tried.push(`key ${file}`);
        return { type: "publickey", username, key: key.data, ...(key.passphrase ? { passphrase: key.passphrase } : {}) };
      },
    });
  }
  if (settings.password) {
    const password = settings.password;
    steps.push({
      kind: "password",
      step: async () => {
        tried.push("password");
        return { type: "password", username, password: password.reveal() };
      },
    });
  }

  async function loadKey(file: string): Promise<{ data: Buffer; passphrase?: string } | undefined> {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (error) {
      skipped.push(`key ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return undefined;
    }
    const plain = utils.parseKey(data);
    if (!(plain instanceof Error)) return { data };
    if (!/passphrase|encrypted/i.test(plain.message)) {
      skipped.push(`key ${file}: ${plain.message}`);
      return undefined;
    }
    if (cachedPassphrase === undefined) {
      const prompt = settings.promptPassphrase ?? promptOnTty;
      cachedPassphrase = await prompt(file);
    }
    if (cachedPassphrase === undefined) {
      skipped.push(`key ${file}: encrypted, and no passphrase (set ${PASSPHRASE_ENV} or run on a terminal)`);
      return undefined;
    }
    const decrypted = utils.parseKey(data, cachedPassphrase);
    if (decrypted instanceof Error) {
      skipped.push(`key ${file}: cannot decrypt (${decrypted.message})`);
      return undefined;
    }
    return { data, passphrase: cachedPassphrase };
  }

  let index = 0;
  const handler: AuthHandlerMiddleware = (methodsLeft, _partialSuccess, next) => {
    if (Array.isArray(methodsLeft)) serverMethods = methodsLeft;
    void (async () => {
      // Bounded: each step is tried once.
      while (index < steps.length) {
        const current = steps[index];
        index += 1;
        if (!current) continue;
        if (serverMethods && !serverMethods.includes(current.kind)) continue;
        const method = await current.step();
        if (method) return next(method);
      }
      return next(false as unknown as AnyAuthMethod);
    })().catch(() => next(false as unknown as AnyAuthMethod));
  };

  return { handler, tried, skipped, serverMethods: () => serverMethods };
}

/** Ask for a passphrase on the terminal without echo; undefined when there is no terminal. */
export async function promptOnTty(keyFile: string): Promise<string | undefined> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  process.stderr.write(`Enter passphrase for key '${keyFile}': `);
  const silent = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const rl = createInterface({ input: process.stdin, output: silent, terminal: true });
  try {
    return await new Promise<string | undefined>((resolve) => {
      rl.once("line", (line) => resolve(line === "" ? undefined : line));
      rl.once("close", () => resolve(undefined));
    });
  } finally {
    rl.close();
    process.stderr.write("\n");
  }
}
