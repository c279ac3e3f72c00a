// Starts the end-to-end stack once for every test file and hands its description to the tests.
import type { TestProject } from "vitest/node";
import { startControlServer } from "./fixture/control.mjs";
import { ISOLATION_HINT, loud, networkIsolated } from "./fixture/isolation.mjs";
import { INSTALL_HINT, missingTools } from "./fixture/prerequisites.mjs";
import { startStack, type StackInfo } from "./fixture/stack.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    /** Why the end-to-end suites cannot run here; empty when they can. */
    e2eSkipReason: string;
    /** The running stack; `controlUrl` serves its request counters (fixture/control.mjs). */
    stack: StackInfo & { controlUrl: string };
  }
}

/** @returns the teardown, or nothing when the suites are skipped */
export default async function setup(project: TestProject) {
  const missing = missingTools();
  if (missing.length > 0) {
    const reason = `end-to-end tests need ${missing.join(", ")}: ${INSTALL_HINT}`;
    if (process.env.CI) throw new Error(reason);
    console.warn(
      `\n${"!".repeat(80)}\n!! SKIPPING end-to-end tests: ${reason}\n${"!".repeat(80)}\n`,
    );
    project.provide("e2eSkipReason", reason);
    return;
  }
  if (!networkIsolated()) {
    // On CI a test that expects a failed fallback must never reach the real Docker Hub.
    if (process.env.CI) {
      throw new Error(
        `CI=true: the end-to-end run must be cut off from the internet; ${ISOLATION_HINT}`,
      );
    }
    console.warn(loud(`end-to-end run NOT isolated from the internet: ${ISOLATION_HINT}`));
  }
  const stack = await startStack();
  const control = await startControlServer(stack);
  project.provide("e2eSkipReason", "");
  project.provide("stack", { ...stack.info, controlUrl: control.url });
  return async () => {
    await control.stop();
    await stack.stop();
  };
}
