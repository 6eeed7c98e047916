/**
 * Re-capture the read fixtures (test/support/captured-read.ts) from a real test host: for each
 * fixture, recreate the host state it describes (its `setup` shell), pipe the step's
 * `read().command.text` to `ssh root@host sh`, and store the command with what the host printed.
 * Binary output (copy's NUL-separated listing) is stored base64 (`# encoding: "base64"`).
 *
 *     PROVISION_TESTHOSTS_INSTANCE=4 npx tsx test/hosts/cli.ts up 1
 *     PROVISION_TESTHOSTS_INSTANCE=4 npx tsx test/support/capture-read.ts 10.213.4.10 [fixture-name…]
 *     PROVISION_TESTHOSTS_INSTANCE=4 npx tsx test/hosts/cli.ts down
 *
 * Without names, every fixture below is captured. A fixture's setup changes the host: use a test host.
 * `capture-read.ts <address> --bare-mail [command part…]` re-runs the records of the bare-Debian
 * mail check (the mail packages purged first) whose command holds one of the parts.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import type { ReadSpec } from "../../src/playbook/step.ts";
import { aptRepository, deb822 } from "../../src/steps/apt-repository.ts";
import { command, type CommandParams } from "../../src/steps/command.ts";
import { readTreeCommand } from "../../src/steps/copy-tree.ts";
import { formatCaptured } from "./captured-read.ts";

const FIXTURES = new URL("../unit/steps/fixtures/", import.meta.url);

export interface Capture {
  /** The fixture's file name under test/unit/steps/fixtures/. */
  file: string;
  /** What was read (the step's name), stored as `# read:`. */
  read: string;
  /** Shell run on the host first, to make the state the fixture describes. */
  setup: string;
  command: () => string;
  encoding?: "base64";
}

/** The aptRepository of apt-repository.test.ts. */
export const APT_PARAMS = {
  name: "provtest",
  uris: ["http://127.0.0.1:8098/"],
  suites: ["stable"],
  components: ["main"],
  keyring: readFileSync(new URL("apt-repo-key.gpg", FIXTURES)),
  fingerprint: "3392CAE17B2682F8EBE24540B3AFBA8074242C68",
};

/** The guards of command.test.ts's captured reads, by fixture name. */
export const COMMAND_GUARDS: Record<string, Partial<CommandParams>> = {
  "creates-exists-removes-absent": { creates: "/etc/passwd", removes: "/nonexistent" },
  "unless0-onlyif1": { unless: "grep -q root /etc/passwd", onlyIf: "test -e /nonexistent" },
  "unless-not-found": { unless: "no-such-cmd --flag" },
  "onlyif-as-nobody0": { becomeUser: "nobody", onlyIf: "id -un | grep -qx nobody" },
};

const remoteText = (read: ReadSpec<unknown>): string => {
  if (!("command" in read)) throw new Error("a local read has no host command");
  return read.command.text;
};
const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString("base64");
const APT_KEYRING = "/etc/apt/keyrings/provtest.gpg";
const APT_SOURCES = "/etc/apt/sources.list.d/provtest.sources";
const aptSources = deb822({ types: ["deb"], ...APT_PARAMS, keyringPath: APT_KEYRING, enabled: true });
const COPY_TREE = `rm -rf /srv/cap; mkdir -p "/srv/cap/sub dir"; printf 'hello\\n' > /srv/cap/a.txt; printf x > "/srv/cap/sub dir/q'uote
nl"; ln -sf /etc/hosts /srv/cap/link; : > /srv/cap/empty; chmod 600 /srv/cap/a.txt; chown nobody /srv/cap/empty`;

export const CAPTURES: Capture[] = [
  {
    file: "debian12-apt-repository-read.absent.txt",
    read: "aptRepository",
    setup: `rm -f ${APT_KEYRING} ${APT_SOURCES}`,
    command: () => remoteText(aptRepository(APT_PARAMS).read()),
  },
  {
    file: "debian12-apt-repository-read.converged.txt",
    read: "aptRepository",
    setup: `mkdir -p /etc/apt/keyrings && echo ${b64(APT_PARAMS.keyring)} | base64 -d > ${APT_KEYRING} && echo ${b64(aptSources)} | base64 -d > ${APT_SOURCES} && chmod 0644 ${APT_KEYRING} ${APT_SOURCES}`,
    command: () => remoteText(aptRepository(APT_PARAMS).read()),
  },
  {
    file: "debian12-copy-read.tree.txt",
    read: "copy",
    setup: COPY_TREE,
    command: () => readTreeCommand("/srv/cap").text,
    encoding: "base64",
  },
  {
    file: "debian12-copy-read.file.txt",
    read: "copy",
    setup: COPY_TREE,
    command: () => readTreeCommand("/srv/cap/a.txt").text,
    encoding: "base64",
  },
  ...Object.entries(COMMAND_GUARDS).map(
    ([name, guards]): Capture => ({
      file: `debian12-command-read.${name}.txt`,
      read: "command",
      setup: "rm -f /nonexistent",
      command: () => remoteText(command({ command: "touch /var/tmp/ran", ...guards } as CommandParams).read()),
    }),
  ),
];

function ssh(address: string, script: string): { exitCode: number; stdout: Buffer; stderr: Buffer } {
  const instance = process.env.PROVISION_TESTHOSTS_INSTANCE;
  const dir = "/var/cache/provision-testhosts";
  const knownHosts = instance ? `${dir}/known_hosts-${instance}` : `${dir}/known_hosts`;
  const result = spawnSync(
    "ssh",
    ["-i", `${dir}/test_ed25519`, "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "BatchMode=yes", `root@${address}`, "sh"],
    { input: script, maxBuffer: 64 * 1024 * 1024 },
  );
  if (result.error) throw result.error;
  return { exitCode: result.status ?? 255, stdout: result.stdout, stderr: result.stderr };
}

/**
 * A recorded run (a JSON list of `{ command, exitCode, stdout, stderr }`, outputs base64, as
 * test/unit/playbooks/fixtures/debian12-bare-mail-check.json): after `setup`, re-run on the host
 * each record whose command contains one of `only` (all when empty) and store what it printed.
 */
export function recaptureRecorded(address: string, file: string, setup: string, only: string[]): void {
  const records = JSON.parse(readFileSync(file, "utf8")) as { command: string; exitCode: number; stdout: string; stderr: string }[];
  const prepared = ssh(address, setup);
  if (prepared.exitCode !== 0) throw new Error(`setup failed (exit ${prepared.exitCode}): ${prepared.stderr}`);
  for (const record of records) {
    if (only.length && !only.some((part) => record.command.includes(part))) continue;
    const result = ssh(address, record.command);
    Object.assign(record, { exitCode: result.exitCode, stdout: b64(result.stdout), stderr: b64(result.stderr) });
    console.log(`${JSON.stringify(record.command.slice(0, 80))}: exit ${result.exitCode}, ${result.stdout.length} bytes`);
  }
  writeFileSync(file, `${JSON.stringify(records, null, 1)}\n`);
}

/** The bare-Debian host of mail-bare-debian.test.ts: the mail packages purged. */
export const BARE_MAIL_SETUP =
  "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q postfix sasl2-bin db-util libsasl2-modules >/dev/null 2>&1; dpkg -l postfix 2>/dev/null | grep -q '^ii' && exit 1; exit 0";

function main(argv: string[]): void {
  if (argv[1] === "--bare-mail") {
    const file = new URL("../unit/playbooks/fixtures/debian12-bare-mail-check.json", import.meta.url).pathname;
    recaptureRecorded(argv[0] ?? "", file, BARE_MAIL_SETUP, argv.slice(2));
    return;
  }
  const [address, ...names] = argv;
  if (!address) throw new Error("usage: capture-read.ts <host address> [fixture name…]");
  const chosen = names.length ? CAPTURES.filter((c) => names.some((n) => c.file.includes(n))) : CAPTURES;
  for (const capture of chosen) {
    const setup = ssh(address, capture.setup);
    if (setup.exitCode !== 0) throw new Error(`${capture.file}: setup failed (exit ${setup.exitCode}): ${setup.stderr}`);
    const text = capture.command();
    const result = ssh(address, text);
    writeFileSync(
      new URL(capture.file, FIXTURES),
      formatCaptured(
        { read: capture.read, command: text, exitCode: result.exitCode, stderr: result.stderr.toString("utf8") },
        result.stdout,
        capture.encoding,
      ),
    );
    console.log(`${capture.file}: exit ${result.exitCode}, ${result.stdout.length} bytes`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));
