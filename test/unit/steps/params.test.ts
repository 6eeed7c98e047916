/**
 * Unknown step parameters are errors, never dropped: `file({ path, content, mdoe, ownr })` used to
 * run and apply neither (a secrets file left world-readable). Every step factory refuses an unknown
 * key with an InvalidStepError naming the step, the key and the closest known one.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import { InvalidStepError } from "../../../src/playbook/step.ts";
import { secret } from "../../../src/shell/secret.ts";
import * as steps from "../../../src/steps/index.ts";
import { debianHost, runOn } from "../support/mock-host.ts";

const facts = {
  osFamily: "debian",
  packageManager: "apt",
  serviceManager: "systemd",
  paths: { iptablesSaveFile: "/etc/iptables/rules.v4", ip6tablesSaveFile: "/etc/iptables/rules.v6" },
} as never;

/** Each step with valid parameters plus one misspelt key, and the key it should suggest. */
const cases: [string, (typo: Record<string, unknown>) => unknown, string, string][] = [
  ["file", (t) => steps.file({ path: "/etc/x", content: "x", ...t } as never), "mdoe", "mode"],
  ["directory", (t) => steps.directory({ path: "/etc/d", ...t } as never), "ownr", "owner"],
  ["line", (t) => steps.line({ path: "/etc/x", line: "a", ...t } as never), "regex", "regexp"],
  ["configKeys", (t) => steps.configKeys({ path: "/etc/x", settings: { a: "1" }, ...t } as never), "seperator", "separator"],
  ["ownerMode", (t) => steps.ownerMode({ path: "/etc/x", mode: "0600", ...t } as never), "gruop", "group"],
  ["packages", (t) => steps.packages(facts, { names: ["postfix"], ...t } as never), "sate", "state"],
  ["service", (t) => steps.service(facts, { name: "postfix", state: "running", ...t } as never), "enable", "enabled"],
  ["postconf", (t) => steps.postconf({ settings: { myhostname: "m" }, ...t } as never), "notfy", "notify"],
  ["masterService", (t) => steps.masterService({ service: "submission", type: "inet", ...t } as never), "comand", "command"],
  [
    "sasldbUser",
    (t) => steps.sasldbUser({ user: "bob", realm: "r", password: secret("pw-long-enough"), ...t } as never),
    "chrootcopy",
    "chrootCopy",
  ],
  ["groupMember", (t) => steps.groupMember({ user: "postfix", group: "sasl", ...t } as never), "gruop", "group"],
  ["iptablesRule", (t) => steps.iptablesRule({ chain: "INPUT", rule: ["-j", "ACCEPT"], ...t } as never), "postion", "position"],
  ["iptablesPersist", (t) => steps.iptablesPersist(facts, { ...t } as never), "famliy", "family"],
  ["verifySmtp", (t) => steps.verifySmtp({ host: "127.0.0.1", ...t } as never), "port", "ports"],
  ["verifyDns", (t) => steps.verifyDns({ a: { name: "m.example", address: "192.0.2.1" }, ...t } as never), "resolvr", "resolver"],
];

describe("step parameters: unknown keys are refused", () => {
  it.each(cases)("%s: refuses a misspelt key and names the closest known one", (kind, make, typo, known) => {
    expect(() => make({})).not.toThrow();
    let error: unknown;
    try {
      make({ [typo]: "x" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidStepError);
    const message = (error as Error).message;
    expect(message).toContain(kind);
    expect(message).toContain(`unknown parameter "${typo}" — did you mean "${known}"?`);
  });

  it("file({ path, content, mdoe, ownr }): both keys named, and which file step it is", () => {
    expect(() => steps.file({ path: "/etc/secret", content: "s3cret\n", mdoe: "0600", ownr: "nobody" } as never)).toThrow(
      'file: invalid parameters: unknown parameter "mdoe" — did you mean "mode"?; unknown parameter "ownr" — did you mean "owner"? (path "/etc/secret")',
    );
  });

  it("a key nothing resembles lists the known ones; nested objects are strict too", () => {
    expect(() => steps.directory({ path: "/d", colour: "blue" } as never)).toThrow(
      'unknown parameter "colour" (known: path, owner, group, mode, notify)',
    );
    expect(() => steps.verifyDns({ a: { name: "m.example", adress: "192.0.2.1" } } as never)).toThrow(
      /unknown parameter "a\.adress" — did you mean "address"\?/,
    );
  });

  it("through the runner: the host fails before anything is sent but facts", async () => {
    const mock = debianHost();
    const playbook = definePlaybook({
      name: "secrets",
      vars: z.object({}),
      steps: () => [steps.file({ path: "/etc/secret", content: "s3cret\n", mdoe: "0600" } as never)],
    });
    const { report } = await runOn(mock, playbook, "apply");
    expect(report.status).toBe("failed");
    expect(report.error).toContain('unknown parameter "mdoe" — did you mean "mode"?');
    expect(mock.files.has("/etc/secret")).toBe(false);
    expect(mock.commands.every((c) => c.command.startsWith("# provision-facts v1 "))).toBe(true);
  });
});
