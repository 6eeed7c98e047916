/**
 * `run --list-hosts` and `run --list-steps`: what a run would touch, without running it (Ansible's
 * `--list-hosts` / `--list-tasks`). --list-hosts contacts no host. --list-steps connects to each
 * host only to gather its facts (steps are built from them, so they can differ per host: apt on
 * Debian, dnf on Rocky), then builds the playbook's steps and handlers and prints them; no step
 * is read, diffed or applied.
 */
import type { InventoryHost } from "../inventory/inventory.ts";
import type { Playbook } from "../playbook/playbook.ts";
import { isFlushHandlers } from "../playbook/step.ts";
import { inShard } from "../run/shard.ts";
import { mask, maskDeep } from "../shell/mask.ts";
import type { RunArgs } from "./args.ts";
import { eachHost, type Connector, type HostOutcome } from "./each-host.ts";
import { EXIT_ERROR, EXIT_OK } from "./exit-code.ts";
import { gatherFacts } from "../facts/custom-facts.ts";

type Io = { stdout: { write(text: string): unknown }; stderr: { write(text: string): unknown } };

/** The selected hosts this machine's shard would run, in run order. */
export function listHosts(playbook: Playbook, hosts: readonly InventoryHost[], args: RunArgs, io: Io): number {
  const mine = hosts.filter((host) => inShard(host.name, args.shard));
  if (args.json) io.stdout.write(`${JSON.stringify({ playbook: playbook.name, hosts: mine.map((h) => h.name) }, null, 2)}\n`);
  else
    io.stdout.write(
      `playbook ${playbook.name}: ${mine.length} host${mine.length === 1 ? "" : "s"}\n${mine.map((h) => `  ${h.name}\n`).join("")}`,
    );
  return mine.length === 0 && !args.allowEmpty ? EXIT_ERROR : EXIT_OK;
}

interface PlannedItem {
  kind: string;
  name: string;
  notify?: string[];
}

interface Plan {
  steps: PlannedItem[];
  handlers: string[];
}

/** Per host, from its facts: the steps in order (flush markers included) and the handlers. */
export async function listSteps(
  playbook: Playbook,
  hosts: readonly { host: InventoryHost; vars: unknown }[],
  args: RunArgs,
  io: Io,
  connect?: Connector,
): Promise<number> {
  const vars = new Map(hosts.map((h) => [h.host.name, h.vars]));
  const mine = hosts.map((h) => h.host).filter((host) => inShard(host.name, args.shard));
  const outcomes = await eachHost(
    mine,
    args,
    async (session, host) => {
      // The same facts a run gathers: the built-in ones and the playbook's custom facts.
      const gather = gatherFacts(playbook.facts ?? {});
      const facts = gather.parse(await session.run(gather.command));
      const context = {
        vars: vars.get(host.name),
        facts,
        host: { name: host.name, address: session.transport.address ?? host.address ?? host.name },
      };
      const items = playbook.steps(context as never);
      const handlers = Object.keys(playbook.handlers?.(context as never) ?? {});
      return {
        steps: items.map((item) =>
          isFlushHandlers(item)
            ? { kind: item.kind, name: item.name }
            : { kind: item.kind, name: item.name, ...(item.notify?.length ? { notify: [...item.notify] } : {}) },
        ),
        handlers,
      } satisfies Plan;
    },
    undefined,
    connect,
  );
  if (args.json) io.stdout.write(`${JSON.stringify(maskDeep({ playbook: playbook.name, hosts: outcomes.map(jsonPlan) }), null, 2)}\n`);
  else io.stdout.write(outcomes.map(formatPlan).join("\n"));
  return outcomes.some((o) => o.status !== "ok") ? EXIT_ERROR : EXIT_OK;
}

function formatPlan(outcome: HostOutcome<Plan>): string {
  if (outcome.status !== "ok") return `${outcome.host}: ${outcome.status}: ${outcome.error}\n`;
  const steps = outcome.value.steps.map(
    (s, i) => `  ${String(i + 1).padStart(2)}. ${mask(s.name)}${s.notify ? ` (notifies ${s.notify.join(", ")})` : ""}\n`,
  );
  const handlers = outcome.value.handlers.length ? `  handlers: ${outcome.value.handlers.join(", ")}\n` : "";
  return `${outcome.host}: ${outcome.value.steps.length} steps\n${steps.join("")}${handlers}`;
}

function jsonPlan(outcome: HostOutcome<Plan>) {
  return outcome.status === "ok"
    ? { host: outcome.host, ...outcome.value }
    : { host: outcome.host, status: outcome.status, error: outcome.error };
}
