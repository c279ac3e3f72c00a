// Node-side tests of the repository's scripts (npm run stats against a fake SQL API): they spawn
// Node processes and listen on 127.0.0.1, which workerd cannot.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    testTimeout: 20_000,
  },
});
