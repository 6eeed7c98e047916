/**
 * The worked example of docs/writing-a-step.md (docs/examples/hosts-entry.ts) on a real host, over
 * SSH: the whole cycle (apply → 0 changes → check clean → tamper → check names it → apply → clean),
 * with the file read back on the host itself. Position 7 (shared with cli-ssh, which never reads
 * /etc/hosts); the host's /etc/hosts is restored afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostsEntry } from "../../docs/examples/hosts-entry.ts";
import { testHost } from "./support/fleet.ts";
import { cycle, drifted, onHost } from "./support/steps-cycle.ts";

const host = testHost(Number(process.env.PROVISION_WRITING_A_STEP_HOST ?? 7));
let original: string;

beforeAll(async () => {
  original = await onHost(host, "cat /etc/hosts");
});
afterAll(async () => {
  await onHost(host, `printf '%s' '${original.replaceAll("'", "'\\''")}' > /etc/hosts`);
});

describe("the worked example of docs/writing-a-step.md on a real host", () => {
  it("adds the entry, converges, detects a hand edit exactly, repairs it; the host's file says so", async () => {
    const steps = () => [hostsEntry({ name: "db1.internal", address: "10.213.99.5" })];
    const drift = await cycle(host, steps, "sed -i 's/^10.213.99.5\\tdb1.internal$/10.213.99.6 db1.internal/' /etc/hosts");
    expect(drifted(drift)).toEqual(["hosts entry db1.internal → 10.213.99.5"]);
    expect(drift.steps[0]?.summary).toBe("10.213.99.6 → 10.213.99.5");
    const hosts = await onHost(host, "cat /etc/hosts");
    expect(hosts.split("\n").filter((line) => line.includes("db1.internal"))).toEqual(["10.213.99.5\tdb1.internal"]);
    expect(hosts.startsWith(original)).toBe(true);
    expect((await onHost(host, "stat -c '%U %G %a' /etc/hosts")).trim()).toBe("root root 644");
  });
});
