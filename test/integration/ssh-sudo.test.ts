/**
 * Privilege escalation over real SSH: `deploy` (NOPASSWD sudo) and `deploy2` (sudo with a
 * password, sent on stdin only). The password must never be in a command line, and the command
 * must get its own stdin intact — also when sudo has cached credentials.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { secret } from "../../src/shell/secret.ts";
import { TransportError } from "../../src/transport/transport.ts";
import { connectAs, fleet, host, SUDO_PASSWORD } from "./ssh-support.ts";

describe.skipIf(!fleet)("ssh transport: sudo", () => {
  it("deploy2 with a sudo password: runs as root, stdin intact, password never in argv", async () => {
    const t = await connectAs(host(1), "deploy2", { become: { method: "sudo", password: secret(SUDO_PASSWORD) } });
    try {
      expect(t.becomes).toBe(true);
      const wire = t.wireCommand("id -u");
      expect(wire).not.toContain(SUDO_PASSWORD);
      expect((await t.exec("id -u")).stdout.toString()).toBe("0\n");

      const data = Buffer.concat([Buffer.from("first line\nsecond\n"), randomBytes(64 * 1024), Buffer.from("\0tail")]);
      for (let i = 0; i < 3; i += 1) {
        const echoed = await t.exec("cat", { stdin: data });
        expect(echoed.exitCode).toBe(0);
        expect(echoed.stdout.equals(data)).toBe(true);
      }

      // While a command runs, no process on the host shows the password in its argv.
      const ps = await t.exec("ps -eo args");
      expect(ps.exitCode).toBe(0);
      expect(ps.stdout.toString()).not.toContain(SUDO_PASSWORD);
      expect(ps.stdout.toString()).toContain("ps -eo args");
    } finally {
      await t.close();
    }
  });

  it("deploy2: with cached sudo credentials, plain `sudo -S` would leak the password into stdin; our wrapper does not", async () => {
    // As deploy2 without become, so the test drives sudo itself. One shell primes sudo's cache
    // (keyed on the parent process when there is no tty), then runs sudo again from the same shell.
    const t = await connectAs(host(1), "deploy2");
    const wrapper = await connectAs(host(1), "deploy2", { become: { method: "sudo", password: secret(SUDO_PASSWORD) } });
    try {
      const prime = `IFS= read -r pw; printf '%s\\n' "$pw" | sudo -S -p '' -v 2>/dev/null || exit 99; unset pw; `;
      // stdin: the priming password, then what the transport sends: password line + data.
      const stdin = `${SUDO_PASSWORD}\n${SUDO_PASSWORD}\nline one\nline two\n`;

      const naive = await t.exec(`${prime}sudo -S -p '' cat`, { stdin });
      expect(naive.exitCode).toBe(0);
      expect(naive.stdout.toString()).toBe(`${SUDO_PASSWORD}\nline one\nline two\n`); // the hazard

      // Our wrapper, run inline in the primed shell (exec dropped so it keeps the same parent).
      const wire = wrapper.wireCommand("cat").replace("exec sudo", "sudo");
      const ours = await t.exec(`${prime}${wire}`, { stdin });
      expect(ours.exitCode).toBe(0);
      expect(ours.stdout.toString()).toBe("line one\nline two\n");
    } finally {
      await t.close();
      await wrapper.close();
    }
  });

  it("deploy2 without a password: TransportError 'sudo' naming host and user and what to set", async () => {
    const target = host(1);
    const t = await connectAs(target, "deploy2", { become: { method: "sudo" } });
    try {
      const error = await t.exec("id -u").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TransportError);
      expect((error as TransportError).kind).toBe("sudo");
      expect((error as TransportError).message).toContain(target.address);
      expect((error as TransportError).message).toContain("deploy2");
      expect((error as TransportError).message).toContain("become.password");
    } finally {
      await t.close();
    }
  });

  it("deploy2 with a wrong password: TransportError 'sudo', the wrong password not echoed", async () => {
    const t = await connectAs(host(1), "deploy2", { become: { method: "sudo", password: secret("not-the-password") } });
    try {
      const error = await t.exec("id -u", { stdin: "a\nb\nc\n" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as TransportError).kind).toBe("sudo");
      expect((error as TransportError).message).toMatch(/wrong/);
      expect((error as TransportError).message).not.toContain("not-the-password");
    } finally {
      await t.close();
    }
  });

  it("a non-zero exit of the command itself is a result, not a sudo error", async () => {
    const t = await connectAs(host(1), "deploy", { become: { method: "sudo" } });
    try {
      const result = await t.exec("echo nope >&2; exit 1");
      expect(result.exitCode).toBe(1);
      expect(result.stderr.toString()).toBe("nope\n");
    } finally {
      await t.close();
    }
  });
});
