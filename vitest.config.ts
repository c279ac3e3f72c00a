// Unit and integration tests: run inside workerd through Cloudflare's Vitest integration.
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // The optional R2 cache bucket, so tests can pass it to the Worker as deployers bind it.
        r2Buckets: ["CACHE_BUCKET"],
      },
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    // Node-side suites have their own projects: test/node (scripts) and test/e2e.
    exclude: ["test/e2e/**", "test/node/**"],
  },
});
