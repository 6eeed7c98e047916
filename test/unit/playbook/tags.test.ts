/**
 * Tags (src/playbook/tags.ts): which steps a run with --tags / --skip-tags / --start-at runs, with
 * Ansible's rules (always, never, all), through the real runner on the mock host.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import type { Step } from "../../../src/playbook/step.ts";
import { selectionSkip, tagged, type StepSelection } from "../../../src/playbook/tags.ts";
import { runHost } from "../../../src/run/host-runner.ts";
import { sh } from "../../../src/shell/sh.ts";
import { debianHost } from "../support/mock-host.ts";

function kvStep(key: string, notify?: string[]): Step<string> {
  return {
    kind: "kv",
    name: `kv ${key}`,
    ...(notify ? { notify } : {}),
    read: () => ({ command: sh`kv-get ${key}`, parse: (r) => r.stdout.toString("utf8") }),
    diff: (current) => (current === "1" ? null : { summary: `${key} → 1` }),
    apply: async ({ session }) => void (await session.runOrThrow(sh`kv-set ${key} 1`)),
  };
}

const playbook = definePlaybook({
  name: "tags",
  vars: z.object({}),
  steps: () => [
    ...tagged("packages", kvStep("pkg")),
    ...tagged(["mail", "tls"], kvStep("cert", ["reload"]), kvStep("postfix")),
    ...tagged("always", kvStep("facts")),
    ...tagged("never", tagged("debug", kvStep("dump"))),
    kvStep("untagged"),
  ],
  handlers: () => ({ reload: { run: async ({ session }) => void (await session.runOrThrow(sh`kv-set reloaded 1`)) } }),
});

async function run(selection: StepSelection) {
  const store = new Map<string, string>();
  const mock = debianHost()
    .on(/^kv-get /, (c) => ({ stdout: store.get(c.split(" ")[1] ?? "") ?? "" }))
    .on(/^kv-set /, (c) => {
      const [, k, v] = c.split(" ");
      store.set(k ?? "", v ?? "");
      return {};
    });
  const report = await runHost({
    playbook,
    vars: {},
    host: { name: "h", address: "h" },
    connect: async () => mock,
    mode: "apply",
    selection,
  });
  const ran = report.steps.filter((s) => s.status === "changed").map((s) => s.name.replace("kv ", ""));
  return { report, ran, store };
}

describe("step selection", () => {
  it("no selection: everything but `never` steps", async () => {
    expect((await run({})).ran).toEqual(["pkg", "cert", "postfix", "facts", "untagged"]);
  });

  it("--tags: the tagged steps and `always`; the others are skipped with the reason; handlers of selected steps run", async () => {
    const { report, ran, store } = await run({ tags: ["tls"] });
    expect(ran).toEqual(["cert", "postfix", "facts"]);
    expect(report.steps.find((s) => s.name === "kv pkg")).toMatchObject({
      status: "skipped",
      summary: "not selected by --tags tls (its tags: packages)",
    });
    expect(report.steps.find((s) => s.name === "kv untagged")?.summary).toBe("not selected by --tags tls (it has no tags)");
    expect(report.handlers).toEqual([{ name: "reload", status: "ran" }]);
    expect(store.get("reloaded")).toBe("1");
  });

  it("--skip-tags wins, also over `always`; `never` runs only when one of its tags is asked for", async () => {
    expect((await run({ skipTags: ["mail", "always"] })).ran).toEqual(["pkg", "untagged"]);
    expect((await run({ tags: ["debug"] })).ran).toEqual(["facts", "dump"]);
    expect((await run({ tags: ["all"] })).ran).toEqual(["pkg", "cert", "postfix", "facts", "untagged"]);
  });

  it("--start-at: the steps before it are skipped; a name no step has is an error before anything runs", async () => {
    const { report, ran } = await run({ startAt: "kv post*" });
    expect(ran).toEqual(["postfix", "facts", "untagged"]);
    expect(report.steps[0]).toMatchObject({ name: "kv pkg", status: "skipped", summary: "before --start-at" });
    const missing = await run({ startAt: "kv nothing" });
    expect(missing.report.status).toBe("failed");
    expect(missing.report.error).toMatch(/--start-at "kv nothing": no step of this playbook has that name \(steps: kv pkg; kv cert/);
    expect(missing.store.size).toBe(0);
  });

  it("tagged keeps what a step is (its methods) and adds to tags it already has", () => {
    const [step] = tagged("b", tagged("a", kvStep("x"))) as Step[];
    expect(step?.tags).toEqual(["a", "b"]);
    expect(step?.diff("0")).toEqual({ summary: "x → 1" });
    expect(selectionSkip(step as Step, { tags: ["c"] })).toBe("not selected by --tags c (its tags: a, b)");
  });
});
