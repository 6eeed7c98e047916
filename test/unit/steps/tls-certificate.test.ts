/**
 * tlsCertificate with the mock transport, answered with reads captured on a real Debian 12 test
 * host (fixtures/debian12-tls-read.*.txt): self-signed drift reasons, files-mode drift, the
 * private key only on stdin, and bad input refused before any command.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tlsCertificate, type TlsCertificateParams } from "../../../src/steps/tls-certificate.ts";
import { checkControllerCertificate } from "../../../src/steps/tls/controller-certificate.ts";
import { secret } from "../../../src/shell/secret.ts";
import { applied, mockHost, run } from "./system-hosts.ts";
import { capturedRead } from "../../support/captured-read.ts";

const FIXTURES = join(import.meta.dirname, "fixtures");
const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");
const CHAIN = fixture("tls/mail.example.test.crt");
const KEY = fixture("tls/mail.example.test.key");
const OTHER_CHAIN = fixture("tls/other.example.test.crt");
const OTHER_KEY = fixture("tls/other.example.test.key");

const paths = { hostname: "mail.example.test", certFile: "/etc/ssl/certs/mail.pem", keyFile: "/etc/ssl/private/mail.key" };
const selfSigned: TlsCertificateParams = { ...paths, selfSigned: { days: 365 } };
const files = (chain = CHAIN, key = KEY): TlsCertificateParams => ({
  ...paths,
  files: { chain, key: secret(key), chainName: "certs/mail.crt", keyName: "certs/mail.key" },
});
/** A read captured with the self-signed step's read command (fixtures/debian12-tls-read.<name>.txt), checked against it. */
const read = (name: string, params: TlsCertificateParams = selfSigned) =>
  capturedRead(join(FIXTURES, `debian12-tls-read.${name}.txt`), tlsCertificate(params).read()).stdout;

async function runWith(params: TlsCertificateParams, stdout: string, mode: "check" | "apply" = "check", expiringFor = 30) {
  const step = tlsCertificate(params);
  const mock = mockHost("debian12")
    .on((c) => c.startsWith("cert=") && c.includes(`-checkend ${expiringFor * 86400}`), { stdout })
    .on((c) => c.includes("openssl req -x509"), { stdout: "sha256 Fingerprint=AA:BB\n" })
    .on((c) => c.startsWith("[ -d /etc/ssl/certs ]"), {});
  const result = await run(mock, mode, () => [step]);
  return { ...result, mock, step: result.step!, certificate: step };
}

describe("tlsCertificate, self-signed (reads captured on Debian 12)", () => {
  const cases: [string, string, string | null][] = [
    ["converged", "converged", null],
    ["nothing there", "fresh", "generate a self-signed certificate for mail.example.test: /etc/ssl/certs/mail.pem is missing"],
    [
      "the key replaced by another",
      "key-mismatch",
      "generate a self-signed certificate for mail.example.test: /etc/ssl/private/mail.key does not match the certificate",
    ],
    [
      "the key is garbage",
      "key-unreadable",
      "generate a self-signed certificate for mail.example.test: /etc/ssl/private/mail.key is not a readable private key",
    ],
    [
      "the SAN is another name",
      "wrong-host",
      "generate a self-signed certificate for mail.example.test: the certificate does not cover mail.example.test",
    ],
    [
      "within renewBeforeDays",
      "expiring",
      "generate a self-signed certificate for mail.example.test: it expires Dec  2 06:21:11 2027 GMT (within renewBeforeDays, 30)",
    ],
  ];
  for (const [title, name, summary] of cases) {
    it(`${title} → ${summary ? "drift" : "ok"}`, async () => {
      const { step, mock } = await runWith(selfSigned, read(name));
      expect(step.status).toBe(summary ? "would-change" : "ok");
      expect(step.summary).toBe(summary ?? undefined);
      expect(applied(mock)).toEqual([]);
    });
  }

  it("the read carries the renewal window in seconds and the host name", async () => {
    const { mock } = await runWith({ ...selfSigned, renewBeforeDays: 10 }, read("converged"), "check", 10);
    const readCommand = mock.commands.find((c) => c.batched && c.command.startsWith("cert="))!.command;
    expect(readCommand).toContain("-checkend 864000");
    expect(readCommand).toContain("name=mail.example.test");
  });

  it("apply generates the pair on the host (openssl, SAN = the host name), 0600 key, and learns the fingerprint", async () => {
    const { step, mock, certificate } = await runWith(selfSigned, read("fresh"), "apply");
    expect(step.status).toBe("changed");
    const [generate, ...rest] = applied(mock);
    expect(rest).toEqual([]);
    expect(generate).toContain(
      "openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 365 -subj /CN=mail.example.test -addext subjectAltName=DNS:mail.example.test",
    );
    expect(generate).toContain('chmod 0600 "$tk"');
    expect(generate).toContain('mv -f -- "$tk" "$key"; mv -f -- "$tc" "$cert"');
    expect(certificate.fingerprint()).toBe("AA:BB");
  });

  it("a host without openssl (the files exist): the kit's one error, made by the runner", async () => {
    const step = tlsCertificate(selfSigned);
    const mock = mockHost("debian12").on((c) => c.startsWith("cert="), {
      exitCode: 127,
      stdout: "cert=root root 0644\nkey=root root 0600\n",
      stderr: "openssl: not found\n",
    });
    const result = await run(mock, "check", () => [step]);
    expect(result.step?.status).toBe("failed");
    expect(result.step?.error).toBe("openssl not found on debian12: is OpenSSL installed?");
  });

  it('the read stops at needTool("openssl") only once a file exists (a fresh host needs no openssl to read)', () => {
    const text = (tlsCertificate(selfSigned).read() as { command: { text: string } }).command.text;
    const check = text.indexOf("command -v openssl");
    expect(check).toBeGreaterThan(text.indexOf('if [ ! -f "$cert" ] && [ ! -f "$key" ]; then exit 0; fi'));
    expect(text).toContain("echo 'openssl: not found' >&2; exit 127;");
  });

  it("only the key's mode drifted → chmod, no new certificate", async () => {
    const converged = read("converged").replace("key=root root 0600", "key=root root 0644");
    const { step, mock } = await runWith(selfSigned, converged, "apply");
    expect(step.summary).toBe("/etc/ssl/private/mail.key: mode 0644 → 0600");
    expect(applied(mock)).toEqual(["chown -- root:root /etc/ssl/private/mail.key && chmod -- 0600 /etc/ssl/private/mail.key"]);
  });

  it("after the read, fingerprint() is the installed certificate's", async () => {
    const { certificate } = await runWith(selfSigned, read("converged"));
    expect(certificate.fingerprint()).toBe(
      "98:03:CD:76:F2:1F:B5:3E:AE:A9:C2:8C:AB:CB:E8:86:58:4C:EB:E3:58:BD:A7:C5:C0:65:EB:BA:7D:EB:42:3F",
    );
  });
});

describe("tlsCertificate from files on the controller", () => {
  it("converged (the chain's bytes and the key's public half match) → ok", async () => {
    const { step } = await runWith(files(), read("files-converged", files()));
    expect(step.status).toBe("ok");
  });

  it("another certificate and key installed → replace both; the key goes on stdin only, never in argv, summary or report", async () => {
    const { step, mock, report } = await runWith(files(), read("files-other", files()), "apply");
    expect(step.error).toBeUndefined();
    expect(step.status).toBe("changed");
    expect(step.summary).toBe(
      "replace /etc/ssl/certs/mail.pem (7D:40:31:26:1D:C1:BC:11… → 35:1C:67:F2:6A:36:40:22…); replace /etc/ssl/private/mail.key (it does not match the given certificate)",
    );
    const writes = mock.execs.filter((e) => e.command.includes('cat > "$tmp"'));
    expect(writes).toHaveLength(2);
    const [keyWrite, chainWrite] = writes;
    expect(keyWrite!.command).toContain("path=/etc/ssl/private/mail.key");
    expect(keyWrite!.command).toContain('chmod -- 0600 "$tmp"');
    // The content follows the `<length> <sha256>` line the host verifies it by (remote-file.ts).
    const content = (stdin: Buffer) => stdin.subarray(stdin.indexOf(10) + 1).toString();
    expect(content(keyWrite!.stdin)).toBe(KEY);
    expect(content(chainWrite!.stdin)).toBe(CHAIN);
    const keyBody = KEY.split("\n")[1]!;
    for (const exec of mock.execs) expect(exec.command).not.toContain(keyBody);
    expect(JSON.stringify(report)).not.toContain(keyBody);
  });

  it("a fresh host → install both", async () => {
    const { step } = await runWith(files(), read("fresh"));
    expect(step.summary).toBe("install /etc/ssl/certs/mail.pem; install /etc/ssl/private/mail.key");
  });

  it("a key that does not match the certificate is refused, naming both files, before any command", () => {
    expect(() => tlsCertificate(files(CHAIN, OTHER_KEY))).toThrow(
      /tlsCertificate: certs\/mail\.key does not match the certificate in certs\/mail\.crt/,
    );
  });

  it("a certificate without the host name is refused, naming the file and its SAN", () => {
    expect(() => tlsCertificate(files(OTHER_CHAIN, OTHER_KEY))).toThrow(
      "tlsCertificate: the certificate in certs/mail.crt does not cover mail.example.test (SAN: DNS:other.example.test)",
    );
  });

  it("a key file that is not a key, or a chain that holds the key, is refused without echoing it", () => {
    expect(() => tlsCertificate(files(CHAIN, "not a key"))).toThrow(
      "tlsCertificate: certs/mail.key: not a PEM private key (or it is encrypted)",
    );
    expect(() => tlsCertificate(files(KEY, KEY))).toThrow(/certs\/mail\.crt: PEM block 1 is a PRIVATE KEY, not a CERTIFICATE/);
    expect(() => tlsCertificate(files("hello", KEY))).toThrow("tlsCertificate: certs/mail.crt: no PEM certificate in it");
  });

  it("a certificate expiring within renewBeforeDays (or expired) is refused", () => {
    const base = {
      chain: CHAIN,
      key: secret(KEY),
      hostname: "mail.example.test",
      renewBeforeDays: 30,
      chainName: "c.crt",
      keyName: "k.key",
    };
    const notAfter = new Date("2126-11-08T06:21:49Z").getTime();
    expect(() => checkControllerCertificate({ ...base, now: new Date(notAfter - 10 * 86_400_000) })).toThrow(
      "tlsCertificate: the certificate in c.crt expires on Nov  8 06:21:49 2126 GMT, within renewBeforeDays (30): renew it first",
    );
    expect(() => checkControllerCertificate({ ...base, now: new Date(notAfter + 1000) })).toThrow(/expired on/);
    expect(checkControllerCertificate({ ...base, now: new Date(notAfter - 31 * 86_400_000) }).fingerprint256).toMatch(/^35:1C/);
  });

  it("params: exactly one source; a secret key", () => {
    expect(() => tlsCertificate({ ...paths })).toThrow(/exactly one of selfSigned or files/);
    expect(() => tlsCertificate({ ...paths, files: { chain: CHAIN, key: KEY as never } })).toThrow(/must be a secret/);
  });
});
