/**
 * The only way to build a remote command. Every interpolated value is POSIX-quoted; arrays become
 * several quoted words; `raw()` marks trusted shell syntax (a fragment built by `sh` itself is
 * already safe and is spliced as is). A `Secret` cannot be interpolated as a word — that would put
 * it in a process's argv — only through `secretStdin(secret)`, which pipes it with the shell's
 * builtin printf. A command holding a secret is sent to the host on stdin (see HostSession), so the
 * value appears in no command line on the host.
 */
import { quote } from "./quote.ts";
import { isSecret, MASK, type Secret } from "./secret.ts";
import { containsSecret } from "./mask.ts";

// A brand rather than `instanceof`: a playbook's steps may be built by another copy of this module.
const COMMAND = Symbol.for("provision.shell-command");

export function isShellCommand(value: unknown): value is ShellCommand {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[COMMAND] === true;
}

export class ShellCommand {
  readonly [COMMAND] = true;
  constructor(
    /** What the host runs. May hold secret values: never print it. */
    readonly text: string,
    /** The same command with secrets masked: what errors and logs show. */
    readonly display: string,
    /** True when `text` holds a secret: it must reach the host on stdin, never argv. */
    readonly hasSecret: boolean,
  ) {}

  toString(): string {
    return this.display;
  }

  toJSON(): string {
    return this.display;
  }
}

class RawFragment {
  constructor(readonly text: string) {}
}

class SecretStdin {
  constructor(readonly secret: Secret) {}
}

/** Trusted shell syntax, spliced unquoted. Use only for constants written in this code base. */
export function raw(text: string): RawFragment {
  return new RawFragment(text);
}

/**
 * `printf '%s' <secret> |` — feeds a secret to the next command's stdin. printf is a builtin in
 * dash, bash and busybox ash, so the value never becomes an argv of any process.
 */
export function secretStdin(value: Secret): SecretStdin {
  return new SecretStdin(value);
}

type Interpolation = string | number | boolean | ShellCommand | RawFragment | SecretStdin | readonly (string | number)[];

export function sh(strings: TemplateStringsArray, ...values: Interpolation[]): ShellCommand {
  let text = strings[0] ?? "";
  let display = text;
  let hasSecret = false;
  values.forEach((value, index) => {
    const [t, d, s] = render(value);
    const tail = strings[index + 1] ?? "";
    text += t + tail;
    display += d + tail;
    hasSecret ||= s;
  });
  return new ShellCommand(text, display, hasSecret);
}

function render(value: Interpolation): [text: string, display: string, secret: boolean] {
  if (isShellCommand(value)) return [value.text, value.display, value.hasSecret];
  if (value instanceof RawFragment) return [value.text, value.text, false];
  if (value instanceof SecretStdin) {
    return [`printf '%s' ${quote(value.secret.reveal())} |`, `printf '%s' ${MASK} |`, true];
  }
  if (isSecret(value)) {
    throw new Error("a secret cannot be a command argument (argv is visible to every user): use secretStdin()");
  }
  if (Array.isArray(value)) {
    const words = value.map((item) => quote(plainWord(item))).join(" ");
    return [words, words, false];
  }
  const word = quote(plainWord(value));
  return [word, word, false];
}

/** A word for argv; text holding a secret's value (`reveal()`, `secretText`) is refused like a Secret. */
function plainWord(value: unknown): string {
  const text = String(value);
  if (containsSecret(text)) {
    throw new Error("a secret's value cannot be in a command argument (argv is visible to every user): pass the Secret with secretStdin()");
  }
  return text;
}

/** Join commands with a separator (`&&`, `;`, newline), keeping secrecy and masking. */
export function joinCommands(commands: readonly ShellCommand[], separator: string): ShellCommand {
  return new ShellCommand(
    commands.map((c) => c.text).join(separator),
    commands.map((c) => c.display).join(separator),
    commands.some((c) => c.hasSecret),
  );
}
