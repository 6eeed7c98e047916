/**
 * The unit tests' test-host kit: a mock host whose facts are a typed `Facts` object (rendered into
 * the facts probe's output and checked to parse back to exactly that object, so a table cannot
 * drift from what the runner would see), and one way to run steps on it through the real runner.
 */
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { parseFacts, type Facts } from "../../src/facts/facts.ts";
import { definePlaybook } from "../../src/playbook/playbook.ts";
import type { Handler, PlaybookItem } from "../../src/playbook/step.ts";
import type { HostReport, RunEvent } from "../../src/report/events.ts";
import { runHost, type RunMode } from "../../src/run/host-runner.ts";
import { MockTransport, runnerScript } from "../../src/transport/mock.ts";

const DEBIAN_PATHS = {
  saslConfigDir: "/etc/postfix/sasl",
  iptablesSaveFile: "/etc/iptables/rules.v4",
  ip6tablesSaveFile: "/etc/iptables/rules.v6",
  postfixChroot: "/var/spool/postfix",
} as const;
const RHEL_PATHS = {
  saslConfigDir: "/etc/sasl2",
  iptablesSaveFile: "/etc/sysconfig/iptables",
  ip6tablesSaveFile: "/etc/sysconfig/ip6tables",
  postfixChroot: null,
} as const;

/** The hosts the unit tests play, as the runner sees them. */
export const FACTS = {
  debian12: {
    hostname: "mail1",
    osFamily: "debian",
    distro: "debian",
    version: "12",
    packageManager: "apt",
    serviceManager: "systemd",
    uid: 0,
    arch: "x86_64",
    paths: DEBIAN_PATHS,
  },
  // CentOS 7's cyrus-sasl reads the legacy /usr/lib64/sasl2 (no /etc/sasl2 on the recorded host).
  centos7: {
    hostname: "mail7",
    osFamily: "rhel",
    distro: "centos",
    version: "7",
    packageManager: "yum",
    serviceManager: "systemd",
    uid: 0,
    arch: "x86_64",
    paths: { ...RHEL_PATHS, saslConfigDir: "/usr/lib64/sasl2" },
  },
  centos6: {
    hostname: "mail6",
    osFamily: "rhel",
    distro: "centos",
    version: "6",
    packageManager: "yum",
    serviceManager: "sysv",
    uid: 0,
    arch: "x86_64",
    paths: { ...RHEL_PATHS, saslConfigDir: "/usr/lib64/sasl2" },
  },
  rocky9: {
    hostname: "mail9",
    osFamily: "rhel",
    distro: "rocky",
    version: "9.3",
    packageManager: "dnf",
    serviceManager: "systemd",
    uid: 0,
    arch: "x86_64",
    paths: RHEL_PATHS,
  },
} as const satisfies Record<string, Facts>;

export type Distro = keyof typeof FACTS;

const ID_LIKE: Record<string, string> = {
  debian: "",
  ubuntu: "debian",
  centos: "rhel fedora",
  rocky: "rhel centos fedora",
  rhel: "fedora",
};

/** What the facts probe (src/facts/facts.ts) prints on a host with these facts; throws if none could. */
export function factsOutput(facts: Facts): string {
  const has = [
    ...({ apt: ["apt-get"], dnf: ["dnf", "yum"], yum: ["yum"], unknown: [] }[facts.packageManager] ?? []),
    ...(facts.serviceManager === "systemd" ? ["systemctl", "service"] : facts.serviceManager === "sysv" ? ["service"] : []),
  ];
  const lines = [
    `hostname=${facts.hostname}`,
    `arch=${facts.arch}`,
    `uid=${facts.uid}`,
    `id=${facts.distro}`,
    `id_like=${ID_LIKE[facts.distro] ?? (facts.osFamily === "unknown" ? "" : facts.osFamily)}`,
    `version=${facts.version}`,
    ...has.map((tool) => `has=${tool}`),
    ...(facts.serviceManager === "systemd" ? ["systemd_running=1"] : []),
    `dir=${facts.paths.saslConfigDir}`,
  ];
  const output = `${lines.join("\n")}\n`;
  const parsed = parseFacts({ exitCode: 0, stdout: Buffer.from(output), stderr: Buffer.alloc(0) });
  if (!isDeepStrictEqual(parsed, facts)) {
    throw new Error(`test host: no host prints facts that parse to ${JSON.stringify(facts)} (got ${JSON.stringify(parsed)})`);
  }
  return output;
}

/** A mock host answering the facts probe with these facts (a distro name, or your own; `hostname` overrides). */
export function testHost(facts: Distro | Facts = "debian12", options: { name?: string; hostname?: string } = {}): MockTransport {
  const base: Facts = typeof facts === "string" ? FACTS[facts] : facts;
  const resolved = options.hostname ? { ...base, hostname: options.hostname } : base;
  return new MockTransport(options.name ?? (typeof facts === "string" ? facts : resolved.hostname)).on(runnerScript("facts"), {
    stdout: factsOutput(resolved),
  });
}

/** Run steps on a mock host through the real runner (the host and its state outlive the run). */
export async function runSteps(
  host: MockTransport,
  steps: (facts: Facts) => PlaybookItem[],
  mode: RunMode,
  options: { handlers?: Record<string, Handler>; name?: string } = {},
): Promise<{ report: HostReport; events: RunEvent[]; step: HostReport["steps"][number] | undefined }> {
  const events: RunEvent[] = [];
  const playbook = definePlaybook({
    name: options.name ?? "t",
    vars: z.object({}),
    steps: ({ facts }) => steps(facts),
    handlers: () => options.handlers ?? {},
  });
  const report = await runHost({
    playbook,
    vars: {},
    host: { name: host.host, address: host.host },
    connect: async () => host.reopen(),
    mode,
    emit: (event) => events.push(event),
  });
  return { report, events, step: report.steps[0] };
}
