import { describe, expect, it } from "vitest";
import { packages, type PackagesParams } from "../../../src/steps/packages.ts";
import { applied, mockHost, run, type Distro } from "./system-hosts.ts";

const APT = "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold";
const UPDATE = "apt-get -q update && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp";

interface Case {
  title: string;
  distro: Distro;
  params: PackagesParams;
  /** stdout of the step's read (one fragment). */
  read: string;
  summary: string | null;
  commands: string[];
}

const cases: Case[] = [
  {
    title: "debian: missing package is installed (dpkg-query exit 1 parsed anyway)",
    distro: "debian12",
    params: { names: ["hello"], state: "installed" },
    read: "@provision:rc 1\n@provision:lists\n",
    summary: "install hello",
    commands: [`${APT} install -- hello`],
  },
  {
    title: "debian: installed package is ok",
    distro: "debian12",
    params: { names: ["hello", "postfix"], state: "installed" },
    read: "hello\tinstall ok installed\t2.10-3\npostfix\tinstall ok installed\t3.7.11-0+deb12u1\n@provision:rc 0\n@provision:lists\n",
    summary: null,
    commands: [],
  },
  {
    title: "debian: empty package lists → apt-get update first",
    distro: "debian12",
    params: { names: ["hello"] },
    read: "@provision:rc 1\n",
    summary: "install hello",
    commands: [UPDATE, `${APT} install -- hello`],
  },
  {
    title: "debian: config-files only counts as absent",
    distro: "debian12",
    params: { names: ["hello"], state: "absent" },
    read: "hello\tdeinstall ok config-files\t2.10-3\n@provision:rc 0\n@provision:lists\n",
    summary: null,
    commands: [],
  },
  {
    title: "debian: absent removes what is installed",
    distro: "debian12",
    params: { names: ["hello", "sl"], state: "absent" },
    read: "hello\tinstall ok installed\t2.10-3\n@provision:rc 1\n@provision:lists\n",
    summary: "remove hello",
    commands: [`${APT} remove -- hello`],
  },
  {
    title: "debian: latest upgrades to the candidate",
    distro: "debian12",
    params: { names: ["hello", "postfix"], state: "latest" },
    read:
      "hello\tinstall ok installed\t2.10-2\npostfix\tinstall ok installed\t3.7.11\n@provision:rc 0\n@provision:lists\n@provision:policy\n" +
      "hello:\n  Installed: 2.10-2\n  Candidate: 2.10-3\n  Version table:\npostfix:\n  Installed: 3.7.11\n  Candidate: 3.7.11\n",
    summary: "upgrade hello 2.10-2 → 2.10-3",
    commands: [`${APT} install -- hello`],
  },
  {
    title: "debian: a stale cache (max age) is a change of its own",
    distro: "debian12",
    params: { names: ["hello"], cacheMaxAgeSeconds: 3600 },
    read: "hello\tinstall ok installed\t2.10-3\n@provision:rc 0\n@provision:lists\n@provision:age\n1700007200 1700000000\n",
    summary: "refresh apt cache (7200s old)",
    commands: [UPDATE],
  },
  {
    title: "debian: a fresh cache is not",
    distro: "debian12",
    params: { names: ["hello"], cacheMaxAgeSeconds: 3600 },
    read: "hello\tinstall ok installed\t2.10-3\n@provision:rc 0\n@provision:lists\n@provision:age\n1700000100 1700000000\n",
    summary: null,
    commands: [],
  },
  {
    title: "rocky 9: dnf install",
    distro: "rocky9",
    params: { names: ["postfix", "cyrus-sasl-plain"] },
    read: "postfix\t2:3.5.9-24.el9.x86_64\npackage cyrus-sasl-plain is not installed\n@provision:rc 1\n",
    summary: "install cyrus-sasl-plain",
    commands: ["dnf -y -q install -- cyrus-sasl-plain"],
  },
  {
    title: "centos 7: yum latest upgrades what check-update lists",
    distro: "centos7",
    params: { names: ["postfix", "cyrus-sasl-md5"], state: "latest", updateCache: true },
    read:
      "postfix\t2:2.10.1-6.el7.x86_64\ncyrus-sasl-md5\t(none):2.1.26-23.el7.x86_64\n@provision:rc 0\n@provision:updates\n\n" +
      "postfix.x86_64                2:2.10.1-9.el7               base\n@provision:cu 100\n",
    summary: "upgrade postfix 2:2.10.1-6.el7.x86_64 → 2:2.10.1-9.el7",
    commands: ["yum clean expire-cache", "yum -y -q upgrade -- postfix"],
  },
  {
    title: "centos 7: removal",
    distro: "centos7",
    params: { names: ["sendmail"], state: "absent" },
    read: "sendmail\t(none):8.14.7-6.el7.x86_64\n@provision:rc 0\n",
    summary: "remove sendmail",
    commands: ["yum -y -q remove -- sendmail"],
  },
];

describe("packages", () => {
  it.each(cases)("$title", async (c) => {
    const check = mockHost(c.distro).on((cmd) => cmd.startsWith("dpkg-query") || cmd.startsWith("rpm -q"), { stdout: c.read });
    const checked = await run(check, "check", (facts) => [packages(facts, c.params)]);
    expect(checked.step?.status).toBe(c.summary ? "would-change" : "ok");
    expect(checked.step?.summary).toBe(c.summary ?? undefined);
    expect(applied(check)).toEqual([]); // check mode: reads only

    const host = mockHost(c.distro).on((cmd) => cmd.startsWith("dpkg-query") || cmd.startsWith("rpm -q"), { stdout: c.read });
    host.on(/^(DEBIAN_FRONTEND|apt-get|yum|dnf|mkdir)/, { exitCode: 0 });
    const result = await run(host, "apply", (facts) => [packages(facts, c.params)]);
    expect(result.step?.status).toBe(c.summary ? "changed" : "ok");
    expect(applied(host)).toEqual(c.commands);
  });

  it("refreshes the apt cache and retries once when the package is unknown to a stale cache", async () => {
    let installs = 0;
    const host = mockHost("debian12")
      .on("dpkg-query", { stdout: "@provision:rc 1\n@provision:lists\n" })
      .on("apt-get -q update", { exitCode: 0 })
      .on("install -- hello", () =>
        ++installs === 1 ? { exitCode: 100, stderr: "E: Unable to locate package hello\n" } : { exitCode: 0 },
      );
    const result = await run(host, "apply", (facts) => [packages(facts, { names: ["hello"] })]);
    expect(result.step?.status).toBe("changed");
    expect(applied(host)).toEqual([`${APT} install -- hello`, UPDATE, `${APT} install -- hello`]);
  });

  it("fails (not retries) on other install errors", async () => {
    const host = mockHost("debian12")
      .on("dpkg-query", { stdout: "@provision:rc 1\n@provision:lists\n" })
      .on("install -- hello", { exitCode: 100, stderr: "E: Could not get lock /var/lib/dpkg/lock-frontend\n" });
    const result = await run(host, "apply", (facts) => [packages(facts, { names: ["hello"] })]);
    expect(result.step?.status).toBe("failed");
    expect(result.step?.error).toContain("Could not get lock");
  });

  it.each([
    ["dpkg-query broken", "debian12", "@provision:rc 2\n"],
    ["check-update error", "rocky9", "postfix\t2:3.5.9\n@provision:rc 0\n@provision:updates\n@provision:cu 1\n"],
  ] as const)("a read it cannot trust fails the step: %s", async (_, distro, read) => {
    const host = mockHost(distro).on(/^(dpkg-query|rpm -q)/, { stdout: read });
    const result = await run(host, "check", (facts) => [packages(facts, { names: ["postfix"], state: "latest" })]);
    expect(result.step?.status).toBe("failed");
  });

  it("sends one query for the whole list", async () => {
    const host = mockHost("debian12").on("dpkg-query", { stdout: "@provision:rc 1\n@provision:lists\n" });
    await run(host, "check", (facts) => [packages(facts, { names: ["postfix", "sasl2-bin", "db-util"] })]);
    const reads = host.commands.filter((c) => c.batched);
    expect(reads).toHaveLength(1);
    expect(reads[0]?.command).toContain("dpkg-query -W -f='${Package}\\t${Status}\\t${Version}\\n' -- postfix sasl2-bin db-util");
  });

  it("rejects names that would be options", () => {
    expect(() => packages({ packageManager: "apt" }, { names: ["-o=foo"] })).toThrow(/packages: invalid parameters/);
  });
});
