import { describe, expect, it } from "vitest";
import { addInventoryText } from "../../../src/inventory/load-inventory.ts";
import { InventoryBuilder } from "../../../src/inventory/inventory-builder.ts";
import { selectHosts, type HostSelection } from "../../../src/inventory/select.ts";
import { parseLimit } from "../../../src/inventory/limit-pattern.ts";

const TEXT = `
bastion
[web]
web[01:04].example.com
[db]
db1.example.com
db2.example.com
db3.example.com
[eu]
web01.example.com
db1.example.com
[prod:children]
web
db
[staging]
stage1 ansible_host=10.9.0.1
`;

function inventory() {
  const builder = new InventoryBuilder("hosts.ini");
  addInventoryText(builder, "hosts.ini", TEXT);
  return builder.build();
}

const names = (selection: HostSelection): string[] => selectHosts(inventory(), selection).hosts.map((h) => h.name);

describe("selecting hosts", () => {
  it("--group, repeatable, children included, in inventory order", () => {
    expect(names({ groups: ["db", "web"] })).toEqual([
      "web01.example.com",
      "web02.example.com",
      "web03.example.com",
      "web04.example.com",
      "db1.example.com",
      "db2.example.com",
      "db3.example.com",
    ]);
    expect(names({ groups: ["prod"] })).toHaveLength(7);
    expect(names({ groups: ["all"] })).toHaveLength(9);
  });

  it("--host in inventory order, and names not in the inventory as plain names (ssh config, localhost)", () => {
    const selected = selectHosts(inventory(), { hosts: ["zz.example.net", "stage1", "bastion", "localhost"] }).hosts;
    expect(selected.map((h) => h.name)).toEqual(["bastion", "stage1", "zz.example.net", "localhost"]);
    expect(selected[1]?.address).toBe("10.9.0.1");
    expect(selected[2]).toEqual({ name: "zz.example.net", vars: {}, groups: [] });
  });

  it("works with no inventory at all", () => {
    expect(selectHosts(undefined, { hosts: ["b", "a", "b"] }).hosts.map((h) => h.name)).toEqual(["b", "a"]);
    expect(selectHosts(undefined, { hosts: ["web1", "db1"], limit: "web*" }).hosts.map((h) => h.name)).toEqual(["web1"]);
  });

  it("an unknown --group is an error naming it and the groups there are", () => {
    expect(() => names({ groups: ["webb"] })).toThrow(
      "--group webb: no such group in hosts.ini (groups: all, ungrouped, web, db, eu, prod, staging)",
    );
    expect(() => selectHosts(undefined, { hosts: ["a"], groups: ["web"] })).toThrow("--group web: no inventory given");
  });

  it("nothing selected is an error", () => {
    expect(() => names({})).toThrow(/no host selected/);
  });
});

describe("--limit patterns", () => {
  it("group and host names, comma or colon separated", () => {
    expect(names({ limit: "db" })).toEqual(["db1.example.com", "db2.example.com", "db3.example.com"]);
    expect(names({ limit: "staging,bastion" })).toEqual(["bastion", "stage1"]);
    expect(names({ limit: "staging:bastion" })).toEqual(["bastion", "stage1"]);
  });

  it("globs * and ?", () => {
    expect(names({ limit: "db?.example.com" })).toEqual(["db1.example.com", "db2.example.com", "db3.example.com"]);
    expect(names({ limit: "*2*" })).toEqual(["web02.example.com", "db2.example.com"]);
    expect(names({ limit: "stag*" })).toEqual(["stage1"]); // the group staging and the host stage1
  });

  it("!exclude and &intersection, in any order", () => {
    expect(names({ limit: "prod:!web" })).toEqual(["db1.example.com", "db2.example.com", "db3.example.com"]);
    expect(names({ limit: "!db2.example.com,&eu,prod" })).toEqual(["web01.example.com", "db1.example.com"]);
    expect(names({ limit: "!prod" })).toEqual(["bastion", "stage1"]);
    expect(names({ limit: "&eu" })).toEqual(["web01.example.com", "db1.example.com"]);
  });

  it("regex terms", () => {
    expect(names({ limit: "~^web0[13]" })).toEqual(["web01.example.com", "web03.example.com"]);
  });

  it("narrows --group and --host", () => {
    expect(names({ groups: ["web"], limit: "*03*,*04*" })).toEqual(["web03.example.com", "web04.example.com"]);
    expect(names({ hosts: ["bastion", "stage1"], limit: "!bastion" })).toEqual(["stage1"]);
  });

  it("a limit that selects nothing is an error naming it; a term that matched nothing is a warning", () => {
    expect(() => names({ limit: "dbb" })).toThrow("--limit dbb selects no host (dbb matched nothing)");
    expect(() => names({ groups: ["web"], limit: "db" })).toThrow("--limit db selects no host");
    const selected = selectHosts(inventory(), { limit: "db,dbb" });
    expect(selected.hosts).toHaveLength(3);
    expect(selected.warnings).toEqual(['--limit: "dbb" matches no host or group']);
  });

  it("parses terms", () => {
    expect(parseLimit("web:&eu:!web03")).toEqual([
      { op: "union", pattern: "web" },
      { op: "intersect", pattern: "eu" },
      { op: "exclude", pattern: "web03" },
    ]);
    expect(parseLimit("2001:db8::1")).toEqual([{ op: "union", pattern: "2001:db8::1" }]);
    expect(() => parseLimit("web,!")).toThrow(/empty term/);
  });
});
