/**
 * A secret value (a password, a key). JSON and util.inspect show it as `***`, so a secret that
 * reaches an event or a report is masked by construction. Turning it into text any other way
 * (a template string, `String()`, `+`) THROWS: that used to write a literal `***` into a file
 * (and its diff looked the same as when done right). Content that holds a secret is built with
 * `secretText` (below). Its value travels to a host only on stdin (see `sh` and `secretStdin`),
 * never in argv.
 */
import { inspect } from "node:util";
import { MASK, MIN_SECRET_LENGTH, registerSecretValue, registerSecretWord } from "./mask.ts";

export { MASK };
// A brand rather than `instanceof`: a playbook may hold a Secret made by another copy of this module.
const BRAND = Symbol.for("provision.secret");

export class SecretAsTextError extends Error {
  override readonly name = "SecretAsTextError";
  constructor() {
    super(
      'a Secret cannot be turned into text (template string, String(), +): that would write "***" where its value belongs. ' +
        "To put a secret into file content or a line, build it with secretText: content: secretText`password=${vars.password}\\n` " +
        "(the value reaches the host on stdin, and every output masks it).",
    );
  }
}

export class Secret {
  readonly #value: string;
  readonly [BRAND] = true;

  /**
   * `shortValues: "whole-words"` accepts a value shorter than MIN_SECRET_LENGTH, masked only where
   * it stands as a whole word — for values provision did not choose (decrypted Ansible Vault
   * strings); a playbook's own `secret()` keeps the minimum.
   */
  constructor(value: string, options: { shortValues?: "whole-words" } = {}) {
    if (value.length === 0) throw new Error("a secret cannot be empty");
    // Masking replaces every occurrence of the value: a secret of only white space would blank
    // out every space or newline of every report, and a short one would garble words and, by
    // the gaps, give itself away ("dir***ctory").
    if (value.trim().length === 0) throw new Error("a secret cannot be only white space");
    if (value.trim().length < MIN_SECRET_LENGTH && options.shortValues === "whole-words") {
      this.#value = value;
      registerSecretWord(value.trim());
      return;
    }
    if (value.trim().length < MIN_SECRET_LENGTH) {
      throw new Error(
        `a secret must be at least ${MIN_SECRET_LENGTH} characters long (white space around it not counted), so that masking it in output cannot garble text or reveal it`,
      );
    }
    this.#value = value;
    registerSecretValue(value);
  }

  /** The real value. Call only where it goes to stdin or a local comparison. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    throw new SecretAsTextError();
  }

  [Symbol.toPrimitive](): never {
    throw new SecretAsTextError();
  }

  toJSON(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return MASK;
  }
}

export function secret(value: string): Secret {
  return new Secret(value);
}

export function isSecret(value: unknown): value is Secret {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/**
 * The way to put secrets into text (a file's content, a line): a template whose Secret parts are
 * revealed. The result is plain text holding the values; output masks them (they are registered),
 * and a diff of content holding a secret hides its removed lines (a secret's previous value).
 *   file({ path: "/etc/app.conf", content: secretText`[db]\npassword=${vars.password}\n`, mode: "0600" })
 */
export function secretText(strings: TemplateStringsArray, ...values: (Secret | string | number)[]): string {
  let text = strings[0] ?? "";
  values.forEach((value, index) => {
    text += (isSecret(value) ? value.reveal() : String(value)) + (strings[index + 1] ?? "");
  });
  return text;
}
