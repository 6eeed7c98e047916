import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { addInventoryText, loadInventory } from "../../../src/inventory/load-inventory.ts";
import { InventoryBuilder } from "../../../src/inventory/inventory-builder.ts";
import { expandHostRange } from "../../../src/inventory/host-range.ts";
import type { Inventory } from "../../../src/inventory/inventory.ts";

const FIXTURES = resolve(import.meta.dirname, "../../fixtures/inventories");

function ini(text: string, file = "inventory/hosts.ini"): Inventory {
  const builder = new InventoryBuilder(file);
  addInventoryText(builder, file, text);
  return builder.build();
}

function iniError(text: string, file = "inventory/hosts.ini"): string {
  try {
    ini(text, file);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected an error");
}

describe("Ansible INI inventory (a real-world layout with group_vars/ and host_vars/)", () => {
  it("reads hosts in inventory order, with ranges, ports and the ungrouped host", async () => {
    const inventory = await loadInventory(join(FIXTURES, "ansible-ini/hosts.ini"));
    expect([...inventory.hosts.keys()]).toEqual([
      "bastion.example.com",
      "web01.example.com",
      "web02.example.com",
      "web03.example.com",
      "web04.example.com",
      "db1",
      "db-a",
      "db-b",
    ]);
    expect(inventory.groups.get("ungrouped")?.hosts).toEqual(["bastion.example.com"]);
    expect(inventory.groups.get("web")?.hosts).toEqual([
      "web01.example.com",
      "web02.example.com",
      "web03.example.com",
      "web04.example.com",
    ]);
    expect(inventory.groups.get("prod")?.children).toEqual(["web", "db"]);
    expect(inventory.groups.get("all")?.children).toEqual(["ungrouped", "prod"]);
  });

  it("orders each host's groups by depth (all < parent < child)", async () => {
    const inventory = await loadInventory(join(FIXTURES, "ansible-ini/hosts.ini"));
    expect(inventory.hosts.get("web01.example.com")?.groups).toEqual(["all", "prod", "web"]);
    expect(inventory.hosts.get("bastion.example.com")?.groups).toEqual(["all", "ungrouped"]);
  });

  it("applies Ansible precedence: all < parent < child < group_vars/ over [g:vars] < host_vars/", async () => {
    const inventory = await loadInventory(join(FIXTURES, "ansible-ini/hosts.ini"));
    expect(inventory.hosts.get("web01.example.com")?.vars).toEqual({
      ntp: "pool.ntp.org", // group_vars/all.yml
      env: "production", // [prod:vars] beats all
      dns: ["198.51.100.53", "198.51.100.54"], // group_vars/prod/: network.yaml after main.yml
      backup: true,
      http_port: 80, // group_vars/web.yml beats [web:vars] http_port=8080
      greeting: "hi there", // quoted, trailing comment dropped
      tier: "special", // host_vars beats web (child) beats prod (parent)
    });
    expect(inventory.hosts.get("web02.example.com")?.vars.tier).toBe("web");
    expect(inventory.hosts.get("db-a")?.vars.tier).toBe("db");
    expect(inventory.hosts.get("bastion.example.com")?.vars).toEqual({ ntp: "pool.ntp.org", env: "development" });
  });

  it("types unquoted values, keeps quoted ones as strings, and keeps 0644 a string", async () => {
    const inventory = await loadInventory(join(FIXTURES, "ansible-ini/hosts.ini"));
    expect(inventory.hosts.get("web04.example.com")?.vars).toMatchObject({
      motd: "hello world",
      weight: 3,
      mode: "0644",
      enabled: true,
      quoted_number: "42",
    });
  });

  it("lifts connection vars into fields and keeps every ansible_* var out of playbook vars", async () => {
    const inventory = await loadInventory(join(FIXTURES, "ansible-ini/hosts.ini"));
    const web04 = inventory.hosts.get("web04.example.com");
    expect(web04).toMatchObject({ port: 2222, user: "deploy" });
    expect(web04?.address).toBeUndefined();
    const db1 = inventory.hosts.get("db1");
    expect(db1).toMatchObject({ address: "10.0.0.11", become: true, user: "dba" });
    expect(db1?.vars).toEqual({
      ntp: "pool.ntp.org",
      env: "production",
      dns: ["198.51.100.53", "198.51.100.54"],
      backup: true,
      tier: "db",
      replica_of: null,
      db_password: { fromEnv: "DB1_PASSWORD" },
    });
    expect(inventory.hosts.get("db-b")?.identityFile).toBe("~/.ssh/db_key");
    expect(inventory.hosts.get("bastion.example.com")?.address).toBe("203.0.113.5");
    for (const host of inventory.hosts.values()) {
      expect(Object.keys(host.vars).filter((k) => k.startsWith("ansible_"))).toEqual([]);
    }
  });

  it("reads a file with no extension as INI when it looks like one", async () => {
    const inventory = ini("[web]\nweb1\n", "inventory/hosts");
    expect([...inventory.hosts.keys()]).toEqual(["web1"]);
  });

  it("creates children groups on first mention and merges a host listed twice", () => {
    const inventory = ini("[a]\nh1 x=1\n[b]\nh1 y=2\n[top:children]\na\nlater\n[later]\nh2\n");
    expect([...inventory.hosts.keys()]).toEqual(["h1", "h2"]);
    expect(inventory.hosts.get("h1")?.vars).toEqual({ x: 1, y: 2 });
    expect(inventory.hosts.get("h2")?.groups).toEqual(["all", "top", "later"]);
    expect(inventory.hosts.get("h1")?.groups).toEqual(["all", "b", "top", "a"]);
  });

  it("sorts same-depth groups by name, later name winning, and honours ansible_group_priority", () => {
    const text = "[zeta]\nh\n[alpha]\nh\n[alpha:vars]\nv=alpha\n[zeta:vars]\nv=zeta\n";
    expect(ini(text).hosts.get("h")?.vars.v).toBe("zeta");
    const prioritized = `${text}ansible_group_priority=0\n`;
    expect(ini(prioritized).hosts.get("h")?.vars.v).toBe("alpha");
  });
});

describe("Ansible INI errors name the file and line", () => {
  it("a key=value missing its =", () => {
    expect(iniError("[web]\nweb1 ansible_port 22\n")).toBe(
      'inventory/hosts.ini:2: expected key=value after the host name, got "ansible_port"',
    );
  });

  it("a bad section header and an unknown section type", () => {
    expect(iniError("# hi\n\n[web\n")).toMatch(/^inventory\/hosts\.ini:3: invalid section header/);
    expect(iniError("[web:hosts]\n")).toMatch(/^inventory\/hosts\.ini:1: unknown section type ":hosts"/);
  });

  it("[group:vars] for a group nothing defines, at its header line", () => {
    expect(iniError("[web]\nw1\n\n[dbs:vars]\nx=1\n")).toBe("inventory/hosts.ini:4: [dbs:vars] is for a group that no section defines");
  });

  it("a :vars line that is not key=value", () => {
    expect(iniError("[web]\nw1\n[web:vars]\njust-a-word\n")).toMatch(/^inventory\/hosts\.ini:4: expected key=value in \[web:vars\]/);
  });

  it("a bad range, an unterminated quote, a bad port", () => {
    expect(iniError("[web]\nweb[01:1].x\n")).toMatch(/^inventory\/hosts\.ini:2: host range \[01:1\].*same width/);
    expect(iniError("[web]\nweb[5:1]\n")).toMatch(/^inventory\/hosts\.ini:2: .*start is after the end/);
    expect(iniError('[web]\n\nweb1 motd="hello\n')).toBe('inventory/hosts.ini:3: unterminated " quote');
    expect(iniError("[web]\nweb1:99999\n")).toMatch(/^inventory\/hosts\.ini:2: "web1:99999": the port/);
  });

  it("a connection var of the wrong type names the file and host", () => {
    expect(iniError("[web]\nweb1 ansible_port=http\n")).toBe(
      'inventory/hosts.ini: host web1: ansible_port: expected a port number (1-65535), got "http"',
    );
    expect(iniError("[web]\nweb1 ansible_become=maybe\n")).toMatch(/host web1: ansible_become: expected a boolean/);
  });

  it("a cycle of groups", () => {
    expect(iniError("[a:children]\nb\n[b:children]\na\n")).toMatch(/groups form a cycle: (a → b → a|b → a → b)/);
    expect(iniError("[a]\nh\n[a:children]\na\n")).toMatch(/inventory\/hosts\.ini:4: group "a" cannot be its own child/);
  });
});

describe("host ranges", () => {
  it("expands zero-padded numbers, letters, steps and several ranges", () => {
    expect(expandHostRange("web[01:10].example.com")).toHaveLength(10);
    expect(expandHostRange("web[01:03].example.com")).toEqual(["web01.example.com", "web02.example.com", "web03.example.com"]);
    expect(expandHostRange("web[8:10]")).toEqual(["web8", "web9", "web10"]);
    expect(expandHostRange("db-[a:c]")).toEqual(["db-a", "db-b", "db-c"]);
    expect(expandHostRange("n[0:6:3]")).toEqual(["n0", "n3", "n6"]);
    expect(expandHostRange("r[1:2]-[a:b]")).toEqual(["r1-a", "r1-b", "r2-a", "r2-b"]);
    expect(expandHostRange("plain.example.com")).toEqual(["plain.example.com"]);
  });
});

describe("prototype keys in inventory vars (issue 11, 16)", () => {
  it("are refused where they were written, never merged into every host's vars", () => {
    expect(iniError("web1 __proto__=x\n")).toMatch(/^inventory\/hosts\.ini:1: the key "__proto__" is not allowed in vars/);
    expect(iniError('[web]\nweb1\n[web:vars]\n__proto__={"polluted": true}\n')).toMatch(
      /inventory\/hosts\.ini:4: group web: the key "__proto__" is not allowed in vars/,
    );
    const yaml = new InventoryBuilder("inv.yml");
    expect(() =>
      addInventoryText(yaml, "inv.yml", "all:\n  hosts:\n    web1:\n      nested:\n        __proto__: { polluted: true }\n"),
    ).toThrow(/the key "__proto__" is not allowed in vars/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
