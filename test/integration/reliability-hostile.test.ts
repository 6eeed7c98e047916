/**
 * Hostile values on a real host (fleet index 8): every value of test/support/hostile-values.ts is
 * given as a playbook VAR and used as file content, file name (under a temp dir), a `line`, a
 * configKeys value, a postconf value (each in its own copy of the Postfix config dir, `postconf -c`),
 * a sasldb user name and a sasldb password. Each is either refused when the steps are built (an
 * InvalidStepError naming the field) or stored as given — read back from the host byte-exact
 * (through base64), or with the one normalisation the step documents (configKeys and postconf
 * trim the value; postconf joins line breaks as main.cf continuation lines). Canary values would
 * create /tmp/PWNED-<run>-<n> if ever run by a shell: none may exist, on the host or here.
 * A second run of each playbook must change nothing (no value was split or mangled on the way).
 * One playbook run per field, one step per value: bounded in time.
 */
import { existsSync, readdirSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePlaybook } from "../../src/playbook/playbook.ts";
import { InvalidStepError, type PlaybookItem } from "../../src/playbook/step.ts";
import { validateVars } from "../../src/playbook/vars.ts";
import { runHost } from "../../src/run/host-runner.ts";
import { secret } from "../../src/shell/secret.ts";
import { configKeys, file, line, postconf, sasldbUser } from "../../src/steps/index.ts";
import { testHost } from "./support/fleet.ts";
import { connectTestHost } from "./support/connect.ts";
import { onHost } from "./support/reliability.ts";
import { hostileValues } from "../support/hostile-values.ts";

const host = testHost(8);
const RUN = randomBytes(4).toString("hex");
const DIR = `/tmp/provision-hostile-${RUN}`;
const VALUES = hostileValues(RUN);

type Build = (value: string, i: number) => PlaybookItem;

/** Build the steps from vars; a value the step refuses is recorded with its error, not built. */
function playbookFor(build: Build, refused: Map<number, string>) {
  return definePlaybook({
    name: "hostile",
    vars: z.object({ values: z.array(z.string()) }),
    steps: ({ vars }) =>
      vars.values.flatMap((value, i) => {
        try {
          return [build(value, i)];
        } catch (error) {
          if (!(error instanceof InvalidStepError) && !/secret cannot be empty|secret must be at least 8/.test((error as Error).message))
            throw error;
          refused.set(i, (error as Error).message);
          return [];
        }
      }),
  });
}

async function runTwice(build: Build): Promise<Map<number, string>> {
  const refused = new Map<number, string>();
  const playbook = playbookFor(build, refused);
  const vars = validateVars(playbook, { values: VALUES }, "test");
  const go = (mode: "apply" | "check") =>
    runHost({ playbook, vars, host: { name: host.address, address: host.address }, connect: () => connectTestHost(host), mode });
  const first = await go("apply");
  const failed = first.steps.filter((s) => s.status === "failed");
  expect(
    failed,
    JSON.stringify(
      failed.map((s) => ({ name: s.name.slice(0, 80), error: s.error?.slice(0, 300) })),
      null,
      2,
    ),
  ).toEqual([]);
  expect(first.error).toBeUndefined();
  const second = await go("check");
  const drift = second.steps.filter((s) => s.status !== "ok");
  expect(drift.map((s) => `${s.name.slice(0, 80)}: ${s.status} ${s.summary ?? ""} ${s.error ?? ""}`.slice(0, 300))).toEqual([]);
  return refused;
}

/** The bytes of a file on the host, base64 (a name given as bytes, any bytes but NUL). */
async function readBack(path: string): Promise<string> {
  const b64 = Buffer.from(path).toString("base64");
  const out = await onHost(
    host,
    `f=$(printf %s '${b64}' | base64 -d; echo x); f=\${f%x}; if [ -f "$f" ]; then base64 -w0 < "$f"; else echo ABSENT; fi`,
  );
  return out.trim() === "ABSENT" ? "ABSENT" : Buffer.from(out.trim(), "base64").toString("utf8");
}

/** What the postconf step refuses: NUL, a lone CR, a `$(`/`${` that is not a parameter reference. */
const POSTCONF_REFUSED = (v: string) =>
  /\0|\r(?!\n)/.test(v) || /\$(?:\((?![A-Za-z0-9_]+[):?!=])|\{(?![A-Za-z0-9_]+[}:?!=])|(?![A-Za-z0-9_({]))/.test(v.replace(/\$\$/g, ""));

const asciiTrim = (v: string) => v.replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, "");

beforeAll(async () => {
  await onHost(host, `rm -rf ${DIR} && mkdir -p ${DIR}/p ${DIR}/c ${DIR}/l ${DIR}/k`);
  expect(VALUES.length).toBeGreaterThanOrEqual(50);
});

afterAll(async () => {
  await onHost(host, `rm -rf ${DIR}`);
});

describe(`${VALUES.length} hostile values, stored exactly or refused — never run, never split`, () => {
  it("file content: stored byte-exact, every value", async () => {
    const refused = await runTwice((v, i) => file({ path: `${DIR}/c/${i}`, content: v }));
    expect([...refused.keys()]).toEqual([]);
    for (const [i, v] of VALUES.entries()) expect(await readBack(`${DIR}/c/${i}`), `value #${i}`).toBe(v);
  });

  it("file path (a name under a temp dir): stored as that exact name, or refused naming `path`", async () => {
    // Names longer than a file name may be (255 bytes) are left out: they fail on the host (ENAMETOOLONG).
    const usable = (v: string) => !v.includes("/") && Buffer.byteLength(v) <= 200;
    const refused = await runTwice((v, i) =>
      usable(v) ? file({ path: `${DIR}/p/${v}`, content: `#${i}\n` }) : file({ path: `${DIR}/c/${i}`, content: v }),
    );
    for (const [i, v] of VALUES.entries()) {
      if (!usable(v)) continue;
      if (v === "" || v === "." || v === ".." || v.includes("\0")) {
        expect(refused.get(i), `value #${i}`).toMatch(/^file: invalid parameters: path: must /);
        continue;
      }
      expect(refused.has(i), `value #${i}: ${refused.get(i)}`).toBe(false);
      expect(await readBack(`${DIR}/p/${v}`), `value #${i}`).toBe(`#${i}\n`);
    }
    const names = (await onHost(host, `find ${DIR}/p -mindepth 1 -maxdepth 1 -printf x | wc -c`)).trim();
    expect(Number(names)).toBe(VALUES.filter((v, i) => usable(v) && !refused.has(i)).length);
  });

  it("line: stored exactly as one line, or refused (a line break, or a CR: a CRLF file's line ending) naming `line`", async () => {
    const refused = await runTwice((v, i) => line({ path: `${DIR}/l/${i}`, line: v, create: true }));
    for (const [i, v] of VALUES.entries()) {
      if (v.includes("\n") || v.includes("\r")) {
        expect(refused.get(i), `value #${i}`).toMatch(/^line: invalid parameters: line: one line/);
        continue;
      }
      expect(await readBack(`${DIR}/l/${i}`), `value #${i}`).toBe(`${v}\n`);
    }
  });

  it("configKeys value: stored (trimmed, as documented), or refused (a line break)", async () => {
    const refused = await runTwice((v, i) => configKeys({ path: `${DIR}/k/${i}`, create: true, separator: " = ", settings: { key: v } }));
    for (const [i, v] of VALUES.entries()) {
      if (v.includes("\n")) {
        expect(refused.get(i), `value #${i}`).toMatch(/^configKeys: invalid parameters: settings\.key: one line/);
        continue;
      }
      expect(await readBack(`${DIR}/k/${i}`), `value #${i}`).toBe(`key = ${v.trim()}\n`);
    }
  });

  it("postconf value (own config dir per value): stored as Postfix keeps it, or refused (NUL, lone CR)", async () => {
    await onHost(
      host,
      `for i in $(seq 0 ${VALUES.length - 1}); do mkdir -p ${DIR}/pf/$i && cp /etc/postfix/main.cf /etc/postfix/master.cf ${DIR}/pf/$i/; done`,
    );
    const refused = await runTwice((v, i) => postconf({ configDir: `${DIR}/pf/${i}`, settings: { smtpd_banner: v } }));
    for (const [i, v] of VALUES.entries()) {
      if (refused.has(i)) {
        expect(refused.get(i), `value #${i}`).toMatch(
          /^postconf: invalid parameters: settings\.smtpd_banner: (must not contain|has a '\$' that)/,
        );
        expect(POSTCONF_REFUSED(v), `value #${i} refused: ${refused.get(i)}`).toBe(true);
        continue;
      }
      expect(POSTCONF_REFUSED(v), `value #${i} accepted`).toBe(false);
      const stored = (await onHost(host, `postconf -c ${DIR}/pf/${i} -h smtpd_banner`)).replace(/\n$/, "");
      // `postconf -h` shows a tab as a space (main.cf itself holds the tab, as written).
      expect(stored, `value #${i}`).toBe(asciiTrim(v.trim().replace(/\s*\n\s*/g, " ")).replace(/\t/g, " "));
    }
  });

  it("sasldb user names: stored as that exact name, or refused naming `user`", async () => {
    const pw = secret("Canary-sasl-pw-Q7x9-\u00e9");
    const refused = await runTwice((v) =>
      sasldbUser({ user: v, realm: "hostile.test", password: pw, dbPath: `${DIR}/names.db`, mode: "0600" }),
    );
    const dump = (await onHost(host, `db_dump ${DIR}/names.db`)).split("\n").map((l) => l.trim());
    for (const [i, v] of VALUES.entries()) {
      if (refused.has(i)) {
        expect(refused.get(i), `value #${i}`).toMatch(/^sasldbUser: invalid parameters: user: must be a user or realm name/);
        continue;
      }
      expect(dump, `value #${i}`).toContain(Buffer.from(`${v}\0hostile.test\0userPassword`).toString("hex"));
    }
    // The refusals are the values with whitespace, '@', ':', NUL, a leading '-', or empty.
    for (const [i, v] of VALUES.entries()) {
      expect(refused.has(i), `value #${i}`).toBe(v === "" || /[\s@:\0]/.test(v) || v.startsWith("-") || v.length > 255);
    }
  });

  it("sasldb passwords: stored byte-exact (compared on the host), or refused (empty, NUL)", async () => {
    // Whitespace-only values are left out: as secrets they would be masked (***) in every message
    // of this process from then on — every space or line break. (Reported, not fixed: see SECURITY.md.)
    const usable = (v: string) => v === "" || v.trim() !== "";
    const refused = await runTwice((v, i) =>
      usable(v)
        ? sasldbUser({ user: `pw${i}`, realm: "hostile.test", password: secret(v), dbPath: `${DIR}/pw.db`, mode: "0600" })
        : file({ path: `${DIR}/c/${i}`, content: v }),
    );
    const dump = (await onHost(host, `db_dump ${DIR}/pw.db`)).split("\n").map((l) => l.trim());
    for (const [i, v] of VALUES.entries()) {
      if (!usable(v)) continue;
      // Shorter than 8 characters (white space around not counted): refused as a secret (masking it would garble output).
      if (v === "" || v.trim().length < 8 || /[\0\r\n]/.test(v) || Buffer.byteLength(v) > 255) {
        expect(refused.get(i), `value #${i}`).toMatch(
          /secret cannot be empty|secret must be at least 8|password: must (not contain a NUL byte or a line break|be at most 255 bytes)/,
        );
        continue;
      }
      const key = dump.indexOf(Buffer.from(`pw${i}\0hostile.test\0userPassword`).toString("hex"));
      expect(key, `value #${i}`).toBeGreaterThanOrEqual(0);
      expect(dump[key + 1], `value #${i}`).toBe(Buffer.from(v).toString("hex"));
    }
  });

  it("no canary ran: no /tmp/PWNED-* on the host, nor on this machine", async () => {
    expect((await onHost(host, `ls /tmp | grep -F 'PWNED-${RUN}' || true`)).trim()).toBe("");
    expect(readdirSync("/tmp").filter((f) => f.includes(`PWNED-${RUN}`))).toEqual([]);
    expect(existsSync(`/tmp/PWNED-${RUN}-1`)).toBe(false);
  });
});
