// The big blob through wrangler dev with CACHE_BUCKET bound: a cold GET that fills R2, then warm GETs from the store, and what reached the upstream.
import { join } from "node:path";
import { download } from "./throughput.mjs";
import { startCachedProxy } from "./wrangler-proxy.mjs";
import { MiB, now } from "./stats.mjs";

/**
 * @typedef {object} FillTransfer
 * @property {"cold" | "warm"} kind
 * @property {number} mibPerSecond
 * @property {string} cacheStatus  X-Cache
 * @property {number} upstreamBlobRequests  blob GET/HEAD the registry received during it
 * @property {number} cdnRequests
 *
 * @typedef {object} FillResult
 * @property {FillTransfer[]} transfers  one cold, then `warmRounds` warm
 * @property {number} storedAfterMs  how long after the cold GET's last byte a HEAD first answered HIT; NaN if never
 */

/**
 * Pulls the big blob through a fresh wrangler dev with an R2 bucket: once cold, then `warmRounds`
 * times warm. (No RSS here: wrangler dev's own outbound fetch buffers large bodies, see run.mjs.)
 * @param {object} options
 * @param {import("../test/e2e/fixture/stack.mjs").Stack} options.stack
 * @param {string} options.repository  e.g. library/big
 * @param {string} options.tag  a tag of it, to warm up the proxy's upstream token
 * @param {{ digest: string, size: number }} options.layer
 * @param {number} options.warmRounds
 * @param {string} options.dir
 * @param {(message: string) => void} [options.log]
 * @returns {Promise<FillResult>}
 */
export async function measureFill({
  stack,
  repository,
  tag,
  layer,
  warmRounds,
  dir,
  log = () => {},
}) {
  const proxy = await startCachedProxy({
    dir: join(dir, "proxy"),
    upstreams: { docker: stack.info.hub.url, ghcr: stack.info.ghcr.url },
  });
  try {
    const blobUrl = `${proxy.workerUrl}/v2/${repository}/blobs/${layer.digest}`;
    // Learn the upstream's challenge and token first, so the cold GET is only the blob.
    const warmUp = await fetch(`${proxy.workerUrl}/v2/${repository}/manifests/${tag}`, {
      method: "HEAD",
    });
    await warmUp.body?.cancel();

    /** @type {FillTransfer[]} */
    const transfers = [];
    /** @param {"cold" | "warm"} kind */
    const transfer = async (kind) => {
      stack.resetCounts();
      const result = await download(blobUrl);
      if (result.status !== 200 || result.bytes !== layer.size) {
        throw new Error(
          `${kind} GET ${blobUrl}: status ${result.status}, ${result.bytes} of ${layer.size} bytes`,
        );
      }
      const { hub, cdn } = stack.counts();
      const mibPerSecond = layer.size / MiB / (result.ms / 1000);
      transfers.push({
        kind,
        mibPerSecond,
        cacheStatus: result.cacheStatus,
        upstreamBlobRequests: hub.blobGet + hub.blobHead,
        cdnRequests: cdn.total,
      });
      log(`  ${kind}: ${mibPerSecond.toFixed(0)} MiB/s, X-Cache ${result.cacheStatus}`);
    };

    await transfer("cold");
    const storedAfterMs = await waitUntilStored(blobUrl, 60_000);
    for (let round = 0; round < warmRounds; round++) await transfer("warm");
    return { transfers, storedAfterMs };
  } finally {
    await proxy.stop();
  }
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
