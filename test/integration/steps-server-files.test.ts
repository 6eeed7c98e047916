/**
 * copy on a real Debian 12 host (fleet position 17, after steps-server-system.test.ts; everything
 * this file makes is under /srv/provision-copy* and removed afterwards). A controller tree with
 * hostile names (spaces, quotes, a newline, a leading dash), a binary file and an empty one goes
 * through the whole cycle; the host's copy is compared with the source by the host's own
 * sha256sum and stat, not by our parser. Then delete: true removes exactly the extra files.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { TestHost } from "../hosts/harness.ts";
import type {} from "../hosts/global-setup.ts";
import { testHost } from "./support/fleet.ts";
import { cycle, drifted, onHost, play } from "./support/steps-cycle.ts";
import { copy } from "../../src/steps/index.ts";

const fleet = inject("fleet");
// Position 17 in the full suite; PROVISION_STEPS_SERVER_FILES_HOST runs this file alone on a small fleet.
const POSITION = Number(process.env.PROVISION_STEPS_SERVER_FILES_HOST ?? 17);
const CLEANUP = "rm -rf /srv/provision-copy /srv/provision-copy-one /srv/provision-copy-parent; true";
const HOSTILE = 'q\'uote "dq"\nnl';
const BINARY = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));

describe.skipIf(!fleet)("copy on a real host", () => {
  let h: TestHost;
  let src: string;

  beforeAll(async () => {
    h = testHost(POSITION);
    await onHost(h, CLEANUP);
    src = mkdtempSync(join(tmpdir(), "copy-int-"));
    mkdirSync(join(src, "sub dir", "-dash"), { recursive: true });
    writeFileSync(join(src, "a.conf"), "alpha\n");
    writeFileSync(join(src, "sub dir", HOSTILE), "hostile\n");
    writeFileSync(join(src, "sub dir", "-dash", "bin"), BINARY);
    writeFileSync(join(src, "empty"), "");
  });
  afterAll(async () => {
    if (h) await onHost(h, CLEANUP);
    if (src) rmSync(src, { recursive: true, force: true });
  });

  const tree = () => [copy({ src, dest: "/srv/provision-copy", owner: "root", group: "adm", mode: "0640", dirMode: "0750" })];

  it("the whole cycle; the host's files checked with sha256sum and stat", { timeout: 300_000 }, async () => {
    const drift = await cycle(h, tree, "echo tampered >> /srv/provision-copy/a.conf && chmod 0600 '/srv/provision-copy/sub dir/-dash/bin'");
    expect(drifted(drift)).toEqual([`copy ${src} → /srv/provision-copy`]);
    expect(drift.steps[0]?.summary).toBe('content a.conf, "sub dir/-dash/bin": mode 0600 → 0640');

    const sums = await onHost(h, "cd /srv/provision-copy && find . -type f -exec sha256sum -z -- {} + | tr '\\0' '\\n' | sort");
    const expected = [
      ["./a.conf", "alpha\n"],
      ["./empty", ""],
      [`./sub dir/${HOSTILE}`, "hostile\n"],
      ["./sub dir/-dash/bin", BINARY],
    ].map(
      ([path, content]) =>
        `${createHash("sha256")
          .update(content as string | Buffer)
          .digest("hex")}  ${path}`,
    );
    // sort on the host splits the hostile name's newline into its own line, as here.
    expect(sums.trim().split("\n").sort()).toEqual(expected.join("\n").split("\n").sort());
    const listing = await onHost(h, "cd /srv/provision-copy && find . -printf '%y %u:%g %m %p\\0'");
    expect(listing.split("\0").filter(Boolean).sort()).toEqual(
      [
        "d root:adm 750 .",
        "f root:adm 640 ./a.conf",
        "f root:adm 640 ./empty",
        "d root:adm 750 ./sub dir",
        "d root:adm 750 ./sub dir/-dash",
        "f root:adm 640 ./sub dir/-dash/bin",
        `f root:adm 640 ./sub dir/${HOSTILE}`,
      ].sort(),
    );
  });

  it("keeps extra files unless delete: true, which removes exactly them", { timeout: 120_000 }, async () => {
    await onHost(
      h,
      "echo extra > /srv/provision-copy/extra && mkdir -p '/srv/provision-copy/sub dir/old' && touch '/srv/provision-copy/sub dir/old/x'",
    );
    expect((await play(h, "check", tree)).report.status).toBe("ok");
    const withDelete = () => [
      copy({ src, dest: "/srv/provision-copy", owner: "root", group: "adm", mode: "0640", dirMode: "0750", delete: true }),
    ];
    const check = await play(h, "check", withDelete);
    expect(check.report.steps[0]?.summary).toBe('delete extra, delete "sub dir/old"');
    expect((await play(h, "apply", withDelete)).report.counts.changed).toBe(1);
    expect(await onHost(h, "ls -A /srv/provision-copy '/srv/provision-copy/sub dir' | sort")).not.toMatch(/extra|old/);
    expect((await play(h, "check", withDelete)).report.status).toBe("ok");
  });

  it("a single file into a directory that does not exist yet", { timeout: 120_000 }, async () => {
    const one = () => [copy({ src: join(src, "sub dir", "-dash", "bin"), dest: "/srv/provision-copy-parent/deep/bin", mode: "600" })];
    const apply = await play(h, "apply", one);
    expect(apply.report.steps[0]?.summary).toBe("create");
    expect(
      (await onHost(h, "stat -c %a /srv/provision-copy-parent/deep/bin; sha256sum < /srv/provision-copy-parent/deep/bin"))
        .split(/\s+/)
        .slice(0, 2),
    ).toEqual(["600", createHash("sha256").update(BINARY).digest("hex")]);
    expect((await play(h, "check", one)).report.status).toBe("ok");
  });

  it("refuses a symlink on the host where the source has a directory, and touches nothing", { timeout: 120_000 }, async () => {
    await onHost(h, "rm -rf '/srv/provision-copy/sub dir' && ln -s /etc '/srv/provision-copy/sub dir'");
    const apply = await play(h, "apply", tree);
    expect(apply.report.status).toBe("failed");
    expect(apply.report.steps[0]?.error).toMatch(
      /"\/srv\/provision-copy\/sub dir" is a symlink on the host, but the source has a directory/,
    );
    expect((await onHost(h, "readlink '/srv/provision-copy/sub dir'")).trim()).toBe("/etc");
  });
});
