/**
 * aptRepository. The reads are captured on a real Debian 12 test host: the step's read command
 * (`aptRepository({ name: "provtest", uris: ["http://127.0.0.1:8098/"], suites: ["stable"],
 * components: ["main"], keyring, fingerprint }).read().command.text`) piped to `ssh root@host sh`,
 * before anything existed (…absent.txt) and after writing fixtures/apt-repo-key.gpg and the
 * deb822 file by hand (…converged.txt). The key is a test key made with
 * `gpg --batch --passphrase '' --quick-gen-key 'provision test repo <repo@example.invalid>' ed25519 sign never`
 * (public part only). The fingerprint check runs the controller's real gpg.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { aptRepository, parseState } from "../../../src/steps/apt-repository.ts";
import { primaryFingerprints } from "../../../src/steps/apt-keyring.ts";
import { applied, mockHost, run } from "./system-hosts.ts";
import { capturedRead } from "../../support/captured-read.ts";

const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url));
const FPR = "3392CAE17B2682F8EBE24540B3AFBA8074242C68";
const KEY = fixture("apt-repo-key.gpg");
const params = {
  name: "provtest",
  uris: ["http://127.0.0.1:8098/"],
  suites: ["stable"],
  components: ["main"],
  keyring: KEY,
  fingerprint: FPR,
};
const KEYRING = "/etc/apt/keyrings/provtest.gpg";
const SOURCES = "/etc/apt/sources.list.d/provtest.sources";
/** A read captured with this step's read command (fixtures/debian12-apt-repository-read.<name>.txt), checked against it. */
const captured = (name: string) =>
  capturedRead(new URL(`fixtures/debian12-apt-repository-read.${name}.txt`, import.meta.url), aptRepository(params).read());
const state = (name: string) => parseState(captured(name).result, KEYRING, SOURCES);

describe("aptRepository", () => {
  it("converged on the host: nothing to do", () => {
    expect(aptRepository(params).diff(state("converged"))).toBeNull();
  });

  it("absent: creates the keyring, then the sources file", () => {
    expect(aptRepository(params).diff(state("absent"))?.summary).toBe(
      `${KEYRING}: create (root:root 0644), ${SOURCES}: create (root:root 0644)`,
    );
  });

  it("another suite is a change in the sources file only, with its text diff", () => {
    const change = aptRepository({ ...params, suites: ["testing"] }).diff(state("converged"));
    expect(change?.summary).toBe(`${SOURCES}: content`);
    expect(change?.diff?.after).toContain("Suites: testing\n");
  });

  it("another keyring (same key, armored) at the same path is a content change of the keyring", () => {
    const change = aptRepository({ ...params, keyring: fixture("apt-repo-key.asc"), keyringPath: KEYRING }).diff(state("converged"));
    expect(change?.summary).toMatch(new RegExp(`^${KEYRING}: content \\(.*243 bytes → \\d+ bytes\\)$`));
  });

  it("an armored keyring goes to a .asc file by default", () => {
    const change = aptRepository({ ...params, keyring: fixture("apt-repo-key.asc") }).diff(state("absent"));
    expect(change?.summary).toContain("/etc/apt/keyrings/provtest.asc: create");
  });

  it("the sources file names its own keyring, deb822", async () => {
    const host = mockHost("debian12").on(/^# provision-file read v1 \{"path":"\/etc\/apt\/keyrings\//, {
      stdout: captured("absent").stdout,
    });
    const { step } = await run(host, "apply", () => [aptRepository({ ...params, architectures: ["amd64"] })]);
    expect(step?.status, step?.error).toBe("changed");
    const [keyringWrite, sourcesWrite] = applied(host);
    expect(keyringWrite).toContain(`path=${KEYRING}\n`);
    expect(sourcesWrite).toContain(`path=${SOURCES}\n`);
    const stdin = host.commands.find((c) => c.command.includes(`path=${SOURCES}`))?.stdin.toString();
    expect(stdin?.slice(stdin.indexOf("\n") + 1)).toBe(
      `Types: deb\nURIs: http://127.0.0.1:8098/\nSuites: stable\nComponents: main\nArchitectures: amd64\nSigned-By: ${KEYRING}\n`,
    );
    expect(
      host.commands
        .find((c) => c.command.includes(`path=${KEYRING}`))
        ?.stdin.subarray(-KEY.length)
        .equals(KEY),
    ).toBe(true);
  });

  it.each([
    [
      "a fingerprint the keyring does not hold",
      { fingerprint: "0".repeat(40) },
      new RegExp(`does not hold the key 0{40} \\(it holds: ${FPR}\\)`),
    ],
    ["a short key id", { fingerprint: "74242C68" }, /fingerprint: must be a full key fingerprint/],
    ["bytes that are no key", { keyring: Buffer.from("not a key") }, /cannot read the keyring|does not hold the key/],
    ["a suite with a newline (a second field)", { suites: ["stable\nSigned-By: /tmp/evil"] }, /suites.0: must be one word/],
    ["a URI that is not one", { uris: ["-oFoo=bar"] }, /uris.0: must be an apt URI/],
    ["a name with a slash", { name: "../x" }, /name: must be letters/],
    ["a binary keyring at a .asc path", { keyringPath: "/etc/apt/keyrings/x.asc" }, /keyring is binary/],
  ])("refuses %s", (_what, extra, message) => {
    expect(() => aptRepository({ ...params, ...extra } as never)).toThrow(message);
  });

  it("fingerprints of primary keys only (gpg --with-colons --fixed-list-mode, a subkey's fpr ignored)", () => {
    const colons =
      "pub:u:255:22:B3AFBA8074242C68:1796198975:::u:::scSC:::::ed25519:::0:\nfpr:::::::::3392CAE17B2682F8EBE24540B3AFBA8074242C68:\nsub:u:255:18:AAAA:1:::::e:::::cv25519::\nfpr:::::::::BBBB000000000000000000000000000000000000:\n";
    expect(primaryFingerprints(colons)).toEqual([FPR]);
  });
});
