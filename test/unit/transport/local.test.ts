/**
 * LocalTransport against the shared transport contract, run from a temp directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { LocalTransport } from "../../../src/transport/local.ts";
import { transportContract } from "../../contract/transport-contract.ts";

const previousCwd = process.cwd();
const workDir = mkdtempSync(path.join(os.tmpdir(), "provision-local-"));

afterAll(() => {
  process.chdir(previousCwd);
  rmSync(workDir, { recursive: true, force: true });
});

transportContract("local", async () => {
  process.chdir(workDir);
  return new LocalTransport();
});
