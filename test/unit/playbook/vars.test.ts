/**
 * `--var` and vars files (issue 11): values converted by the playbook's schema, `__proto__` and
 * unknown names refused, a secret on the command line noticed.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../../src/playbook/playbook.ts";
import {
  checkKnownVars,
  mergeVars,
  parseVarAssignments,
  readVarsFile,
  secretAssignments,
  secretVar,
  validateVars,
} from "../../../src/playbook/vars.ts";
import { isSecret } from "../../../src/shell/secret.ts";

const playbook = definePlaybook({
  name: "mail",
  vars: z.object({
    hostname: z.string(),
    noplaintext: z.boolean().default(true),
    retries: z.number().int().default(3),
    mode: z.string().default("0644"),
    ports: z.array(z.number()).default([25]),
    relay: z.object({ host: z.string(), port: z.number().optional() }).optional(),
    seconds: z.coerce.number().default(1),
    users: z.array(z.object({ name: z.string(), password: secretVar() })).default([]),
    password: secretVar().optional(),
    labels: z.record(z.string(), z.string()).default({}),
  }),
  steps: () => [],
});

const cli = (...assignments: string[]) => parseVarAssignments(assignments, playbook.vars);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-cli-vars-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("--var values take the type their field expects", () => {
  it("booleans and numbers, which used to fail with 'expected boolean, received string'", () => {
    const vars = validateVars(playbook, cli("hostname=mx", "noplaintext=false", "retries=5", "relay.host=smtp", "relay.port=587"));
    expect(vars).toMatchObject({ noplaintext: false, retries: 5, relay: { host: "smtp", port: 587 } });
    expect(validateVars(playbook, cli("hostname=mx", "noplaintext=no")).noplaintext).toBe(false);
    expect(validateVars(playbook, cli("hostname=mx", "noplaintext=yes")).noplaintext).toBe(true);
  });

  it("lists as YAML flow; strings as written (no '0644' → 420, no 'yes' → true)", () => {
    expect(validateVars(playbook, cli("hostname=mx", "ports=[25, 587]")).ports).toEqual([25, 587]);
    expect(cli("hostname=25", "mode=0644", "labels.env=yes")).toEqual({ hostname: "25", mode: "0644", labels: { env: "yes" } });
    expect(cli("seconds=12")).toEqual({ seconds: "12" }); // z.coerce takes the text itself
  });

  it("a value that fits no reading stays text, and validation names the field", () => {
    expect(() => validateVars(playbook, cli("hostname=mx", "retries=many"))).toThrow(/retries: .*expected number/i);
    expect(() => validateVars(playbook, cli("hostname=mx", "noplaintext=maybe"))).toThrow(/noplaintext: .*expected boolean/i);
  });

  it("a secret as {fromEnv: NAME} on the command line", () => {
    process.env.PROVISION_CLI_VARS_TEST = "s3cret-value";
    try {
      const vars = validateVars(playbook, cli("hostname=mx", "password={fromEnv: PROVISION_CLI_VARS_TEST}"));
      expect(isSecret(vars.password)).toBe(true);
      expect(vars.password?.reveal()).toBe("s3cret-value");
    } finally {
      delete process.env.PROVISION_CLI_VARS_TEST;
    }
  });
});

describe("a secret given with --var", () => {
  it("is named (its value is in argv, visible in ps); {fromEnv}/{fromFile} forms are not", () => {
    expect(secretAssignments(["hostname=mx", "password=hunter2", "users.0.password=pw"], playbook.vars)).toEqual([
      "password",
      "users.0.password",
    ]);
    expect(secretAssignments(["password={fromEnv: PW}", "password={ fromFile: /root/pw }"], playbook.vars)).toEqual([]);
  });
});

describe("__proto__ and friends", () => {
  it("are refused in --var (they used to set Object.prototype)", () => {
    expect(() => parseVarAssignments(["__proto__.polluted=yes"])).toThrow(
      '--var __proto__.polluted: the key "__proto__" is not allowed in vars',
    );
    expect(() => parseVarAssignments(["relay.constructor.prototype.x=1"])).toThrow(/not allowed in vars/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("are refused in vars files, YAML and JSON, at any depth", async () => {
    const json = join(dir, "vars.json");
    await writeFile(json, '{"hostname": "mx", "relay": {"__proto__": {"host": "evil"}}}');
    await expect(readVarsFile(json)).rejects.toThrow(`--vars-file ${json}: the key "__proto__" is not allowed in vars`);
    const yaml = join(dir, "vars.yml");
    await writeFile(yaml, "hostname: mx\n__proto__:\n  noplaintext: false\n");
    await expect(readVarsFile(yaml)).rejects.toThrow(/"__proto__" is not allowed/);
  });

  it("cannot reach a merged object's prototype", () => {
    const hostile = JSON.parse('{"__proto__": {"noplaintext": false}}') as Record<string, unknown>;
    expect(() => mergeVars({ hostname: "mx" }, hostile)).toThrow(/"__proto__" is not allowed/);
  });
});

describe("unknown vars from the command line or a vars file", () => {
  it("are refused with the closest known name (a zod object would drop them silently)", () => {
    expect(() => checkKnownVars(playbook, cli("hostname=mx", "noplaintxt=false"), "--var")).toThrow(
      'playbook "mail": unknown vars in --var\n  noplaintxt: not a var of this playbook (did you mean noplaintext?)',
    );
    expect(() => checkKnownVars(playbook, { relay: { host: "a", prot: 1 } }, "--vars-file v.yml")).toThrow(
      /relay\.prot: .*did you mean port\?/,
    );
    expect(() => checkKnownVars(playbook, { users: [{ name: "a", password: "p", pasword: "x" }] }, "f")).toThrow(/users\.0\.pasword/);
  });

  it("records, secrets and known names pass", () => {
    expect(() => checkKnownVars(playbook, { hostname: "a", labels: { anything: "x" }, password: { fromEnv: "X" } }, "--var")).not.toThrow();
  });
});
