/**
 * An SMTP login by a client that is not our own code: Python's smtplib, driven through
 * `python3 -c`. It connects, EHLOs, and logs in with AUTH CRAM-MD5 (forced, not negotiated:
 * `SMTP.auth("CRAM-MD5", smtp.auth_cram_md5)`), then prints one JSON line with the final reply.
 * The password arrives on stdin — never in argv, where `ps` would show it to every user.
 * Bounded: smtplib's socket timeout bounds every wait, and the process is killed after
 * `timeoutMs` + 2 s whatever it is doing.
 */
import { spawn } from "node:child_process";

const SCRIPT = String.raw`
import json, smtplib, socket, ssl, sys
host, port, user, timeout, starttls = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5] == "1"
password = sys.stdin.readline().rstrip("\n")
out = {"mechanisms": [], "code": None, "text": ""}
try:
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        smtp.ehlo()
        if starttls:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            smtp.starttls(context=context)
            smtp.ehlo()
        out["mechanisms"] = smtp.esmtp_features.get("auth", "").upper().split()
        smtp.user, smtp.password = user, password
        code, text = smtp.auth("CRAM-MD5", smtp.auth_cram_md5)
        out["code"], out["text"] = code, text.decode("utf-8", "replace")
    except smtplib.SMTPAuthenticationError as e:
        out["code"], out["text"] = e.smtp_code, e.smtp_error.decode("utf-8", "replace")
    except smtplib.SMTPResponseException as e:
        out["code"], out["text"] = e.smtp_code, e.smtp_error.decode("utf-8", "replace")
    finally:
        try:
            smtp.quit()
        except Exception:
            smtp.close()
except (OSError, smtplib.SMTPException) as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
`;

export interface PythonSmtpLoginResult {
  /** The server's final reply code to the login (235 on success), null when no reply came. */
  code: number | null;
  text: string;
  /** AUTH mechanisms the server offered in EHLO, as smtplib read them. */
  mechanisms: string[];
  /** A connection or protocol failure before any login reply. */
  error?: string;
}

export async function pythonSmtpLogin(options: {
  host: string;
  port: number;
  user: string;
  password: string;
  timeoutMs?: number;
  starttls?: boolean;
}): Promise<PythonSmtpLoginResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const child = spawn(
    "python3",
    ["-c", SCRIPT, options.host, String(options.port), options.user, String(timeoutMs / 1000), options.starttls ? "1" : "0"],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  child.stdin.end(`${options.password}\n`);
  const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs + 2000);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  }).finally(() => clearTimeout(killer));
  const text = Buffer.concat(stdout).toString("utf8").trim();
  if (exitCode !== 0 || !text) {
    throw new Error(`python3 smtplib login exited ${exitCode}: ${Buffer.concat(stderr).toString("utf8").trim().slice(-500)}`);
  }
  return JSON.parse(text.split("\n").at(-1) ?? "{}") as PythonSmtpLoginResult;
}
