#!/usr/bin/env node
// Runs a command (the end-to-end vitest run) inside a fresh network namespace that has only a loopback interface, so no process of the run can reach the internet.
//
// Usage: node test/e2e/run-isolated.mjs <command> [args...]
//
// The registries, the token server, the CDN, wrangler dev and every client (skopeo, dockerd,
// containerd, podman) then share one namespace with `lo` alone: a fallback to the real Docker Hub
// fails at once, on a developer machine and on a CI runner with internet alike. Needs root (or
// CAP_SYS_ADMIN) for `unshare --net`. With CI=true isolation is required; elsewhere, without the
// privilege, the command runs as before (clients get dead proxies) after a loud warning.
import { spawn, spawnSync } from "node:child_process";
import { ISOLATION_HINT, loud, networkIsolated } from "./fixture/isolation.mjs";

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error("usage: node test/e2e/run-isolated.mjs <command> [args...]");
  process.exit(2);
}

if (networkIsolated()) {
  // Already inside a namespace like ours (a nested call): nothing to set up.
  runAndExit(command, args);
} else {
  const why = cannotIsolate();
  if (why === undefined) {
    // `unshare` moves itself into a new network namespace and executes sh there, which brings
    // loopback up (a new namespace starts with `lo` down) and becomes the command.
    runAndExit("unshare", [
      "--net",
      "--",
      "sh",
      "-c",
      'ip link set lo up && exec "$@"',
      "sh",
      command,
      ...args,
    ]);
  } else if (process.env.CI) {
    console.error(
      loud(
        `CI=true requires the end-to-end run to be cut off from the internet, but a network\nnamespace cannot be set up here: ${why}\nRun as root (CAP_SYS_ADMIN) with util-linux's unshare and iproute2's ip.`,
      ),
    );
    process.exit(1);
  } else {
    console.warn(
      loud(
        `NOT ISOLATED: no network namespace (${why}).\nThe end-to-end run can reach the internet: only skopeo, podman, ctr and dockerd get dead\nproxies, and a test that expects a failed fallback may pull from the real Docker Hub.\nTo isolate it, ${ISOLATION_HINT}.`,
      ),
    );
    runAndExit(command, args);
  }
}

/**
 * Why a network namespace with loopback up cannot be made here, or undefined when it can.
 * @returns {string | undefined}
 */
function cannotIsolate() {
  const probe = spawnSync("unshare", ["--net", "--", "ip", "link", "set", "lo", "up"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (probe.error) return `unshare: ${probe.error.message}`;
  if (probe.status !== 0) return probe.stderr.trim() || `unshare exited ${probe.status}`;
  return undefined;
}

/**
 * Runs the command with this terminal, then exits as it did.
 * @param {string} file
 * @param {string[]} argv
 */
function runAndExit(file, argv) {
  const child = spawn(file, argv, { stdio: "inherit" });
  // Ctrl-C reaches the child from the terminal itself; this process waits for it to finish.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => child.kill("SIGTERM"));
  child.once("error", (error) => {
    console.error(`${file}: ${error.message}`);
    process.exit(127);
  });
  child.once("exit", (code, signal) => {
    if (code !== null) process.exit(code);
    // Die of the same signal, so callers see what happened.
    process.removeAllListeners(/** @type {NodeJS.Signals} */ (signal));
    process.kill(process.pid, /** @type {NodeJS.Signals} */ (signal));
  });
}
