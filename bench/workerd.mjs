// Plain workerd for measurements: builds the Worker bundle, writes a workerd config around a module, runs `workerd serve`, and reads the process's RSS and CPU time from /proc.
import { copyFile, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { readFileSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import { HOST, freePort, probe, waitUntil } from "../test/e2e/fixture/net.mjs";
import { run, startService } from "../test/e2e/fixture/processes.mjs";
import { REPO_ROOT } from "../test/e2e/fixture/proxy.mjs";

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (`getconf CLK_TCK`; 100 on Linux). */
const CLK_TCK = 100;

/**
 * @typedef {object} Bundle
 * @property {string} file  the Worker's main module
 * @property {number} bytes
 * @property {number} gzipBytes  zlib gzip (default level) of the module
 *
 * @typedef {object} WranglerSettings  what the bundle needs from wrangler.toml to run the same way
 * @property {string} compatibilityDate
 * @property {string[]} compatibilityFlags
 * @property {Record<string, string>} vars  the [vars] table (string values only)
 *
 * @typedef {object} Workerd
 * @property {string} url  http://127.0.0.1:PORT
 * @property {number} pid  the workerd process itself
 * @property {string} logFile
 * @property {() => Promise<void>} stop
 */

/** The workerd binary the repository pins (the npm `workerd` package's ELF). */
export function workerdBinary() {
  for (const candidate of [
    join(REPO_ROOT, "node_modules", ".bin", "workerd"),
    join(REPO_ROOT, "node_modules", "@cloudflare", "workerd-linux-64", "bin", "workerd"),
  ]) {
    try {
      return realpathSync(candidate);
    } catch {
      // try the next one
    }
  }
  throw new Error("no workerd binary in node_modules: run npm ci");
}

/**
 * `workerd --version`, e.g. "workerd 2026-11-02".
 * @returns {Promise<string>}
 */
export async function workerdVersion() {
  const result = await run(workerdBinary(), ["--version"], { timeoutMs: 10_000 });
  return result.stdout.trim() || "unknown";
}

/**
 * Builds the Worker as `wrangler deploy` would, without deploying (`--dry-run --outdir`).
 * @param {string} outdir
 * @param {{ minify?: boolean, logDir: string }} options
 * @returns {Promise<Bundle>}
 */
export async function buildBundle(outdir, { minify = false, logDir }) {
  const wrangler = join(REPO_ROOT, "node_modules", ".bin", "wrangler");
  const args = ["deploy", "--dry-run", "--outdir", outdir];
  if (minify) args.push("--minify");
  const result = await run(wrangler, args, {
    cwd: REPO_ROOT,
    timeoutMs: 120_000,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG_PATH: logDir },
  });
  if (result.code !== 0) {
    throw new Error(`wrangler deploy --dry-run failed:\n${result.stdout}\n${result.stderr}`);
  }
  const main = (await readdir(outdir)).find((name) => /\.m?js$/.test(name));
  if (!main) throw new Error(`wrangler wrote no JavaScript module to ${outdir}`);
  const file = join(outdir, main);
  const code = await readFile(file);
  return { file, bytes: code.length, gzipBytes: gzipSync(code).length };
}

/**
 * Reads the few wrangler.toml settings that change how the Worker runs. A deliberately small
 * parser: top-level `key = value` lines and the `[vars]` table of strings.
 * @returns {WranglerSettings}
 */
export function readWranglerSettings() {
  const text = readFileSync(join(REPO_ROOT, "wrangler.toml"), "utf8");
  /** @type {WranglerSettings} */
  const settings = { compatibilityDate: "", compatibilityFlags: [], vars: {} };
  let section = "";
  for (const rawLine of text.split("\n")) {
    const line = rawLine.replace(/^\s+|\s+$/g, "");
    if (line.startsWith("#") || !line) continue;
    const header = /^\[+([^\]]+)\]+$/.exec(line);
    if (header) {
      section = header[1].trim();
      continue;
    }
    const pair = /^([A-Za-z0-9_]+)\s*=\s*(.+)$/.exec(line);
    if (!pair) continue;
    const [, key, value] = pair;
    if (section === "" && key === "compatibility_date")
      settings.compatibilityDate = JSON.parse(value);
    if (section === "" && key === "compatibility_flags") {
      settings.compatibilityFlags = JSON.parse(value.replace(/,\s*]$/, "]"));
    }
    if (section === "vars" && value.startsWith('"')) settings.vars[key] = JSON.parse(value);
  }
  if (!settings.compatibilityDate) throw new Error("wrangler.toml has no compatibility_date");
  return settings;
}

/**
 * Writes `config.capnp` with the module embedded next to it, and starts `workerd serve` on a free
 * loopback port. Outbound fetches go through a network service that may reach 127.0.0.1.
 * @param {object} options
 * @param {string} options.dir  a new directory for the config, the module and the log
 * @param {string} options.name  for messages and the log file
 * @param {string} options.modulePath  the Worker's ES module
 * @param {Record<string, string>} options.bindings  text bindings (vars)
 * @param {WranglerSettings} options.settings
 * @param {string} [options.cacheAddress]  host:port of a Cache API backend (cache-service.mjs); none: no Cache API
 * @returns {Promise<Workerd>}
 */
export async function startWorkerd({ dir, name, modulePath, bindings, settings, cacheAddress }) {
  await mkdir(dir, { recursive: true });
  const moduleName = basename(modulePath);
  await copyFile(modulePath, join(dir, moduleName));
  const port = await freePort();
  const configFile = join(dir, "config.capnp");
  await writeFile(configFile, capnpConfig({ port, moduleName, bindings, settings, cacheAddress }));
  const child = startService(`workerd (${name})`, workerdBinary(), ["serve", configFile], {
    cwd: dir,
    logFile: join(dir, "workerd.log"),
  });
  const url = `http://${HOST}:${port}`;
  try {
    await waitUntil(
      async () => {
        child.assertRunning();
        return (await probe(`${url}/`)) !== undefined;
      },
      { what: `${child.name} on ${url} (log: ${child.logFile})`, timeoutMs: 30_000 },
    );
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { url, pid: child.pid, logFile: child.logFile, stop: child.stop };
}

/**
 * A workerd config: one Worker (the module, embedded) on one HTTP socket.
 * @param {{ port: number, moduleName: string, bindings: Record<string, string>, settings: WranglerSettings, cacheAddress?: string }} options
 * @returns {string}
 */
function capnpConfig({ port, moduleName, bindings, settings, cacheAddress }) {
  // JSON string literals are valid Cap'n Proto text literals.
  const text = (/** @type {string} */ value) => JSON.stringify(value);
  const bindingList = Object.entries(bindings)
    .map(([key, value]) => `(name = ${text(key)}, text = ${text(value)})`)
    .join(",\n      ");
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # Loopback and private addresses too: every upstream in the benchmark is on 127.0.0.1.
    (name = "internet", network = (allow = ["public", "private", "local"])),${
      cacheAddress
        ? `\n    (name = "cache", external = (address = ${text(cacheAddress)}, http = ())),`
        : ""
    }
  ],
  sockets = [(name = "http", address = ${text(`${HOST}:${port}`)}, http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = ${text(moduleName)}, esModule = embed ${text(moduleName)})],
  compatibilityDate = ${text(settings.compatibilityDate)},
  compatibilityFlags = [${settings.compatibilityFlags.map(text).join(", ")}],
  bindings = [
      ${bindingList}
  ],
  globalOutbound = "internet",${cacheAddress ? `\n  cacheApiOutbound = "cache",` : ""}
);
`;
}

/**
 * Resident set size of a process (VmRSS), in bytes.
 * @param {number} pid
 * @returns {number}
 */
export function readRss(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/**
 * CPU time a process has used so far (utime + stime, all threads), in microseconds.
 * Resolution is one clock tick (10 ms), so measure over many requests.
 * @param {number} pid
 * @returns {number}
 */
export function readCpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / CLK_TCK;
}

/**
 * Calls `read` (an RSS reader) every `intervalMs` until stopped; keeps the peak.
 * @param {() => number} read
 * @param {number} [intervalMs]
 * @returns {{ peek: () => number, stop: () => { peak: number, samples: number } }}
 */
export function sampleRss(read, intervalMs = 20) {
  let peak = read();
  let samples = 1;
  const timer = setInterval(() => {
    peak = Math.max(peak, read());
    samples++;
  }, intervalMs);
  return {
    peek: () => peak,
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, read());
      return { peak, samples: samples + 1 };
    },
  };
}
