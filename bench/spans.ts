/**
 * Where the wall time of one host's run goes: runs a playbook on one host through the engine (as
 * the CLI does) with a transport that times every command, and times the connect, the facts, each
 * batch, the local reads (verify smtp) on their own, and a bare `true` round trip for comparison.
 *
 *   npx tsx bench/spans.ts --host ADDR --identity KEY --known-hosts KH --vars-file F [--check]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { connectSsh } from "../src/transport/ssh/index.ts";
import type { Transport } from "../src/transport/transport.ts";
import { loadPlaybook } from "../src/playbook/load-playbook.ts";
import { readVarsFile, validateVars } from "../src/playbook/vars.ts";
import { runHost } from "../src/run/host-runner.ts";
import { HostSession } from "../src/transport/host-session.ts";
import { factsCommand, parseFacts } from "../src/facts/facts.ts";

const { values } = parseArgs({
  options: {
    host: { type: "string" },
    identity: { type: "string" },
    "known-hosts": { type: "string" },
    "vars-file": { type: "string" },
    playbook: { type: "string", default: "playbooks/mail.ts" },
    check: { type: "boolean", default: false },
    /** The host's cgroup2 dir (the harness puts each test host in one): adds host-side CPU per read. */
    cgroup: { type: "string" },
  },
});
const address = values.host as string;
const ms = (t: number) => `${(performance.now() - t).toFixed(0)} ms`;
const hostCpuMs = (): number => {
  if (!values.cgroup) return NaN;
  const line = readFileSync(`${values.cgroup}/cpu.stat`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("usage_usec "));
  return Number(line?.split(" ")[1]) / 1000;
};

const connect = () =>
  connectSsh({
    host: address,
    user: "root",
    identityFiles: [values.identity as string],
    knownHostsFiles: [values["known-hosts"] as string],
    sshConfigPath: false,
    agent: false,
  });

function timed(transport: Transport): Transport {
  return new Proxy(transport, {
    get(target, key, receiver) {
      if (key !== "exec") return Reflect.get(target, key, receiver);
      return async (command: string, options?: Parameters<Transport["exec"]>[1]) => {
        const t = performance.now();
        const result = await target.exec(command, options);
        const first = command
          .split("\n")
          .find((l) => !l.startsWith("#"))
          ?.slice(0, 60);
        console.log(`  exec ${ms(t)}  (${command.length} bytes, exit ${result.exitCode}, ${result.stdout.length} bytes out) ${first}`);
        return result;
      };
    },
  });
}

let t = performance.now();
const playbook = await loadPlaybook(values.playbook as string);
const vars = validateVars(playbook, await readVarsFile(values["vars-file"] as string));
console.log(`load playbook + vars: ${ms(t)}`);

t = performance.now();
const bare = await connect();
console.log(`connect: ${ms(t)}`);
for (let i = 0; i < 3; i += 1) {
  t = performance.now();
  await bare.exec("true");
  console.log(`bare 'true' round trip: ${ms(t)}`);
}
await bare.close();

t = performance.now();
const report = await runHost({
  playbook,
  vars,
  host: { name: address, address },
  connect: async () => {
    const c = performance.now();
    const transport = await connect();
    console.log(`  connect ${ms(c)}`);
    return timed(transport);
  },
  mode: values.check ? "check" : "apply",
});
console.log(`runHost: ${ms(t)} → ${report.status}, round trips ${report.roundTrips} (reads ${report.readRoundTrips})`);
for (const step of report.steps) if (step.durationMs > 20) console.log(`  step ${step.name}: ${step.durationMs} ms`);

// Each step's read alone (remote: one round trip each, minus ~1 bare round trip = its cost on the host).
const session = new HostSession(await connect());
const facts = parseFacts(await session.run(factsCommand));
const items = playbook.steps({ vars, facts, host: { name: address, address } } as never);
const ROUNDS = 10;
const cost = async (what: string, run: () => Promise<unknown>) => {
  const cpu = hostCpuMs();
  t = performance.now();
  for (let i = 0; i < ROUNDS; i += 1) await run();
  const wall = (performance.now() - t) / ROUNDS;
  const host = (hostCpuMs() - cpu) / ROUNDS;
  console.log(`${wall.toFixed(1).padStart(6)} ms wall ${Number.isNaN(host) ? "" : `${host.toFixed(1).padStart(6)} ms host CPU`}  ${what}`);
};
console.log(`each read alone, mean of ${ROUNDS} (a bare round trip included):`);
await cost("bare round trip (true)", () => session.transport.exec("true"));
for (const item of items) {
  if (!("read" in item)) continue;
  const spec = item.read() as { command?: Parameters<HostSession["run"]>[0]; local?: () => Promise<unknown> };
  await cost(`${spec.local ? "(local) " : ""}${item.name.slice(0, 60)}`, () =>
    spec.local ? spec.local() : session.run(spec.command as never),
  );
}
await session.close();
process.exit(0);
