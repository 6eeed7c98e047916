/** The `provision` command. Errors become one clear line on stderr and exit code 1. */
import { mask } from "../shell/mask.ts";
import { parseRunArgs, USAGE, UsageError } from "./args.ts";
import { EXIT_ERROR } from "./exit-code.ts";
import { reportCommand } from "./report-command.ts";
import { runCommand } from "./run-command.ts";

/** What bin/provision.js knows: the package version and which engine it loaded (dist/ or src/). */
export interface About {
  version: string;
  engine: string;
}

export async function main(argv: readonly string[], about?: About): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? EXIT_ERROR : 0;
  }
  if (command === "--version" || command === "-V" || command === "version") {
    process.stdout.write(`provision ${about?.version ?? "(version unknown)"}\nengine: ${about?.engine ?? "(not run through bin/provision.js)"}\n`);
    return 0;
  }
  try {
    if (command === "run") return await runCommand(parseRunArgs(rest), { stdout: process.stdout, stderr: process.stderr });
    if (command === "report") return await reportCommand(rest, { stdout: process.stdout, stderr: process.stderr });
    throw new UsageError(`unknown command "${command}"`);
  } catch (error) {
    const message = mask((error as Error).message ?? String(error));
    process.stderr.write(`provision: ${message}\n`);
    if (error instanceof UsageError) process.stderr.write(`\n${USAGE}\n`);
    return EXIT_ERROR;
  }
}
