import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { addInventoryText, detectFormat, loadInventory } from "../../../src/inventory/load-inventory.ts";
import { InventoryBuilder } from "../../../src/inventory/inventory-builder.ts";
import type { Inventory } from "../../../src/inventory/inventory.ts";

const FIXTURES = resolve(import.meta.dirname, "../../fixtures/inventories");

function yaml(text: string, file = "inventory/hosts.yml"): Inventory {
  const builder = new InventoryBuilder(file);
  addInventoryText(builder, file, text);
  return builder.build();
}

function yamlError(text: string, file = "inventory/hosts.yml"): string {
  try {
    yaml(text, file);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected an error");
}

describe("Ansible YAML inventory", () => {
  it("reads nested children, ranges, host:port and host vars", async () => {
    const inventory = await loadInventory(join(FIXTURES, "ansible-yaml/hosts.yml"));
    expect([...inventory.hosts.keys()]).toEqual([
      "mail.example.com",
      "par1.example.com",
      "par2.example.com",
      "ber1.example.com",
      "ber2.example.com",
    ]);
    expect(inventory.hosts.get("ber1.example.com")).toMatchObject({ address: "192.0.2.20", port: 2201 });
    expect(inventory.hosts.get("ber2.example.com")?.port).toBe(2222);
    expect(inventory.groups.get("europe")?.children).toEqual(["paris", "berlin"]);
    expect(inventory.groups.get("ungrouped")?.hosts).toEqual(["mail.example.com"]);
  });

  it("applies depth order: a grandchild group beats its parents; same depth goes by name", async () => {
    const inventory = await loadInventory(join(FIXTURES, "ansible-yaml/hosts.yml"));
    const par1 = inventory.hosts.get("par1.example.com");
    expect(par1?.groups).toEqual(["all", "europe", "web", "paris"]);
    expect(par1?.vars).toEqual({ ntp: "ntp.example.net", region: "eu-west", dc: "par", role: "web" });
    const ber1 = inventory.hosts.get("ber1.example.com");
    expect(ber1?.groups).toEqual(["all", "europe", "web", "berlin"]);
    // berlin sets no region: web (depth 1, "web" > "europe") wins over europe.
    expect(ber1?.vars).toEqual({ ntp: "ntp.example.net", region: "web-region", role: "web", dc: "ber", rack: "b1" });
    expect(inventory.hosts.get("mail.example.com")?.vars).toEqual({ ntp: "ntp.example.net", role: "mail" });
  });

  it("names the field path and line of a mistake", () => {
    expect(yamlError("all:\n  children:\n    web:\n      hosts:\n        - web01\n")).toMatch(
      /^inventory\/hosts\.yml:5: all\.children\.web\.hosts: expected a mapping of host names \(`web01:`, not `- web01`\)/,
    );
    expect(yamlError("all:\n  hosts:\n    web01:\n      ansible_port: twenty\n")).toBe(
      'inventory/hosts.yml: host web01: ansible_port: expected a port number (1-65535), got "twenty"',
    );
    expect(yamlError("all:\n  children:\n    web:\n      web01:\n")).toMatch(
      /^inventory\/hosts\.yml:4: all\.children\.web\.web01: unexpected key in group "web"/,
    );
    expect(yamlError("all:\n  hosts:\n    web[3:1]:\n")).toMatch(/^inventory\/hosts\.yml:3: all\.hosts\.web\[3:1\]: host range/);
    expect(yamlError("all:\n  vars: [1]\n")).toMatch(/^inventory\/hosts\.yml:2: all\.vars: expected a mapping of vars, got a list/);
  });

  it("names the line of a YAML syntax error and refuses vault-encrypted content", () => {
    expect(yamlError("all:\n  hosts:\n    a: {\n")).toMatch(/^inventory\/hosts\.yml:\d+: not valid YAML/);
    expect(yamlError("all:\n  vars:\n    pw: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n")).toMatch(
      /^inventory\/hosts\.yml:3: ansible-vault encrypted content, but no vault password was given/,
    );
  });
});

describe("our YAML inventory and the TypeScript one", () => {
  const expectMail = (inventory: Inventory): void => {
    expect([...inventory.hosts.keys()]).toEqual(["mx1", "mx2", "web1", "web2", "web3"]);
    expect(inventory.hosts.get("mx1")).toEqual({
      name: "mx1",
      address: "203.0.113.10",
      user: "deploy",
      become: true,
      vars: expect.objectContaining({ relay: "mx.example.net", tls: "strict", env: "production" }),
      groups: ["all", "prod", "mail"],
    });
    expect(inventory.hosts.get("mx2")).toMatchObject({ address: "203.0.113.11", port: 2222, vars: { tls: "opportunistic" } });
    expect(inventory.hosts.get("web2")?.groups).toEqual(["all", "prod", "web"]);
  };

  it("loads the YAML shape", async () => {
    const inventory = await loadInventory(join(FIXTURES, "native/inventory.yml"));
    expectMail(inventory);
    expect(inventory.hosts.get("mx2")?.vars.postfix).toEqual({ inet_interfaces: "all" });
  });

  it("loads defineInventory from TypeScript", async () => {
    expectMail(await loadInventory(join(FIXTURES, "native/inventory.ts")));
  });

  it("validates the TypeScript inventory with the schema, naming the file and field", async () => {
    await expect(loadInventory(join(FIXTURES, "native/bad.ts"))).rejects.toThrow(
      /native\/bad\.ts: invalid inventory\n\s+hosts\.mx1\.port: /,
    );
  });

  it("names the line and field of a YAML shape mistake", () => {
    expect(yamlError("hosts:\n  mx1:\n    adress: 10.0.0.1\n", "inv.yml")).toMatch(/^inv\.yml:3: hosts\.mx1: Unrecognized key/);
    expect(yamlError("hosts:\n  mx1:\n    port: http\n", "inv.yml")).toMatch(/^inv\.yml:3: hosts\.mx1\.port: /);
    expect(yamlError("groups:\n  web:\n    hosts: web1\n", "inv.yml")).toMatch(/^inv\.yml:3: groups\.web\.hosts: /);
  });
});

describe("format detection and inventory directories", () => {
  it("detects by extension, then by content", () => {
    expect(detectFormat("inv.ts", "")).toBe("typescript");
    expect(detectFormat("hosts.ini", "all:\n")).toBe("ini");
    expect(detectFormat("hosts.yaml", "[web]\n")).toBe("yaml");
    expect(detectFormat("hosts", "# c\n[web]\nweb1\n")).toBe("ini");
    expect(detectFormat("hosts", "web1 ansible_host=10.0.0.1\n")).toBe("ini");
    expect(detectFormat("hosts", "all:\n  hosts:\n    web1:\n")).toBe("yaml");
    expect(detectFormat("hosts", "---\nall:\n")).toBe("yaml");
  });

  it("merges every inventory file of a directory and its group_vars/, skipping other files", async () => {
    const inventory = await loadInventory(join(FIXTURES, "directory"));
    expect([...inventory.hosts.keys()]).toEqual(["web1", "web2", "db1"]);
    expect(inventory.hosts.get("web1")?.groups).toEqual(["all", "prod", "web"]);
    expect(inventory.hosts.get("db1")?.vars).toEqual({ env: "production" });
  });

  it("says when the inventory does not exist", async () => {
    await expect(loadInventory("nope/hosts.ini")).rejects.toThrow("nope/hosts.ini: inventory not found");
  });
});
