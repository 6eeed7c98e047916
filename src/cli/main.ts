/** The `provision` command. Errors become one clear line on stderr and exit code 1. */
import { mask } from "../shell/mask.ts";
import { parseRunArgs, RUN_USAGE, USAGE, UsageError, wantsHelp } from "./args.ts";
import { EXIT_ERROR } from "./exit-code.ts";
import { CHECK_PLAYBOOK_USAGE, checkPlaybookCommand, parseCheckPlaybookArgs } from "./check-playbook-command.ts";
import { EXEC_USAGE, execCommand, parseExecArgs } from "./exec-command.ts";
import { FACTS_USAGE, factsCommandRun, parseFactsArgs } from "./facts-command.ts";
import { INVENTORY_USAGE, inventoryCommand, parseInventoryArgs } from "./inventory-command.ts";
import { REPORT_USAGE, reportCommand } from "./report-command.ts";
import { runCommand } from "./run-command.ts";
import { closest } from "./suggest.ts";

/** What bin/provision.js knows: the package version and which engine it loaded (dist/ or src/). */
export interface About {
  version: string;
  engine: string;
}

interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

interface Verb {
  usage: string;
  run(argv: readonly string[], io: Io): Promise<number>;
}

const VERBS: Record<string, Verb> = {
  run: { usage: RUN_USAGE, run: (argv, io) => runCommand(parseRunArgs(argv), io) },
  exec: { usage: EXEC_USAGE, run: (argv, io) => execCommand(parseExecArgs(argv), io) },
  facts: { usage: FACTS_USAGE, run: (argv, io) => factsCommandRun(parseFactsArgs(argv), io) },
  inventory: { usage: INVENTORY_USAGE, run: (argv, io) => inventoryCommand(parseInventoryArgs(argv), io) },
  report: { usage: REPORT_USAGE, run: (argv, io) => reportCommand(argv, io) },
  "check-playbook": { usage: CHECK_PLAYBOOK_USAGE, run: (argv, io) => checkPlaybookCommand(parseCheckPlaybookArgs(argv), io) },
};

export async function main(argv: readonly string[], about?: About): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    const verb = command === "help" && rest[0] !== undefined ? VERBS[rest[0]] : undefined;
    process.stdout.write(`${verb?.usage ?? USAGE}\n`);
    return command === undefined ? EXIT_ERROR : 0;
  }
  if (command === "--version" || command === "-V" || command === "version") {
    process.stdout.write(
      `provision ${about?.version ?? "(version unknown)"}\nengine: ${about?.engine ?? "(not run through bin/provision.js)"}\n`,
    );
    return 0;
  }
  const io = { stdout: process.stdout, stderr: process.stderr };
  const verb = VERBS[command];
  try {
    if (!verb) {
      const suggestion = closest(command, Object.keys(VERBS));
      throw new UsageError(`unknown command "${command}"${suggestion ? ` (did you mean "${suggestion}"?)` : ""}`);
    }
    if (wantsHelp(rest)) {
      process.stdout.write(`${verb.usage}\n`);
      return 0;
    }
    return await verb.run(rest, io);
  } catch (error) {
    const message = mask((error as Error).message ?? String(error));
    process.stderr.write(`provision: ${message}\n`);
    if (error instanceof UsageError) {
      const usage = error.verb !== undefined ? VERBS[error.verb]?.usage : undefined;
      process.stderr.write(`\n${usage ?? USAGE}\n`);
    }
    return EXIT_ERROR;
  }
}
