import { describe, expect, it } from "vitest";
import { configKeys, editConfigKeys } from "../../../src/steps/config-keys.ts";
import { InvalidStepError } from "../../../src/playbook/step.ts";
import { mockHost, runSteps } from "./postfix-fake.ts";

const sasl = { pwcheck_method: "auxprop", auxprop_plugin: "sasldb", mech_list: "CRAM-MD5 DIGEST-MD5 PLAIN LOGIN" };
const colon = { separator: ": ", comment: "#" };

describe("configKeys: the pure edit", () => {
  it.each<[string, string, Record<string, string>, { separator: string; comment: string }, string]>([
    [
      "empty file: every key, in order",
      "",
      sasl,
      colon,
      "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: CRAM-MD5 DIGEST-MD5 PLAIN LOGIN\n",
    ],
    [
      "RHEL's shipped smtpd.conf: saslauthd replaced in place, the rest appended",
      "pwcheck_method: saslauthd\nmech_list: plain login\n",
      sasl,
      colon,
      "pwcheck_method: auxprop\nmech_list: CRAM-MD5 DIGEST-MD5 PLAIN LOGIN\nauxprop_plugin: sasldb\n",
    ],
    [
      "comments and unrelated keys kept; a commented-out key gets its live line right after the comment",
      "# SASL for Postfix\n#mech_list: PLAIN\nlog_level: 3\n",
      { mech_list: "PLAIN LOGIN" },
      colon,
      "# SASL for Postfix\n#mech_list: PLAIN\nmech_list: PLAIN LOGIN\nlog_level: 3\n",
    ],
    [
      "duplicates: the first live key is kept (and set), later ones removed",
      "mech_list: PLAIN\nx: 1\nmech_list: LOGIN\n",
      { mech_list: "CRAM-MD5" },
      colon,
      "mech_list: CRAM-MD5\nx: 1\n",
    ],
    ["a right value keeps its formatting (no false change)", "mech_list:PLAIN\n", { mech_list: "PLAIN" }, colon, "mech_list:PLAIN\n"],
    ["no trailing newline and nothing to do: untouched", "mech_list: PLAIN", { mech_list: "PLAIN" }, colon, "mech_list: PLAIN"],
    ["key=value files", "# x\nfoo = 1\nfoobar = 2\n", { foo: "3" }, { separator: " = ", comment: "#" }, "# x\nfoo = 3\nfoobar = 2\n"],
    ["a key is not a prefix of another", "foobar = 2\n", { foo: "3" }, { separator: " = ", comment: "#" }, "foobar = 2\nfoo = 3\n"],
    ["space-separated files", "; c\nPort 22\n", { Port: "2222" }, { separator: " ", comment: ";" }, "; c\nPort 2222\n"],
  ])("%s", (_name, before, settings, format, expected) => {
    const after = editConfigKeys(before, settings, format);
    expect(after).toBe(expected);
    expect(editConfigKeys(after, settings, format)).toBe(after); // idempotent
  });

  it("validates keys and separators", () => {
    expect(() => configKeys({ path: "/etc/x", settings: { "a b": "1" } })).toThrow(InvalidStepError);
    expect(() => configKeys({ path: "/etc/x", settings: {} })).toThrow(/at least one/);
    expect(() => configKeys({ path: "/etc/x", settings: { a: "1" }, separator: "->" })).toThrow(/separator/);
  });
});

describe("configKeys: through the runner", () => {
  const PATH = "/etc/postfix/sasl/smtpd.conf";
  const steps = () => [
    configKeys({ path: PATH, settings: sasl, separator: ": ", create: true, owner: "root", group: "root", mode: "0644" }),
  ];

  it("creates Debian's missing smtpd.conf; apply again 0 changes; tamper → drift → apply → clean; comments survive", async () => {
    const host = mockHost();
    const first = await runSteps(host, steps, "apply");
    expect(first.steps[0]).toMatchObject({
      status: "changed",
      summary: "create",
      name: `config ${PATH}: pwcheck_method, auxprop_plugin, mech_list`,
    });
    expect((await runSteps(host, steps, "apply")).counts.changed).toBe(0);
    expect((await runSteps(host, steps, "check")).status).toBe("ok");

    host.file(PATH, "# edited by hand\npwcheck_method: saslauthd\nauxprop_plugin: sasldb\n#mech_list: CRAM-MD5 DIGEST-MD5 PLAIN LOGIN\n");
    const drift = await runSteps(host, steps, "check");
    expect(drift.status).toBe("drift");
    expect(drift.steps[0]?.summary).toBe("content");
    expect(drift.steps[0]?.diff).toContain("-pwcheck_method: saslauthd\n+pwcheck_method: auxprop");
    await runSteps(host, steps, "apply");
    expect(host.files.get(PATH)?.content.toString()).toBe(
      "# edited by hand\npwcheck_method: auxprop\nauxprop_plugin: sasldb\n#mech_list: CRAM-MD5 DIGEST-MD5 PLAIN LOGIN\nmech_list: CRAM-MD5 DIGEST-MD5 PLAIN LOGIN\n",
    );
    expect((await runSteps(host, steps, "check")).status).toBe("ok");
  });

  it("RHEL: /etc/sasl2/smtpd.conf as shipped (saslauthd) is rewritten in place, mode kept", async () => {
    const path = "/etc/sasl2/smtpd.conf";
    const host = mockHost("rocky9").file(path, "pwcheck_method: saslauthd\nmech_list: plain login\n", { mode: "0640" });
    await runSteps(host, () => [configKeys({ path, settings: sasl, separator: ": " })], "apply");
    expect(host.files.get(path)).toMatchObject({ mode: "0640" });
    expect(host.files.get(path)?.content.toString()).toBe(
      "pwcheck_method: auxprop\nmech_list: CRAM-MD5 DIGEST-MD5 PLAIN LOGIN\nauxprop_plugin: sasldb\n",
    );
  });
});
