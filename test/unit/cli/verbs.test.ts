/**
 * exec, facts and inventory against the mock transport: several in-memory hosts, what each is sent
 * (argv vs stdin), how their answers are grouped, labelled and counted.
 */
import { describe, expect, it } from "vitest";
import { parseExecArgs, execCommand, execScript } from "../../../src/cli/exec-command.ts";
import { factsCommandRun, factsTable, parseFactsArgs } from "../../../src/cli/facts-command.ts";
import { graphInventory, hostVars, listInventory } from "../../../src/cli/inventory-command.ts";
import type { InventoryHost } from "../../../src/inventory/inventory.ts";
import { InventoryBuilder } from "../../../src/inventory/inventory-builder.ts";
import { secret } from "../../../src/shell/secret.ts";
import { MockTransport } from "../../../src/transport/mock.ts";
import { unwrapScript } from "../../../src/transport/mock.ts";
import { TransportError } from "../../../src/transport/transport.ts";
import { CaptureStream } from "../../support/capture-stream.ts";
import { DEBIAN_FACTS } from "../support/mock-host.ts";

/** Hosts by name; `down` fails to connect, as an unreachable host does. */
function mockFleet(answers: Record<string, { stdout?: string; stderr?: string; exitCode?: number } | "down">) {
  const hosts = new Map<string, MockTransport>();
  for (const [name, answer] of Object.entries(answers)) {
    const mock = new MockTransport(name).on(() => true, answer === "down" ? {} : answer);
    if (answer === "down") mock.failWith = new TransportError(name, "connect", "cannot connect to root@10.0.0.9:22: connect ECONNREFUSED");
    hosts.set(name, mock);
  }
  const connect = async (host: InventoryHost) => {
    const mock = hosts.get(host.name) as MockTransport;
    if (mock.failWith) throw mock.failWith;
    return mock;
  };
  return { hosts, connect };
}

const io = () => ({ stdout: new CaptureStream(), stderr: new CaptureStream() });
const hostFlags = (...names: string[]) => names.flatMap((name) => ["--host", name]);

describe("exec", () => {
  it("sends the command as typed, groups each host's output under its label, exit 1 if any failed", async () => {
    const fleet = mockFleet({
      web1: { stdout: "up 3 days\n" },
      web2: { stdout: "partial", stderr: "disk full\n", exitCode: 2 },
      web3: "down",
    });
    const out = io();
    const code = await execCommand(parseExecArgs([...hostFlags("web1", "web2", "web3"), "--", "uptime", "-p"]), out, fleet.connect);
    expect(code).toBe(1);
    expect(fleet.hosts.get("web1")?.execs.map((e) => e.command)).toEqual(["uptime -p"]);
    const text = out.stdout.text.replace(/\(\d+\.\d\d s\)/g, "(T)");
    expect(text).toContain("=== web1: exit 0 (T)\n--- stdout\nup 3 days\n\n");
    expect(text).toContain("=== web2: exit 2 (failed) (T)\n--- stdout\npartial\n--- stderr\ndisk full\n\n");
    expect(text).toContain("=== web3: unreachable (T)\nweb3: cannot connect to root@10.0.0.9:22: connect ECONNREFUSED\n\n");
    expect(text.trimEnd().split("\n").at(-1)).toBe("3 hosts: 1 ok, 1 non-zero exit, 1 unreachable");
  });

  it("--json keeps the inventory order and says each host's status", async () => {
    const fleet = mockFleet({ b: { stdout: "x" }, a: { exitCode: 1 } });
    const out = io();
    await execCommand(parseExecArgs([...hostFlags("b", "a"), "--json", "--", "true"]), out, fleet.connect);
    const report = JSON.parse(out.stdout.text);
    expect(report.hosts.map((h: { host: string; status: string }) => [h.host, h.status])).toEqual([
      ["b", "ok"],
      ["a", "failed"],
    ]);
    expect(report.exitCode).toBe(1);
  });

  it("a --secret-env value goes to the host on stdin only (the argv is `sh -s`), and is masked in what it prints", async () => {
    process.env.PROVISION_VERBS_PW = "Verbs-Mock-Secret-311";
    try {
      const fleet = mockFleet({ db1: { stdout: "password is Verbs-Mock-Secret-311\n" } });
      const out = io();
      await execCommand(
        parseExecArgs(["--host", "db1", "--secret-env", "PROVISION_VERBS_PW", "--", 'echo "$PROVISION_VERBS_PW"']),
        out,
        fleet.connect,
      );
      const [sent] = fleet.hosts.get("db1")?.execs ?? [];
      expect(sent?.command).toBe("sh -s");
      // The script runs as one { … } group (host-session.ts: a script cut short runs nothing).
      expect(unwrapScript(sent?.stdin.toString() ?? "")).toBe(
        'PROVISION_VERBS_PW=Verbs-Mock-Secret-311; export PROVISION_VERBS_PW\n{\necho "$PROVISION_VERBS_PW"\n} </dev/null',
      );
      expect(out.stdout.text).toContain("password is ***\n");
      expect(out.stdout.text).not.toContain("Verbs-Mock-Secret-311");
    } finally {
      delete process.env.PROVISION_VERBS_PW;
    }
  });

  it("execScript shows the secret masked in its display text", () => {
    const command = execScript('mysql -p"$PW"', new Map([["PW", secret("Display-Secret-99")]]));
    expect(command.display).toBe('PW=***; export PW\n{\nmysql -p"$PW"\n} </dev/null');
    expect(command.hasSecret).toBe(true);
  });
});

describe("facts", () => {
  it("gathers with one round trip per host and prints a table; an unreachable host says why", async () => {
    const fleet = mockFleet({ mail1: { stdout: DEBIAN_FACTS }, mail2: "down" });
    const out = io();
    const code = await factsCommandRun(parseFactsArgs(hostFlags("mail1", "mail2")), out, fleet.connect);
    expect(code).toBe(1);
    expect(fleet.hosts.get("mail1")?.execs).toHaveLength(1);
    expect(out.stdout.text).toBe(
      "host   hostname  os      distro     arch    packages  services  uid\n" +
        "mail1  mail1     debian  debian 12  x86_64  apt       systemd   0\n" +
        "mail2  unreachable: mail2: cannot connect to root@10.0.0.9:22: connect ECONNREFUSED\n",
    );
  });

  it("--json: facts by host under the source's name, errors apart", async () => {
    const fleet = mockFleet({ mail1: { stdout: DEBIAN_FACTS } });
    const out = io();
    expect(await factsCommandRun(parseFactsArgs(["--host", "mail1", "--json"]), out, fleet.connect)).toBe(0);
    const document = JSON.parse(out.stdout.text);
    expect(document.errors).toEqual({});
    expect(document.hosts.mail1.builtin).toMatchObject({
      hostname: "mail1",
      osFamily: "debian",
      paths: { saslConfigDir: "/etc/postfix/sasl" },
    });
  });

  it("factsTable of nothing is just the header", () => {
    expect(factsTable([])).toBe("host  hostname  os  distro  arch  packages  services  uid\n");
  });
});

describe("inventory", () => {
  function sample() {
    const builder = new InventoryBuilder("inv.ini");
    builder.host("mx1", "mail", { ansible_host: "203.0.113.10", ansible_user: "deploy", token: secret("Inv-Secret-55") });
    builder.host("web1", "web");
    builder.host("lonely");
    builder.child("prod", "mail");
    builder.child("prod", "web");
    builder.groupVars("web", { http_port: 8080 });
    return builder.build();
  }

  it("--list: Ansible's shape, connection settings as ansible_* vars, secrets masked", () => {
    const list = listInventory(sample());
    expect(list).toEqual({
      _meta: {
        hostvars: { mx1: { ansible_host: "203.0.113.10", ansible_user: "deploy", token: "***" }, web1: { http_port: 8080 }, lonely: {} },
      },
      all: { children: ["ungrouped", "prod"] },
      ungrouped: { hosts: ["lonely"] },
      mail: { hosts: ["mx1"] },
      web: { hosts: ["web1"], vars: { http_port: 8080 } },
      prod: { children: ["mail", "web"] },
    });
    expect(JSON.stringify(list)).not.toContain("Inv-Secret-55");
    expect(hostVars(sample().hosts.get("mx1") as InventoryHost).token).toBe("***");
  });

  it("--graph: the tree from all or from a group", () => {
    expect(graphInventory(sample(), "all")).toBe(
      "@all:\n  |--@ungrouped:\n  |  |--lonely\n  |--@prod:\n  |  |--@mail:\n  |  |  |--mx1\n  |  |--@web:\n  |  |  |--web1\n",
    );
    expect(graphInventory(sample(), "web")).toBe("@web:\n  |--web1\n");
    expect(() => graphInventory(sample(), "wbe")).toThrow('no group "wbe" (did you mean web?)');
  });
});
