/**
 * Record what a real converged host answers to a converged `--check` of the mail playbook, for the
 * simulated hosts of scale.ts: every exec's first line, exit code, output and host time.
 *
 *   MAIL_BENCH_PASSWORD=… npx tsx bench/record-host.ts --host 10.213.6.10 --known-hosts … --identity … \
 *     --vars-file mail.yml --out bench/results/mail-converged.recording.json
 *
 * The vars file should say `verify: { smtpFrom: host }`: the SMTP check then runs on the host,
 * through the transport, and is recorded (from the controller it would need a real address).
 * Writes nothing if the run is not a clean converged check (every step ok).
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { parseRunArgs } from "../src/cli/args.ts";
import { connectSshHost } from "../src/cli/connect-ssh.ts";
import { loadPlaybook } from "../src/playbook/load-playbook.ts";
import { readVarsFile, validateVars } from "../src/playbook/vars.ts";
import { runHost } from "../src/run/host-runner.ts";
import type { ExecOptions, Transport } from "../src/transport/transport.ts";
import { batchMarker, firstLine, type RecordedExec, type Recording } from "./simulated-transport.ts";

const { values } = parseArgs({
  options: {
    host: { type: "string" },
    "known-hosts": { type: "string" },
    identity: { type: "string" },
    "vars-file": { type: "string" },
    out: { type: "string" },
  },
});
const host = values.host ?? "";
const args = parseRunArgs([
  "playbooks/mail.ts",
  "--host",
  host,
  "--user",
  "root",
  "--identity",
  values.identity ?? "",
  "--known-hosts",
  values["known-hosts"] ?? "",
  "--ssh-config",
  "/dev/null",
  "--check",
]);
const playbook = await loadPlaybook("playbooks/mail.ts");
const vars = validateVars(playbook, await readVarsFile(values["vars-file"] ?? ""), host);
const execs: RecordedExec[] = [];

function recording(inner: Transport): Transport {
  return {
    host: inner.host,
    async exec(command: string, options?: ExecOptions) {
      const started = performance.now();
      const result = await inner.exec(command, options);
      const marker = batchMarker(options?.stdin);
      execs.push({
        head: firstLine(command),
        ...(marker ? { marker } : {}),
        exitCode: result.exitCode,
        stdout: result.stdout.toString("base64"),
        stderr: result.stderr.toString("base64"),
        hostMs: Math.round((performance.now() - started) * 10) / 10,
      });
      return result;
    },
    close: () => inner.close(),
  };
}

const report = await runHost({
  playbook,
  vars,
  host: { name: host, address: host },
  connect: async () => recording(await connectSshHost(host, args)),
  mode: "check",
});
const bad = report.steps.filter((s) => s.status !== "ok");
if (report.status !== "ok" || bad.length) {
  console.error(`not a converged check: ${report.status}; ${bad.map((s) => `${s.name}: ${s.status}`).join("; ")}`);
  process.exit(1);
}
const out: Recording = { recordedAt: new Date().toISOString(), host, mode: "check", execs };
fs.writeFileSync(values.out ?? "recording.json", `${JSON.stringify(out, null, 1)}\n`);
console.log(`${execs.length} execs recorded: ${execs.map((e) => `${e.head.slice(0, 40)} (${e.hostMs} ms)`).join(", ")}`);
