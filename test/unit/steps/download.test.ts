/**
 * download. Reads and fetch results captured on a real Debian 12 test host, with a file served by
 * `python3 -m http.server 8099 --bind 127.0.0.1` inside the host: `readDigestCommand(path).text`
 * and `fetchCommand(url, 10, writeFileCommand(dest, { validate })).text` piped to `ssh … sh`.
 * A wrong digest and a 404 both ended in "provision: validation failed", exit 3, file untouched
 * (with the verified write since: "the content arrived corrupted (sha256 differs)", exit 4).
 */
import { describe, expect, it } from "vitest";
import { download, parseDigest } from "../../../src/steps/download.ts";
import { applied, mockHost, run } from "./system-hosts.ts";

const SHA = "e0edcb6027598abbee539c47a1dd45523812f7161432d8eead37c90121bf291b"; // "hello download\n"
const ok = (stdout: string) => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });
const URL = "http://127.0.0.1:8099/f.txt";

describe("download", () => {
  it.each([
    ["absent", "absent\n", `fetch ${URL}`],
    ["present with the digest", `regular file\n${SHA}\n`, null],
    [
      "present with another digest",
      "regular file\n0000000000000000000000000000000000000000000000000000000000000000\n",
      `fetch ${URL} (sha256 000000000000… → e0edcb602759…)`,
    ],
  ])("%s", (_label, stdout, summary) => {
    expect(
      download({ url: URL, dest: "/srv/dl.txt", sha256: SHA.toUpperCase() }).diff(parseDigest(ok(stdout), "/srv/dl.txt"))?.summary ?? null,
    ).toBe(summary);
  });

  it("refuses to replace a directory", () => {
    expect(() => download({ url: URL, dest: "/srv", sha256: SHA }).diff(parseDigest(ok("directory\n"), "/srv"))).toThrow(/is a directory/);
  });

  it("fetches on the host into the atomic write, which verifies the required digest on the temp file", async () => {
    const host = mockHost("debian12")
      .on(/^p=\/srv\/dl\.txt/, { stdout: "absent\n" })
      .on(/^if command -v curl/, {});
    const { step } = await run(host, "apply", () => [download({ url: URL, dest: "/srv/dl.txt", sha256: SHA, mode: "640" })]);
    expect(step?.status, step?.error).toBe("changed");
    const [cmd] = applied(host);
    expect(cmd).toContain("then curl -fsSL --proto =http,https --max-time 120 -- http://127.0.0.1:8099/f.txt\n");
    expect(cmd).toContain("wget -q -T 120 -O - -- http://127.0.0.1:8099/f.txt\n");
    expect(cmd).toContain(
      `if [ "\${sum%% *}" != ${SHA} ]; then echo "provision: $path left unchanged: the content arrived corrupted (sha256 differs)" >&2; exit 4; fi`,
    );
    expect(cmd).toContain('chmod -- 0640 "$tmp"');
  });

  it.each([
    [{ url: "file:///etc/shadow", dest: "/x", sha256: SHA }, /url: must be an http/],
    [{ url: "http://a/b c", dest: "/x", sha256: SHA }, /url: must be an http/],
    [{ url: URL, dest: "/x" }, /sha256/],
    [{ url: URL, dest: "/x", sha256: "abc" }, /sha256: must be a sha256 digest/],
    [{ url: URL, dest: "/x", sha256: `${SHA.slice(1)}'` }, /sha256: must be a sha256 digest/],
    [{ url: URL, dest: "relative", sha256: SHA }, /dest: must be an absolute path/],
  ])("refuses %j", (params, message) => {
    expect(() => download(params as never)).toThrow(message);
  });
});
