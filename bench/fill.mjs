// The big blob with CACHE_BUCKET bound, under miniflare (workerd plus miniflare's R2 simulator): a cold GET that tees the body to R2, then warm GETs from R2, next to the pass-through Worker under the same miniflare; and a cold GET by a slow client, for memory.
import { join } from "node:path";
import { download } from "./client.mjs";
import { startMiniflare } from "./miniflare.mjs";
import { MiB, now } from "./stats.mjs";
import { measureSlowClient, measureThroughput } from "./throughput.mjs";
import { readRss, sampleRss } from "./workerd.mjs";

/**
 * @typedef {object} FillTransfer
 * @property {"cold" | "warm"} kind
 * @property {number} mibPerSecond
 * @property {string} cacheStatus  X-Cache
 * @property {number} rssGrowth  bytes: workerd's peak during the GET minus its RSS before it
 * @property {number} upstreamBlobRequests  blob GET/HEAD the registry received during it
 * @property {number} cdnRequests
 *
 * @typedef {object} FillResult
 * @property {FillTransfer[]} transfers  one cold, then `warmRounds` warm (fast client)
 * @property {number} storedAfterMs  how long after the cold GET's last byte a HEAD first answered HIT; NaN if never
 * @property {import("./throughput.mjs").TargetResult} passThrough  the pass-through Worker under miniflare, fast client
 * @property {import("./throughput.mjs").SlowResult} slowCold  a fresh proxy's cold GET by a slow client
 * @property {number} slowStoredAfterMs
 * @property {import("./throughput.mjs").SlowResult} slowPassThrough
 * @property {number} slowMibPerSecond  the slow client's limit
 * @property {{ mibPerSecond: number, rssGrowth: number }} putAlone  a Worker that only puts the blob into R2 (miniflare's simulator alone)
 */

/**
 * @param {object} options
 * @param {import("../test/e2e/fixture/stack.mjs").Stack} options.stack
 * @param {string} options.repository  e.g. library/big
 * @param {string} options.tag  a tag of it, to warm up the proxy's upstream token
 * @param {{ digest: string, size: number }} options.layer
 * @param {string} options.cdnPath  the layer's path on the CDN, for the pass-through Worker
 * @param {number} options.warmRounds
 * @param {number} options.slowMibPerSecond
 * @param {string} options.bundle  the proxy's built module
 * @param {string} options.passThroughModule
 * @param {string} options.putModule  the R2 baseline Worker (bench/r2-put-worker.mjs)
 * @param {import("./workerd.mjs").WranglerSettings} options.settings
 * @param {string} options.dir
 * @param {(message: string) => void} [options.log]
 * @returns {Promise<FillResult>}
 */
export async function measureFill({
  stack,
  repository,
  tag,
  layer,
  cdnPath,
  warmRounds,
  slowMibPerSecond,
  bundle,
  passThroughModule,
  putModule,
  settings,
  dir,
  log = () => {},
}) {
  const bindings = {
    ...settings.vars,
    UPSTREAMS: JSON.stringify({ docker: stack.info.hub.url, ghcr: stack.info.ghcr.url }),
    DEFAULT_ROUTE: "docker",
  };
  /** @param {string} name */
  const startProxy = (name) =>
    startMiniflare({
      dir: join(dir, name),
      modulePath: bundle,
      settings,
      bindings,
      cacheBucket: true,
    });
  const passThrough = await startMiniflare({
    dir: join(dir, "pass-through"),
    modulePath: passThroughModule,
    settings,
    bindings: { UPSTREAM: stack.info.cdn.url },
  });
  try {
    /** @type {FillTransfer[]} */
    const transfers = [];
    let storedAfterMs = NaN;
    const proxy = await startProxy("proxy-fast");
    try {
      const blobUrl = `${proxy.url}/v2/${repository}/blobs/${layer.digest}`;
      await warmUpToken(proxy.url, repository, tag);
      /** @param {"cold" | "warm"} kind */
      const transfer = async (kind) => {
        stack.resetCounts();
        const baseline = readRss(proxy.pid);
        const sampler = sampleRss(() => readRss(proxy.pid));
        const result = await download(blobUrl, { hash: true });
        const { peak } = sampler.stop();
        if (
          result.status !== 200 ||
          result.bytes !== layer.size ||
          result.digest !== layer.digest
        ) {
          throw new Error(
            `${kind} GET ${blobUrl}: status ${result.status}, ${result.bytes} of ${layer.size} bytes, ${result.digest}`,
          );
        }
        const { hub, cdn } = stack.counts();
        const mibPerSecond = layer.size / MiB / (result.ms / 1000);
        transfers.push({
          kind,
          mibPerSecond,
          cacheStatus: result.cacheStatus,
          rssGrowth: peak - baseline,
          upstreamBlobRequests: hub.blobGet + hub.blobHead,
          cdnRequests: cdn.total,
        });
        log(`  ${kind}: ${mibPerSecond.toFixed(0)} MiB/s, X-Cache ${result.cacheStatus}`);
      };
      await transfer("cold");
      storedAfterMs = await waitUntilStored(blobUrl, 60_000);
      for (let round = 0; round < warmRounds; round++) await transfer("warm");
    } finally {
      await proxy.stop();
    }

    log("  pass-through Worker under miniflare...");
    const [passThroughResult] = await measureThroughput({
      targets: [{ name: "pass-through", url: passThrough.url + cdnPath, pid: passThrough.pid }],
      size: layer.size,
      digest: layer.digest,
      rounds: warmRounds,
      log,
    });

    log("  R2 put alone under miniflare (a Worker that only stores the blob)...");
    const putAlone = await measurePutAlone({
      dir: join(dir, "put-alone"),
      modulePath: putModule,
      settings,
      url: stack.info.cdn.url,
      path: cdnPath,
      size: layer.size,
    });
    log(`  put alone: ${putAlone.mibPerSecond.toFixed(0)} MiB/s`);

    log(`  a fresh proxy's cold GET by a client reading ${slowMibPerSecond} MiB/s...`);
    const slowProxy = await startProxy("proxy-slow");
    let slowStoredAfterMs = NaN;
    /** @type {import("./throughput.mjs").SlowResult[]} */
    let slow;
    try {
      await warmUpToken(slowProxy.url, repository, tag);
      const blobUrl = `${slowProxy.url}/v2/${repository}/blobs/${layer.digest}`;
      slow = await measureSlowClient({
        targets: [
          { name: "proxy", url: blobUrl, pid: slowProxy.pid },
          { name: "pass-through", url: passThrough.url + cdnPath, pid: passThrough.pid },
        ],
        size: layer.size,
        digest: layer.digest,
        mibPerSecond: slowMibPerSecond,
        log,
      });
      slowStoredAfterMs = await waitUntilStored(blobUrl, 60_000);
    } finally {
      await slowProxy.stop();
    }
    return {
      transfers,
      storedAfterMs,
      passThrough: passThroughResult,
      slowCold: slow[0],
      slowStoredAfterMs,
      slowPassThrough: slow[1],
      slowMibPerSecond,
      putAlone,
    };
  } finally {
    await passThrough.stop();
  }
}

/**
 * One GET through the R2 baseline Worker: how fast miniflare's R2 simulator stores the blob and
 * how much its workerd grows doing it, with no proxy and no tee.
 * @param {{ dir: string, modulePath: string, settings: import("./workerd.mjs").WranglerSettings, url: string, path: string, size: number }} options
 * @returns {Promise<{ mibPerSecond: number, rssGrowth: number }>}
 */
async function measurePutAlone({ dir, modulePath, settings, url, path, size }) {
  const worker = await startMiniflare({
    dir,
    modulePath,
    settings,
    bindings: { UPSTREAM: url },
    cacheBucket: true,
  });
  try {
    const baseline = readRss(worker.pid);
    const sampler = sampleRss(() => readRss(worker.pid));
    const started = now();
    const response = await fetch(worker.url + path);
    const answer = (await response.text()).trim();
    const seconds = (now() - started) / 1000;
    const { peak } = sampler.stop();
    if (response.status !== 200 || Number(answer) !== size) {
      throw new Error(`R2 put alone: ${response.status} ${answer}, expected 200 and ${size}`);
    }
    return { mibPerSecond: size / MiB / seconds, rssGrowth: peak - baseline };
  } finally {
    await worker.stop();
  }
}

/**
 * Learns the upstream's challenge and token first, so the cold GET is only the blob.
 * @param {string} proxyUrl
 * @param {string} repository
 * @param {string} tag
 */
async function warmUpToken(proxyUrl, repository, tag) {
  const response = await fetch(`${proxyUrl}/v2/${repository}/manifests/${tag}`, {
    method: "HEAD",
  });
  await response.body?.cancel();
  if (response.status >= 500) throw new Error(`HEAD manifest: ${response.status}`);
}

/**
 * Polls HEAD on the blob until the proxy says it is stored (X-Cache HIT); the R2 copy is written
 * in the background after the client has its last byte.
 * @param {string} blobUrl
 * @param {number} timeoutMs
 * @returns {Promise<number>} milliseconds waited, NaN on timeout
 */
async function waitUntilStored(blobUrl, timeoutMs) {
  const started = now();
  while (now() - started < timeoutMs) {
    const response = await fetch(blobUrl, { method: "HEAD" });
    await response.body?.cancel();
    if (response.headers.get("x-cache") === "HIT") return now() - started;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return NaN;
}
