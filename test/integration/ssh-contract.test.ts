/**
 * SshTransport against the shared transport contract: as root, and as `deploy` through sudo
 * (every command then runs as root via `sudo -n`), on a real sshd.
 */
import { describe, expect, it } from "vitest";
import { transportContract } from "../contract/transport-contract.ts";
import { connectAs, fleet, host } from "./ssh-support.ts";

describe.skipIf(!fleet)("ssh transport", () => {
  transportContract("ssh as root", () => connectAs(host(0), "root"));
  transportContract("ssh as deploy with sudo", () => connectAs(host(0), "deploy", { become: { method: "sudo" } }));

  it("runs commands as root through sudo (id -u → 0)", async () => {
    const t = await connectAs(host(0), "deploy", { become: { method: "sudo" } });
    try {
      expect(t.becomes).toBe(true);
      expect((await t.exec("id -u")).stdout.toString()).toBe("0\n");
      expect((await t.exec("echo $SUDO_USER")).stdout.toString()).toBe("deploy\n");
    } finally {
      await t.close();
    }
  });

  it("root needs no sudo even when become is set", async () => {
    const t = await connectAs(host(0), "root", { become: { method: "sudo" } });
    try {
      expect(t.becomes).toBe(false);
      expect((await t.exec("id -u")).stdout.toString()).toBe("0\n");
    } finally {
      await t.close();
    }
  });
});
