/** Every notify target must name a handler: a typo is an error before anything is changed. */
import { InvalidStepError, isFlushHandlers, type PlaybookItem } from "../playbook/step.ts";

export function checkNotifyTargets(items: readonly PlaybookItem[], handlers: Record<string, unknown>, playbook: string): void {
  for (const item of items) {
    if (isFlushHandlers(item)) continue;
    for (const target of item.notify ?? []) {
      if (!(target in handlers)) {
        const known = Object.keys(handlers);
        throw new InvalidStepError(
          `step "${item.name}" notifies "${target}", which is not a handler of playbook "${playbook}"` +
            (known.length ? ` (handlers: ${known.join(", ")})` : " (it has no handlers)"),
        );
      }
    }
  }
}
