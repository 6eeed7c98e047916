/**
 * Tags: run part of a playbook (Ansible's `--tags`, `--skip-tags`, `--start-at-task`).
 *
 * A step carries tags through `tagged(tags, ...steps)`, which also tags a group of steps at once
 * (Ansible's tags on a block or role). Selection follows Ansible's rules:
 * - `--tags a,b`: only steps with a or b (or `always`); `--tags all` is everything.
 * - `--skip-tags c`: never steps with c — also `always` ones, as in Ansible.
 * - `never`: a step tagged `never` runs only when one of its other tags is asked for.
 * - `--start-at NAME`: the steps before the first whose name is NAME (or matches it as a glob
 *   with `*`) are skipped; no match is an error before anything runs.
 * A step selected out is reported `skipped` with the reason; handlers notified by the steps that
 * ran still run. Selection is by tag only: facts are still gathered, every step is still built.
 */
import type { PlaybookItem, Step } from "./step.ts";
import { isFlushHandlers } from "./step.ts";

export interface StepSelection {
  tags?: readonly string[];
  skipTags?: readonly string[];
  startAt?: string;
}

/** Copies of `items` with `tags` added (a flush marker passes through untouched). */
export function tagged(tags: string | readonly string[], ...items: (PlaybookItem | readonly PlaybookItem[])[]): PlaybookItem[] {
  const add = typeof tags === "string" ? [tags] : [...tags];
  return items.flat().map((item) => {
    if (isFlushHandlers(item)) return item;
    const merged = [...new Set([...(item.tags ?? []), ...add])];
    // Keep the step's own prototype: a step may be a class instance with methods on it.
    return Object.assign(Object.create(Object.getPrototypeOf(item) as object) as Step, item, { tags: merged });
  });
}

/** Why `step` is not run under `selection`, or undefined when it runs. */
export function selectionSkip(step: Step, selection: StepSelection): string | undefined {
  const tags = step.tags ?? [];
  const skip = selection.skipTags?.find((tag) => tags.includes(tag));
  if (skip !== undefined) return `skipped by --skip-tags ${skip}`;
  const wanted = selection.tags;
  if (wanted === undefined || wanted.length === 0) return tags.includes("never") ? "tagged never (ask for one of its tags)" : undefined;
  if (wanted.includes("all"))
    return tags.includes("never") && !tags.some((t) => t !== "never" && wanted.includes(t)) ? "tagged never" : undefined;
  if (tags.includes("always")) return undefined;
  if (tags.some((tag) => wanted.includes(tag))) return undefined;
  return `not selected by --tags ${wanted.join(",")}${tags.length ? ` (its tags: ${tags.join(", ")})` : " (it has no tags)"}`;
}

/** The index of the step `--start-at` names; throws when none does (naming the closest names). */
export function startAtIndex(items: readonly PlaybookItem[], name: string): number {
  const pattern = new RegExp(
    `^${name
      .split("*")
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  const index = items.findIndex((item) => !isFlushHandlers(item) && (item.name === name || pattern.test(item.name)));
  if (index < 0) {
    const names = items.filter((item) => !isFlushHandlers(item)).map((item) => item.name);
    throw new Error(
      `--start-at ${JSON.stringify(name)}: no step of this playbook has that name (steps: ${names.slice(0, 8).join("; ")}${names.length > 8 ? "; …" : ""})`,
    );
  }
  return index;
}
