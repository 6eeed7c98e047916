/**
 * The simulated host of bench/scale.ts: it replays the recorded exchange of a real converged mail
 * host (bench/results/mail-converged.recording.json) so that the real runner, reads and diffs find
 * the host converged — with each new batch's own output marker — and refuses a command it did not
 * record instead of answering it wrongly.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SimulatedTransport, type Recording } from "../../../bench/simulated-transport.ts";
import { loadPlaybook } from "../../../src/playbook/load-playbook.ts";
import { validateVars } from "../../../src/playbook/vars.ts";
import { runHost } from "../../../src/run/host-runner.ts";

const REPO = path.resolve(import.meta.dirname, "../../..");
const recording = JSON.parse(fs.readFileSync(path.join(REPO, "bench/results/mail-converged.recording.json"), "utf8")) as Recording;

async function check(transport: SimulatedTransport) {
  process.env.MAIL_BENCH_PASSWORD ??= "Bench-Pw-2231";
  const playbook = await loadPlaybook(path.join(REPO, "playbooks/mail.ts"));
  const vars = validateVars(playbook, {
    hostname: "mail.example.test",
    users: [{ name: "bob", password: { fromEnv: "MAIL_BENCH_PASSWORD" } }],
    verify: { smtpFrom: "host" },
  });
  return runHost({
    playbook,
    vars,
    host: { name: transport.host, address: transport.host },
    connect: async () => transport,
    mode: "check",
  });
}

describe("simulated host (replay of a real converged host)", () => {
  it("a converged --check of the mail playbook finds every step ok, in the recorded round trips", async () => {
    const report = await check(new SimulatedTransport("sim1", recording, { rttMs: 0, hostMs: 0 }));
    expect(report.status).toBe("ok");
    expect(report.steps.length).toBeGreaterThan(10);
    expect(report.steps.filter((s) => s.status !== "ok")).toEqual([]);
    expect(report.roundTrips).toBe(recording.execs.length);
  });

  it("a command it did not record fails the host loudly", async () => {
    const transport = new SimulatedTransport("sim2", recording, { rttMs: 0, hostMs: 0 });
    await expect(transport.exec("rm -rf /tmp/x")).rejects.toThrow(/not the recorded one/);
  });
});
