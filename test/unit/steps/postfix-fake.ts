/**
 * Test support for the Postfix steps: hosts and the runner from the test-host kit (test/support/test-host.ts), and a small fake Postfix on
 * top of MockTransport that answers the steps' reads and applies `postconf -e/-Me/-MX` to its own
 * state, so apply → apply → check cycles run through the real host runner.
 *
 * The Debian 12 fixtures in fixtures/ are real: the steps' read commands run against Postfix
 * 3.7.11 in the test-host base image, before (fresh) and after (converged) an apply.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PlaybookItem } from "../../../src/playbook/step.ts";
import type { RunMode } from "../../../src/run/host-runner.ts";
import { type MockTransport, unquote } from "../../../src/transport/mock.ts";
import { runSteps as runOnTestHost, testHost } from "../../support/test-host.ts";
import { capturedRead } from "../../support/captured-read.ts";
import { postconf } from "../../../src/steps/postconf.ts";
import { editMasterCf, masterService, parseMasterCf } from "../../../src/steps/master-service.ts";
import type { HostReport } from "../../../src/report/events.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
export const fixture = (name: string): string => fs.readFileSync(path.join(here, "fixtures", name), "utf8");
/** A captured read (fixtures/debian12-postconf-read.<name>.txt), its command checked against the step's. */
export const postconfCapture = (name: string) =>
  capturedRead(path.join(here, "fixtures", `debian12-postconf-read.${name}.txt`), postconf({ settings: { biff: "no" } }).read());
/** A captured read (fixtures/debian12-master-read.<name>.txt), its command checked against the step's. */
export const masterCapture = (name: string) =>
  capturedRead(
    path.join(here, "fixtures", `debian12-master-read.${name}.txt`),
    masterService({ service: "submission", type: "inet", command: "smtpd" }).read(),
  );

/** The host's facts from the test-host kit (all named "mail", as the captures were). */
export function mockHost(facts: "debian12" | "rocky9" | "centos7" = "debian12"): MockTransport {
  return testHost(facts, { name: "mail", hostname: "mail" });
}

export async function runSteps(host: MockTransport, items: () => PlaybookItem[], mode: RunMode): Promise<HostReport> {
  return (await runOnTestHost(host, items, mode, { name: "test" })).report;
}

/** Shell words of a command as `sh` quoted them. */
export function words(command: string): string[] {
  return [...command.matchAll(/(?:'[^']*'|\\.|[^\s'\\])+/g)].map((m) => unquote(m[0]));
}

const KNOWN = "@provision:postconf-known";
const REFS = "@provision:postconf-refs";

/** The three parts of a captured postconf read: `postconf -n`, the known names, the $refs lines. */
export function splitPostconfRead(text: string): { main: string; known: string[]; refs: string } {
  const [main = "", rest = ""] = text.split(`${KNOWN}\n`);
  const [known = "", refs = ""] = rest.split(`${REFS}\n`);
  return { main, known: known.split("\n").filter(Boolean), refs };
}

export class FakePostfix {
  readonly main = new Map<string, string>();
  readonly known: string[];
  constructor(
    readonly host: MockTransport,
    options: { version: string; main: string; known: string[]; masterCf: string },
    readonly version = options.version,
  ) {
    for (const line of options.main.split("\n")) {
      const m = /^(\S+) =(?: (.*))?$/.exec(line);
      if (m?.[1]) this.main.set(m[1], m[2] ?? "");
    }
    this.known = options.known;
    host.file("/etc/postfix/master.cf", options.masterCf);
    host.on(/^postconf (-c \S+ )?-n \|\| exit/, () => ({ stdout: this.#postconfRead() }));
    host.on(/^postconf (-c \S+ )?-[eX] /, (command) => this.#edit(command));
    host.on(/^h=\$\(postconf/, () => ({ stdout: this.#masterRead() }));
    host.on(/^postconf (-c \S+ )?-M[eX] /, (command) => this.#editMaster(command));
  }

  get masterCf(): string {
    return this.host.files.get("/etc/postfix/master.cf")?.content.toString("utf8") ?? "";
  }

  set masterCf(text: string) {
    this.host.file("/etc/postfix/master.cf", text);
  }

  get modern(): boolean {
    const [a = 0, b = 0] = this.version.split(".").map(Number);
    return a > 2 || (a === 2 && b >= 11);
  }

  #postconfRead(): string {
    const main = [...this.main].map(([k, v]) => (v ? `${k} = ${v}` : `${k} =`)).join("\n");
    const refs = this.modern
      ? parseMasterCf(this.masterCf)
          .flatMap(({ entry }) => [...entry.options].map(([k, v]) => `${entry.service}/${entry.type}/${k} = ${v}`))
          .filter((l) => l.includes("$"))
      : [];
    return `${main}\n${KNOWN}\n${this.known.join("\n")}\n${REFS}\n${refs.map((l) => `${l}\n`).join("")}`;
  }

  /** `postconf -e name=value …` and `postconf -X name …`, alone or joined with `&&`. */
  #edit(command: string) {
    let mode = "";
    let configDir = false;
    for (const word of words(command)) {
      if (configDir || word === "postconf" || word === "&&") {
        configDir = false;
        continue;
      }
      if (word === "-c") {
        configDir = true;
        continue;
      }
      if (word === "-e" || word === "-X") {
        mode = word;
        continue;
      }
      if (word.startsWith("-")) continue;
      if (word.includes("\n")) return { exitCode: 1, stderr: "postconf: fatal: -e, -X, or -# accepts no multi-line input\n" };
      if (mode === "-X") {
        this.main.delete(word);
        continue;
      }
      const eq = word.indexOf("=");
      // postconf -n prints whitespace runs as one space
      this.main.set(
        word.slice(0, eq).trim(),
        word
          .slice(eq + 1)
          .trim()
          .replace(/\s+/g, " "),
      );
    }
    return {};
  }

  #masterRead(): string {
    let f = "";
    let p = "";
    if (this.modern) {
      const last = (s: string, t: string) =>
        parseMasterCf(this.masterCf)
          .filter((e) => e.entry.service === s && e.entry.type === t)
          .at(-1)?.entry;
      // the fake always reads submission/inet, the service these tests use
      const entry = last("submission", "inet");
      if (entry) {
        const k = "submission/inet";
        const opts = [...entry.options].map(([n, v]) => (/\s/.test(v) ? `-o {${n}=${v}}` : `-o ${n}=${v}`));
        f = [
          `${k}/service = submission`,
          `${k}/type = inet`,
          `${k}/private = ${entry.private}`,
          `${k}/unprivileged = ${entry.unpriv}`,
          `${k}/chroot = ${entry.chroot}`,
          `${k}/wakeup = ${entry.wakeup}`,
          `${k}/process_limit = ${entry.maxproc}`,
          `${k}/command = ${[...entry.command, ...opts].join(" ")}`,
        ]
          .map((l) => `${l}\n`)
          .join("");
        p = [...entry.options]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([n, v]) => (v ? `${k}/${n} = ${v}\n` : `${k}/${n} =\n`))
          .join("");
      }
    }
    return `mail_version=${this.version}\nconfig_directory=/etc/postfix\n@provision:master-F\n${f}@provision:master-P\n${p}@provision:master-cf\n${this.masterCf}`;
  }

  #editMaster(command: string) {
    if (!this.modern) return { exitCode: 1, stderr: "postconf: invalid option -- 'M'\n" };
    const [, flag, arg = ""] = words(command);
    if (flag === "-MX") {
      const [s = "", t = ""] = arg.split("/");
      this.masterCf = editMasterCf(this.masterCf, s, t, null);
      return {};
    }
    const eq = arg.indexOf("=");
    const [s = "", t = ""] = arg.slice(0, eq).split("/");
    const entry = parseMasterCf(arg.slice(eq + 1))[0]?.entry;
    if (!entry) return { exitCode: 1, stderr: "postconf: fatal: bad entry\n" };
    this.masterCf = editMasterCf(this.masterCf, s, t, entry);
    return {};
  }
}

/** A fake Debian 12 Postfix 3.7, started from the real captured fresh state. */
export function debianPostfix(): FakePostfix {
  const { main, known } = splitPostconfRead(postconfCapture("fresh").stdout);
  const masterRead = masterCapture("fresh").stdout;
  const masterCf = masterRead.slice(masterRead.indexOf("@provision:master-cf\n") + "@provision:master-cf\n".length);
  return new FakePostfix(mockHost("debian12"), { version: "3.7.11", main, known, masterCf });
}
