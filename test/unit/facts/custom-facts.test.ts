/**
 * Custom facts (src/facts/custom-facts.ts): declared by a playbook, gathered in the facts round
 * trip (a converged check stays at two), typed in steps(ctx), and shown by `provision facts --playbook`.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { fact } from "../../../src/facts/custom-facts.ts";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import type { Step } from "../../../src/playbook/step.ts";
import { sh } from "../../../src/shell/sh.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const marker = (content: string): Step<string> => ({
  kind: "kv",
  name: `marker ${content}`,
  read: () => ({ command: sh`kv-get marker`, parse: (r) => r.stdout.toString() }),
  diff: (current) => (current === content ? null : { summary: `marker → ${content}` }),
  apply: async () => undefined,
});

const playbook = definePlaybook({
  name: "custom-facts",
  vars: z.object({}),
  facts: {
    nginx: fact({ command: sh`nginx -v 2>&1`, parse: (r) => /nginx\/([\d.]+)/.exec(r.stdout.toString())?.[1] ?? null }),
    workers: fact({ command: sh`nproc`, parse: (r) => Number(r.stdout.toString().trim()) }),
  },
  // Typed: facts.custom.nginx is string | null, facts.custom.workers a number.
  steps: ({ facts }) => [marker(`${facts.custom.nginx ?? "none"}/${facts.custom.workers.toFixed(0)}/${facts.distro}`)],
});

describe("custom facts", () => {
  it("are gathered with the built-in facts in one round trip and reach steps(ctx), typed", async () => {
    const mock = debianHost()
      .on(/^nginx -v/, { stdout: "nginx version: nginx/1.22.1\n" })
      .on(/^nproc/, { stdout: "4\n" })
      .on(/^kv-get marker/, { stdout: "1.22.1/4/debian" });
    const { report } = await runOn(mock, playbook, "check");
    expect(report.steps.map((s) => [s.name, s.status])).toEqual([["marker 1.22.1/4/debian", "ok"]]);
    // facts (with the custom ones inside the same script) + one batched read: still two.
    expect(report.readRoundTrips).toBe(2);
    expect(mock.execs).toHaveLength(2);
  });

  it("a parser that throws fails the host before any step is built, naming the fact", async () => {
    const broken = definePlaybook({
      name: "broken-fact",
      vars: z.object({}),
      facts: {
        port: fact({
          command: sh`cat /etc/app/port`,
          parse: (r) => {
            if (r.exitCode !== 0) throw new Error("no /etc/app/port");
            return 1;
          },
        }),
      },
      steps: () => [marker("x")],
    });
    const mock = debianHost().on(/^cat \/etc\/app\/port/, { exitCode: 1, stderr: "cat: /etc/app/port: No such file or directory\n" });
    const { report } = await runOn(mock, broken, "check");
    expect(report.status).toBe("failed");
    expect(report.error).toMatch(/custom fact "port": no \/etc\/app\/port/);
    expect(report.steps).toEqual([]);
  });
});
