/**
 * A secret value (a password, a key). It prints as `***` everywhere — toString, JSON, util.inspect —
 * so a secret that slips into a template string, an event or a report is masked by construction.
 * Its value travels to a host only on stdin (see `sh` and `secretStdin`), never in argv.
 */
import { inspect } from "node:util";
import { registerSecretValue } from "./mask.ts";

export const MASK = "***";
// A brand rather than `instanceof`: a playbook may hold a Secret made by another copy of this module.
const BRAND = Symbol.for("provision.secret");

export class Secret {
  readonly #value: string;
  readonly [BRAND] = true;

  constructor(value: string) {
    if (value.length === 0) throw new Error("a secret cannot be empty");
    // Masking replaces every occurrence of the value: a secret of only white space would blank
    // out every space or newline of every report.
    if (value.trim().length === 0) throw new Error("a secret cannot be only white space");
    this.#value = value;
    registerSecretValue(value);
  }

  /** The real value. Call only where it goes to stdin or a local comparison. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return MASK;
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
