/** The public API a playbook imports. Re-exports only. */
export { definePlaybook, type Playbook, type PlaybookContext, type HostInfo } from "./playbook/playbook.ts";
export { secretVar } from "./playbook/vars.ts";
export { defineInventory, type InventoryDefinition } from "./inventory/define-inventory.ts";
export {
  flushHandlers,
  HostUnchangedError,
  InvalidStepError,
  ReadFailedError,
  type AnyStep,
  type Step,
  type Handler,
  type Change,
  type ApplyContext,
  type ReadSpec,
} from "./playbook/step.ts";
export { secret, Secret, secretText } from "./shell/secret.ts";
export { sh, raw, secretStdin, ShellCommand } from "./shell/sh.ts";
export type { Facts } from "./facts/facts.ts";
export { z } from "zod";
export * from "./steps/index.ts";
export { tagged, type StepSelection } from "./playbook/tags.ts";
export { fact, type CustomFact } from "./facts/custom-facts.ts";
// The kit for writing a step of your own (docs/writing-a-step.md).
export { fileWrite, parseFileState, readFileCommand, runFileWrite, writeRemoteFile, type FileState } from "./transport/remote-file.ts";
export { EVERYTHING, pathResource, pathTree, type Resource } from "./playbook/resources.ts";
export { accountName, filePath, parseStepParams } from "./steps/params.ts";
// The test double for your playbooks: an in-memory host, and the runner (README, "Testing your playbooks with the mock host").
export { MockTransport, type MockFile, type Matcher, type Answer, type RecordedCommand } from "./transport/mock.ts";
export { runHost, type HostRunOptions, type RunMode } from "./run/host-runner.ts";
