// A Worker under miniflare's programmatic API (the engine of wrangler dev, without wrangler's proxy in front): the only local way to bind an R2 bucket. Finds the workerd child it runs, for RSS.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";
import { HOST, freePort } from "../test/e2e/fixture/net.mjs";

/**
 * @typedef {object} MiniflareWorker
 * @property {string} url  http://127.0.0.1:PORT
 * @property {number} pid  the workerd process miniflare started (it also runs the R2 and Cache simulators)
 * @property {() => Promise<void>} stop
 */

/**
 * Starts the module under miniflare with local persistence in `dir`.
 * @param {object} options
 * @param {string} options.dir  persistence (R2 objects, Cache API entries)
 * @param {string} options.modulePath  the Worker's ES module (one file)
 * @param {import("./workerd.mjs").WranglerSettings} options.settings
 * @param {Record<string, string>} options.bindings  text bindings (vars)
 * @param {boolean} [options.cacheBucket]  bind an R2 bucket as CACHE_BUCKET
 * @returns {Promise<MiniflareWorker>}
 */
export async function startMiniflare({ dir, modulePath, settings, bindings, cacheBucket = false }) {
  const before = new Set(workerdChildren());
  const mf = new Miniflare({
    modules: true,
    scriptPath: modulePath,
    modulesRoot: dirname(modulePath),
    // The placeholder Request.cf: never fetch the real one from Cloudflare.
    cf: false,
    compatibilityDate: settings.compatibilityDate,
    compatibilityFlags: settings.compatibilityFlags,
    bindings,
    ...(cacheBucket && { r2Buckets: ["CACHE_BUCKET"], r2Persist: join(dir, "r2") }),
    cachePersist: join(dir, "cache"),
    host: HOST,
    port: await freePort(),
    log: new Log(LogLevel.WARN),
  });
  try {
    const url = await mf.ready;
    const pid = workerdChildren().find((candidate) => !before.has(candidate));
    if (pid === undefined)
      throw new Error("miniflare started no workerd process that can be found");
    return { url: url.origin, pid, stop: () => mf.dispose() };
  } catch (error) {
    await mf.dispose().catch(() => {});
    throw error;
  }
}

/**
 * The workerd processes this Node process started itself.
 * @returns {number[]}
 */
function workerdChildren() {
  /** @type {number[]} */
  const pids = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (command === "workerd" && parent === process.pid) pids.push(Number(name));
    } catch {
      // the process went away while looking
    }
  }
  return pids;
}
