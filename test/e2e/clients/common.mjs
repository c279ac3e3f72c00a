// Shared plumbing for the real-client e2e helpers: finding binaries, running commands that must succeed, and leaving nothing behind.
import { spawnSync } from "node:child_process";
import {
  accessSync,
  constants,
  existsSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  rmdirSync,
} from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { onExit } from "../fixture/cleanup.mjs";
import { run } from "../fixture/processes.mjs";

/**
 * The absolute path of an executable on PATH, or undefined.
 * @param {string} name
 * @returns {string | undefined}
 */
export function findBinary(name) {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Why a client suite cannot run here ("" when it can): names the missing binaries and the apt line.
 * Prints a loud banner when something is missing, so a local skip is never silent.
 * @param {string} client  e.g. "docker"
 * @param {string[]} binaries  every program the helper runs
 * @param {string} aptPackages  what provides them on Debian/Ubuntu
 * @returns {string}
 */
export function missingClientReason(client, binaries, aptPackages) {
  const missing = binaries.filter((name) => !findBinary(name));
  if (missing.length === 0) return "";
  const reason = `${client} e2e tests need ${missing.join(", ")}: apt-get install -y ${aptPackages}`;
  if (!process.env.CI) {
    console.warn(`\n${"!".repeat(80)}\n!! SKIPPING: ${reason}\n${"!".repeat(80)}\n`);
  }
  return reason;
}

/**
 * Runs a command and returns its stdout; throws with the whole output when it fails.
 * @param {string} command
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, timeoutMs?: number }} [options]
 * @returns {Promise<string>}
 */
export async function runChecked(command, args, options = {}) {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    const why = result.timedOut
      ? `timed out after ${options.timeoutMs ?? 60_000} ms`
      : `exit ${result.code}`;
    throw new Error(
      `${command} ${args.join(" ")}: ${why}\n--- stdout\n${tail(result.stdout)}\n--- stderr\n${tail(result.stderr)}`,
    );
  }
  return result.stdout;
}

/**
 * The last lines of a command's output (debug logs can be long; the end says what failed).
 * @param {string} text
 * @param {number} [lines]
 */
function tail(text, lines = 80) {
  const all = text.trimEnd().split("\n");
  return (all.length > lines ? ["…", ...all.slice(-lines)] : all).join("\n");
}

/**
 * SIGKILLs every process still running from inside `workDir` (its command line, executable or
 * working directory mentions it), e.g. a containerd that dockerd left behind after a crash.
 * Only processes whose own files live in this test's private directory can match.
 * @param {string} workDir
 * @returns {number[]} the pids that were killed
 */
export function killProcessesUsing(workDir) {
  const dir = privateDir(workDir);
  const killed = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (!mentions(pid, dir)) continue;
    try {
      process.kill(pid, "SIGKILL");
      killed.push(pid);
    } catch {
      // already gone
    }
  }
  return killed;
}

/**
 * Guards the kill-and-delete helpers against a wrong argument such as "/" or "/tmp".
 * @param {string} workDir
 * @returns {string} the absolute path
 */
function privateDir(workDir) {
  const dir = resolve(workDir);
  if (dir.split("/").filter(Boolean).length < 2) throw new Error(`refusing to clean up ${dir}`);
  return dir;
}

/**
 * @param {number} pid
 * @param {string} dir
 */
function mentions(pid, dir) {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (cmdline.some((arg) => arg === dir || arg.includes(`${dir}/`))) return true;
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    return cwd === dir || cwd.startsWith(`${dir}/`);
  } catch {
    return false; // exited meanwhile, or a kernel thread
  }
}

/**
 * Mount points at or below `dir`, deepest first (from /proc/self/mountinfo).
 * @param {string} dir
 * @returns {string[]}
 */
export function mountsUnder(dir) {
  const root = resolve(dir);
  return (
    readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[4])
      .filter((point) => point !== undefined)
      // mountinfo escapes space, tab, newline and backslash as octal
      .map((point) =>
        point.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8))),
      )
      .filter((point) => point === root || point.startsWith(`${root}/`))
      .sort((a, b) => b.length - a.length)
  );
}

/**
 * Kills what still runs from `workDir`, lazily unmounts what is mounted below it (a daemon
 * killed hard leaves its mounts), then deletes it. Synchronous, so it also works at process exit.
 * Refuses to delete while something is still mounted below it.
 * @param {string} workDir
 */
export function removeWorkDirSync(workDir) {
  killProcessesUsing(workDir);
  for (const point of mountsUnder(workDir)) spawnSync("umount", ["--lazy", point]);
  const left = mountsUnder(workDir);
  if (left.length > 0)
    throw new Error(`still mounted, not deleting ${workDir}: ${left.join(", ")}`);
  rmSync(workDir, { recursive: true, force: true });
}

/**
 * Owns a client's private directory: `remove()` kills what still runs from it, unmounts and
 * deletes it; if the test process exits or is interrupted first, the same happens at exit
 * (after the fixture's exit hooks SIGKILLed the daemons).
 *
 * Some daemons also create a fixed host-wide directory that no flag moves (dockerd:
 * /run/docker/plugins; rootful podman: /run/containers/networks). Those in `hostDirs` (innermost
 * first) that do not exist now are removed again, as long as they are empty.
 * @param {string} workDir
 * @param {string[]} [hostDirs]
 * @returns {{ remove: () => void }}
 */
export function guardWorkDir(workDir, hostDirs = []) {
  privateDir(workDir);
  const absent = hostDirs.filter((dir) => !existsSync(dir));
  const cleanUp = () => {
    removeWorkDirSync(workDir);
    for (const dir of absent) {
      try {
        rmdirSync(dir);
      } catch {
        // never created, or not empty (someone else uses it now): leave it
      }
    }
  };
  const unregister = onExit(cleanUp);
  return {
    remove() {
      cleanUp();
      unregister();
    },
  };
}

/**
 * A seeded image (or artifact) by registry, repository and, when it has several, tag.
 * @param {import("../fixture/stack.mjs").SeededImage[]} images  the stack's `images`
 * @param {import("../fixture/stack.mjs").RegistryName} registry
 * @param {string} repository  as clients name it on that registry
 * @param {string} [tag]
 * @returns {import("../fixture/stack.mjs").SeededImage}
 */
export function seededImage(images, registry, repository, tag) {
  const image = images.find(
    (candidate) =>
      candidate.registry === registry &&
      candidate.repository === repository &&
      (tag === undefined || candidate.tag === tag),
  );
  if (!image) throw new Error(`the stack seeds no ${registry} image ${repository}:${tag ?? "*"}`);
  return image;
}

/**
 * The digest the fixture's registry stored for a seeded image (what a direct pull resolves to).
 * @param {import("../fixture/stack.mjs").SeededImage[]} images  the stack's `images`
 * @param {import("../fixture/stack.mjs").RegistryName} registry
 * @param {string} nameAndTag  e.g. "library/alpine:3"
 * @returns {string}
 */
export function seededDigest(images, registry, nameAndTag) {
  const image = images.find(
    (candidate) =>
      candidate.registry === registry && `${candidate.repository}:${candidate.tag}` === nameAndTag,
  );
  if (!image) throw new Error(`the stack seeds no ${registry} image ${nameAndTag}`);
  return image.digest;
}
