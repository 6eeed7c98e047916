/**
 * The SSH transport's integration tests without the network-namespace fleet:
 *   npx vitest run --config test/ssh-dev.vitest.config.ts
 * starts a throwaway sshd on 127.0.0.1:2222/2223 (test/ssh-dev.global-setup.ts). With
 * PROVISION_SSH_DEV_FLEET=harness the real test hosts are used instead (test/hosts/global-setup.ts).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const useHarness = process.env.PROVISION_SSH_DEV_FLEET === "harness";

export default defineConfig({
  test: {
    root,
    name: "ssh-dev",
    include: ["test/integration/ssh-*.test.ts"],
    globalSetup: [useHarness ? "test/hosts/global-setup.ts" : "test/ssh-dev.global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
