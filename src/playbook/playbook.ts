/**
 * A playbook: a name, a zod schema for its vars, a function from context (validated vars + host
 * facts) to an ordered list of steps, and handlers. Playbooks are plain TypeScript modules whose
 * default export is the value `definePlaybook` returns.
 */
import { z } from "zod";
import type { Facts } from "../facts/facts.ts";
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

export interface PlaybookContext<V> {
  vars: V;
  facts: Facts;
  host: HostInfo;
}

export interface PlaybookDefinition<S extends z.ZodType> {
  name: string;
  description?: string;
  vars: S;
  steps(context: PlaybookContext<z.output<S>>): PlaybookItem[];
  handlers?(context: PlaybookContext<z.output<S>>): Record<string, Handler>;
}

export interface Playbook<S extends z.ZodType = z.ZodType> extends PlaybookDefinition<S> {
  readonly kind: "provision-playbook";
}

export function definePlaybook<S extends z.ZodType>(definition: PlaybookDefinition<S>): Playbook<S> {
  return { ...definition, kind: "provision-playbook" };
}

export function isPlaybook(value: unknown): value is Playbook {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "provision-playbook";
}
