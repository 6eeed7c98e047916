/** The `provision` command. Errors become one clear line on stderr and exit code 1. */
import { mask } from "../shell/mask.ts";
import { parseRunArgs, USAGE, UsageError } from "./args.ts";
import { EXIT_ERROR } from "./exit-code.ts";
import { runCommand } from "./run-command.ts";

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? EXIT_ERROR : 0;
  }
  try {
    if (command === "run") return await runCommand(parseRunArgs(rest), { stdout: process.stdout, stderr: process.stderr });
    throw new UsageError(`unknown command "${command}"`);
  } catch (error) {
    const message = mask((error as Error).message ?? String(error));
    process.stderr.write(`provision: ${message}\n`);
    if (error instanceof UsageError) process.stderr.write(`\n${USAGE}\n`);
    return EXIT_ERROR;
  }
}
