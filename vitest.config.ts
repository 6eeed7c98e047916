import { defineConfig } from "vitest/config";

// Two projects: `unit` (mock and local transports, fast, no privileges) and `integration`
// (real test hosts in network namespaces that test/hosts/global-setup.ts starts; needs root).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts", "test/e2e/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/hosts/global-setup.ts"],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // Test files share the hosts; each file gets its own hosts by name (see support/fleet.ts).
          fileParallelism: false,
        },
      },
    ],
  },
});
