/**
 * Re-record test/unit/playbooks/fixtures/debian12-bare-mail-check.json: every command a real
 * Debian 12 test host answers during `playbooks/mail.ts --check` with Postfix and Cyrus SASL purged,
 * with the vars of test/unit/playbooks/mail-bare-debian.test.ts (test/support/bare-mail.ts).
 *
 *   PROVISION_TESTHOSTS_INSTANCE=5 npx tsx test/hosts/cli.ts up 1
 *   PROVISION_TESTHOSTS_INSTANCE=5 npx tsx test/support/record-bare-mail.ts [--purge] [--out FILE]
 *   PROVISION_TESTHOSTS_INSTANCE=5 npx tsx test/hosts/cli.ts down
 *
 * It connects to the fleet's first host (named th01, as the test's mock host is) over SSH with the
 * fleet's key and known_hosts; `--purge` first runs `apt-get purge` of BARE_MAIL_PURGED there (local
 * to the host: no mirror needed). The run goes through the real runner with no plan cache, as the
 * test's does, so the same commands are sent. A read batch is split into its fragments as the mock
 * host splits it (the header's spans); the runner's own lock and owed-handlers fragments are left
 * out, because the mock answers those by its models. Nothing is edited by hand: what the host
 * printed is what is stored. Refuses to write unless the host really is bare (the packages step
 * would install Postfix and nothing failed).
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import mail from "../../playbooks/mail.ts";
import { parseRunArgs } from "../../src/cli/args.ts";
import { connectSshHost } from "../../src/cli/connect-ssh.ts";
import { validateVars } from "../../src/playbook/vars.ts";
import { splitBatchOutput } from "../../src/run/read-batch.ts";
import { runHost } from "../../src/run/host-runner.ts";
import { sh } from "../../src/shell/sh.ts";
import { unwrapScript } from "../../src/transport/mock.ts";
import { type ExecOptions, type ExecResult, stdinParts, type Transport } from "../../src/transport/transport.ts";
import { hostExec, readFleet } from "../hosts/harness.ts";
import { hostCliArgs } from "./cli-connection-args.ts";
import { BARE_MAIL_FIXTURE, BARE_MAIL_PURGED, BARE_MAIL_VARS, type RecordedCommand } from "./bare-mail.ts";

const { values } = parseArgs({ options: { purge: { type: "boolean" }, out: { type: "string" } } });
const fleet = readFleet();
const host = fleet?.hosts[0];
if (!fleet || !host) throw new Error("no test fleet: start one with `npx tsx test/hosts/cli.ts up 1` (same PROVISION_TESTHOSTS_INSTANCE)");

if (values.purge) {
  const purged = await hostExec(host, `DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ${BARE_MAIL_PURGED.join(" ")}`);
  if (purged.exitCode !== 0) throw new Error(`apt-get purge failed (exit ${purged.exitCode}): ${purged.stderr}`);
}

const recorded: RecordedCommand[] = [];
const store = (command: string, result: ExecResult) =>
  recorded.push({
    command,
    exitCode: result.exitCode,
    stdout: result.stdout.toString("base64"),
    stderr: result.stderr.toString("base64"),
  });

/** A read batch's marker and fragments, from its header line (src/run/read-batch.ts). */
function decodeBatch(script: string): { marker: string; fragments: string[] } | undefined {
  const newline = script.indexOf("\n");
  const header = /^# provision-batch v1 (\{.*\})$/.exec(newline < 0 ? script : script.slice(0, newline))?.[1];
  if (!header) return undefined;
  const { marker, fragments } = JSON.parse(header) as { marker: string; fragments: [number, number][] };
  const body = script.slice(newline + 1);
  return { marker, fragments: fragments.map(([start, length]) => body.slice(start, start + length)) };
}

/** The runner's lock and owed-handlers scripts: the mock host answers them by its models. */
const isModelled = (fragment: string) => /^# provision-(lock|pending-handlers) /.test(fragment);

function recording(inner: Transport): Transport {
  return {
    host: inner.host,
    async exec(command: string, options?: ExecOptions) {
      const result = await inner.exec(command, options);
      // A command holding a secret travels as a script on stdin; the mock sees the script.
      const script = command === "sh -s" ? unwrapScript(Buffer.concat(stdinParts(options?.stdin)).toString("utf8")) : command;
      const batch = decodeBatch(script);
      if (!batch) store(script, result);
      else {
        const results = splitBatchOutput({ command: sh`:`, marker: batch.marker, count: batch.fragments.length }, result);
        for (const [i, fragment] of batch.fragments.entries()) if (!isModelled(fragment)) store(fragment, results[i] as ExecResult);
      }
      return result;
    },
    close: () => inner.close(),
  };
}

const args = parseRunArgs(["playbooks/mail.ts", ...hostCliArgs(fleet, host.address), "--check"]);
const report = await runHost({
  playbook: mail,
  vars: validateVars(mail, BARE_MAIL_VARS),
  host: { name: host.name, address: host.address },
  connect: async () => recording(await connectSshHost(host.address, args)),
  mode: "check",
});
const [packages] = report.steps;
const failed = report.steps.filter((s) => s.status === "failed");
if (packages?.status !== "would-change" || !packages.summary?.includes("postfix") || failed.length > 0) {
  console.error(`not a bare host's check: ${report.steps.map((s) => `${s.name}: ${s.status}`).join("; ")} (run with --purge?)`);
  process.exit(1);
}
const out = values.out ?? BARE_MAIL_FIXTURE;
fs.writeFileSync(out, `${JSON.stringify(recorded, null, 1)}\n`);
console.log(`${recorded.length} commands from ${host.name} (${host.address}) → ${out}`);
for (const s of report.steps) console.log(`  ${s.status.padEnd(12)} ${s.name}`);
