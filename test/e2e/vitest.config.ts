// End-to-end tests: real registries, a token server, a CDN and the Worker under wrangler dev, driven by real clients (Node, not workerd).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/e2e/**/*.test.ts"],
    environment: "node",
    globalSetup: ["test/e2e/global-setup.ts"],
    // One stack serves every file; its counters are shared state, so files run one at a time.
    fileParallelism: false,
    // Tests start real processes and pull real images.
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
