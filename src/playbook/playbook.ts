/**
 * A playbook: a name, a zod schema for its vars, a function from context (validated vars + host
 * facts) to an ordered list of steps, and handlers. Playbooks are plain TypeScript modules whose
 * default export is the value `definePlaybook` returns.
 */
import type { z } from "zod";
import type { Facts } from "../facts/facts.ts";
import type { CustomFacts, CustomFactValues } from "../facts/custom-facts.ts";
import type { Handler, PlaybookItem } from "./step.ts";

export interface HostInfo {
  /** The name the user selected the host by. */
  name: string;
  /**
   * The address actually connected to: the ssh config's HostName or the inventory's address
   * (`ansible_host`), taken from the transport after it connected — never an alias only the ssh
   * config knows. For a transport without one (localhost), the name.
   */
  address: string;
}

export interface PlaybookContext<V, F = Record<never, never>> {
  vars: V;
  /** The built-in facts, and the playbook's own under `custom` (see src/facts/custom-facts.ts). */
  facts: Facts & { custom: CustomFactValues<F> };
  host: HostInfo;
}

export interface PlaybookDefinition<S extends z.ZodType, F extends CustomFacts = Record<never, never>> {
  name: string;
  description?: string;
  vars: S;
  /** Custom facts, gathered with the built-in ones (one round trip): `fact({ command, parse })`. */
  facts?: F;
  steps(context: PlaybookContext<z.output<S>, F>): PlaybookItem[];
  handlers?(context: PlaybookContext<z.output<S>, F>): Record<string, Handler>;
}

export interface Playbook<S extends z.ZodType = z.ZodType, F extends CustomFacts = CustomFacts> extends PlaybookDefinition<S, F> {
  readonly kind: "provision-playbook";
}

export function definePlaybook<S extends z.ZodType, F extends CustomFacts = Record<never, never>>(
  definition: PlaybookDefinition<S, F>,
): Playbook<S, F> {
  return { ...definition, kind: "provision-playbook" };
}

export function isPlaybook(value: unknown): value is Playbook {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "provision-playbook";
}
