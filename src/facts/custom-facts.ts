/**
 * Custom facts: what a playbook needs to know about a host before it builds its steps (Ansible's
 * `register` for reads, or a local fact), declared as (command, parser) pairs —
 *
 *   facts: { nginx: fact({ command: sh`nginx -v 2>&1 || true`, parse: (r) => r.stdout.toString().trim() }) },
 *   steps: ({ facts }) => [ … facts.custom.nginx … ]        // typed: string
 *
 * — and gathered in the same round trip as the built-in facts (one batched script), so a playbook
 * that uses the host's state keeps a converged check at two round trips. A parser that throws fails
 * the host before any step is built, naming the fact.
 */
import { factsCommand, parseFacts, type Facts } from "./facts.ts";
import { encodeBatch, splitBatchOutput } from "../run/read-batch.ts";
import type { ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../transport/transport.ts";

export interface CustomFact<T = unknown> {
  readonly kind: "provision-fact";
  readonly command: ShellCommand;
  parse(result: ExecResult): T;
}

export type CustomFacts = Record<string, CustomFact>;

/** The parsed values of a playbook's custom facts, by name. */
export type CustomFactValues<F> = { [K in keyof F]: F[K] extends CustomFact<infer T> ? T : never };

/** Declare a custom fact: a read-only command, and a pure parser of its result. */
export function fact<T>(definition: { command: ShellCommand; parse(result: ExecResult): T }): CustomFact<T> {
  return { kind: "provision-fact", command: definition.command, parse: definition.parse };
}

/** The built-in facts and the custom ones, read in one script: the command and how to split its answer. */
export function gatherFacts(custom: CustomFacts): {
  command: ShellCommand;
  parse(result: ExecResult): Facts & { custom: Record<string, unknown> };
} {
  const names = Object.keys(custom);
  if (names.length === 0) return { command: factsCommand, parse: (result) => ({ ...parseFacts(result), custom: {} }) };
  const batch = encodeBatch([factsCommand, ...names.map((name) => (custom[name] as CustomFact).command)]);
  return {
    command: batch.command,
    parse(result) {
      const [builtin, ...parts] = splitBatchOutput(batch, result);
      const values: Record<string, unknown> = {};
      names.forEach((name, i) => {
        try {
          values[name] = (custom[name] as CustomFact).parse(parts[i] as ExecResult);
        } catch (error) {
          throw new Error(`custom fact "${name}": ${(error as Error).message}`);
        }
      });
      return { ...parseFacts(builtin as ExecResult), custom: values };
    },
  };
}
