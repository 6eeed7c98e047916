/**
 * `provision check-playbook <playbook.ts>`: what can be known about a playbook without a host.
 *
 * 1. The full TypeScript type check of the playbook and everything it imports (the TypeScript
 *    compiler API, with the tsconfig.json nearest to the playbook, or strict defaults): a mistyped
 *    step parameter (`mdoe: "0600"`) or a wrong value type is an error with file:line:column.
 *    `run` does not do this (it would cost seconds on every run): it loads the playbook through
 *    tsx, which strips types without checking them, and says how to get this check when a step's
 *    parameters are refused.
 * 2. The playbook loads and exports a playbook.
 * 3. With `--vars-file` / `--var`: the vars are validated against the playbook's schema exactly as
 *    `run` validates them before connecting (unknown names, types, secrets).
 *
 * TypeScript is a peer of provision, not a dependency (a playbook's authors have it); without it
 * the command says how to install it.
 */
import path from "node:path";
import { loadPlaybook } from "../playbook/load-playbook.ts";
import { checkKnownVars, mergeVars, parseVarAssignments, readVarsFile, validateVars } from "../playbook/vars.ts";
import { loadVaultKeyring } from "../vault/index.ts";
import { EXIT_ERROR, EXIT_OK } from "./exit-code.ts";
import { HELP_OPTION, parseVerbArgs, UsageError } from "./options.ts";

export interface CheckPlaybookArgs {
  playbook: string;
  vars: string[];
  varsFiles: string[];
  vaultPasswordFiles: string[];
  vaultIds: string[];
}

export const CHECK_PLAYBOOK_USAGE = `usage: provision check-playbook <playbook.ts> [--vars-file FILE] [--var KEY=VALUE]

Type-checks the playbook and what it imports (TypeScript, with the tsconfig.json nearest to it, or
strict defaults), loads it, and validates vars against its schema — without connecting anywhere.
\`run\` skips the type check (tsx only strips types); this is the check to run in CI or an editor hook.

  --vars-file FILE         YAML or JSON vars to validate (repeatable; --var wins over it)
  --var KEY=VALUE          a var to validate (repeatable), typed by the schema as in \`run\`
  --vault-password-file F, --vault-id LABEL@FILE   for vars files encrypted with ansible-vault

examples:
  provision check-playbook playbooks/mail.ts
  provision check-playbook playbooks/mail.ts --vars-file mail.yml

exit codes: 0 no problem found, 1 a type error, a load error or invalid vars`;

const OPTIONS = {
  ...HELP_OPTION,
  var: { type: "string", multiple: true },
  "vars-file": { type: "string", multiple: true },
  "vault-password-file": { type: "string", multiple: true },
  "vault-id": { type: "string", multiple: true },
} as const;

export function parseCheckPlaybookArgs(argv: readonly string[]): CheckPlaybookArgs {
  const { values, positionals } = parseVerbArgs("check-playbook", argv, OPTIONS);
  const [playbook, ...extra] = positionals;
  if (!playbook) throw new UsageError("missing the playbook file", "check-playbook");
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`, "check-playbook");
  return {
    playbook,
    vars: (values.var as string[] | undefined) ?? [],
    varsFiles: (values["vars-file"] as string[] | undefined) ?? [],
    vaultPasswordFiles: (values["vault-password-file"] as string[] | undefined) ?? [],
    vaultIds: (values["vault-id"] as string[] | undefined) ?? [],
  };
}

type TypeScript = typeof import("typescript");

export async function checkPlaybookCommand(
  args: CheckPlaybookArgs,
  io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream },
): Promise<number> {
  const ts = await loadTypeScript();
  const errors = typeErrors(ts, path.resolve(args.playbook));
  if (errors.length > 0) {
    io.stderr.write(`${errors.join("")}\nprovision: ${args.playbook}: ${errors.length} type error${errors.length === 1 ? "" : "s"}\n`);
    return EXIT_ERROR;
  }
  const playbook = await loadPlaybook(args.playbook);
  let checked = "vars not checked (give --vars-file or --var)";
  if (args.varsFiles.length > 0 || args.vars.length > 0) {
    const vault = await loadVaultKeyring({ passwordFiles: args.vaultPasswordFiles, vaultIds: args.vaultIds });
    const fileVars = await Promise.all(args.varsFiles.map((file) => readVarsFile(file, vault)));
    for (const [i, vars] of fileVars.entries()) checkKnownVars(playbook, vars, `--vars-file ${args.varsFiles[i]}`);
    const cliVars = parseVarAssignments(args.vars, playbook.vars);
    checkKnownVars(playbook, cliVars, "--var");
    validateVars(playbook, mergeVars(...fileVars, cliVars));
    checked = "vars valid";
  }
  io.stdout.write(`${args.playbook}: playbook "${playbook.name}": types ok, ${checked}\n`);
  return EXIT_OK;
}

async function loadTypeScript(): Promise<TypeScript> {
  try {
    return (await import("typescript")).default;
  } catch {
    throw new Error("check-playbook needs TypeScript beside provision: npm install --save-dev typescript");
  }
}

/**
 * The playbook's diagnostics, formatted as tsc prints them. Only the playbook is a root: the
 * project's other files are not checked, what it imports is.
 */
function typeErrors(ts: TypeScript, file: string): string[] {
  const options = compilerOptions(ts, path.dirname(file));
  const program = ts.createProgram({ rootNames: [file], options });
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error);
  const host: import("typescript").FormatDiagnosticsHost = {
    getCanonicalFileName: (name) => name,
    getCurrentDirectory: () => process.cwd(),
    getNewLine: () => "\n",
  };
  return diagnostics.map((diagnostic) => ts.formatDiagnostic(diagnostic, host));
}

/** The nearest tsconfig.json's options, or strict defaults for a playbook outside any project. */
function compilerOptions(ts: TypeScript, dir: string): import("typescript").CompilerOptions {
  const config = ts.findConfigFile(dir, ts.sys.fileExists);
  if (config) {
    const parsed = ts.getParsedCommandLineOfConfigFile(config, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
    if (parsed) return { ...parsed.options, noEmit: true };
  }
  return {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
    isolatedModules: true,
  };
}
