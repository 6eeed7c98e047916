/**
 * Loads a playbook module (TypeScript, through tsx's loader registered by bin/provision.js).
 * Errors name the file: not found, does not compile, does not export a playbook.
 */
import { access } from "node:fs/promises";
import { resolve } from "node:path";
import { importTypeScript, unwrapDefault } from "./import-typescript.ts";
import { isPlaybook, type Playbook } from "./playbook.ts";

export class PlaybookLoadError extends Error {
  override readonly name = "PlaybookLoadError";
}

export async function loadPlaybook(path: string): Promise<Playbook> {
  const absolute = resolve(path);
  try {
    await access(absolute);
  } catch {
    throw new PlaybookLoadError(`${path}: playbook file not found`);
  }
  let module: Record<string, unknown>;
  try {
    module = await importTypeScript(absolute);
  } catch (error) {
    throw new PlaybookLoadError(`${path}: cannot load playbook: ${(error as Error).message}`);
  }
  const candidate = unwrapDefault(module.default, isPlaybook) ?? module.playbook;
  if (!isPlaybook(candidate)) {
    throw new PlaybookLoadError(`${path}: does not export a playbook (expected \`export default definePlaybook({...})\`)`);
  }
  return candidate;
}
