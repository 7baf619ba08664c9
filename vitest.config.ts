import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Adapter suites talk to real servers and e2e suites spawn CLI processes: generous per-test
    // timeouts, but every wait inside a test is bounded by an event or a deadline of its own.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    globalSetup: ["test/global-setup.ts"],
  },
});
