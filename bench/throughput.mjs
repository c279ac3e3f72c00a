// Blob throughput, side by side: straight from the CDN, through a pass-through Worker, and through the proxy, with the workerd processes' peak RSS growth.
import { createHash } from "node:crypto";
import { request } from "node:http";
import { readRss, sampleRss } from "./workerd.mjs";
import { MiB, median, now } from "./stats.mjs";

/**
 * @typedef {object} Target
 * @property {string} name
 * @property {string} url  GET this for the whole blob
 * @property {number} [pid]  the workerd serving it: its RSS is sampled during the transfers
 *
 * @typedef {object} TargetResult
 * @property {string} name
 * @property {number[]} mibPerSecond  one per timed round
 * @property {number} medianMibPerSecond
 * @property {number} [rssGrowth]  bytes: peak during its transfers (warm-up included) minus the RSS before them
 * @property {Record<string, number>} cacheStatuses  how many answers carried each X-Cache value ("none": no header)
 *
 * @typedef {object} Transfer
 * @property {number} status
 * @property {number} bytes
 * @property {number} ms  from sending the request to the last byte
 * @property {string} [digest]  sha256:<hex> of the body, when asked for
 * @property {string} cacheStatus  the X-Cache header, "none" without one
 */

/**
 * Downloads the blob from every target in turn, `rounds` times after one verified warm-up each.
 * @param {{ targets: Target[], size: number, digest: string, rounds: number, log?: (message: string) => void }} options
 * @returns {Promise<TargetResult[]>}
 */
export async function measureThroughput({ targets, size, digest, rounds, log = () => {} }) {
  const state = targets.map((target) => ({
    target,
    baseline: target.pid ? readRss(target.pid) : 0,
    peak: 0,
    /** @type {number[]} */
    mibPerSecond: [],
    /** @type {Record<string, number>} */
    cacheStatuses: {},
  }));

  for (let round = 0; round <= rounds; round++) {
    const warmUp = round === 0;
    for (const entry of state) {
      const { target } = entry;
      const pid = target.pid;
      const sampler = pid ? sampleRss(() => readRss(pid)) : undefined;
      // The warm-up also proves the bytes are right; hashing is kept out of the timed rounds.
      const transfer = await download(target.url, { hash: warmUp });
      if (sampler) entry.peak = Math.max(entry.peak, sampler.stop().peak);
      if (transfer.status !== 200 || transfer.bytes !== size) {
        throw new Error(
          `${target.name}: GET ${target.url} gave status ${transfer.status} and ${transfer.bytes} bytes, expected 200 and ${size}`,
        );
      }
      if (warmUp && transfer.digest !== digest) {
        throw new Error(`${target.name}: body digest ${transfer.digest}, expected ${digest}`);
      }
      entry.cacheStatuses[transfer.cacheStatus] =
        (entry.cacheStatuses[transfer.cacheStatus] ?? 0) + 1;
      const rate = size / MiB / (transfer.ms / 1000);
      if (!warmUp) entry.mibPerSecond.push(rate);
      log(`  ${warmUp ? "warm-up" : `round ${round}`}: ${target.name} ${rate.toFixed(0)} MiB/s`);
    }
  }

  return state.map(({ target, baseline, peak, mibPerSecond, cacheStatuses }) => ({
    name: target.name,
    cacheStatuses,
    mibPerSecond,
    medianMibPerSecond: median(mibPerSecond),
    ...(target.pid && { rssGrowth: peak - baseline }),
  }));
}

/**
 * GETs a URL on a fresh connection, reading the body fully and discarding it.
 * @param {string} url
 * @param {{ hash?: boolean }} [options]
 * @returns {Promise<Transfer>}
 */
export function download(url, { hash = false } = {}) {
  return new Promise((resolve, reject) => {
    const started = now();
    const req = request(url, { agent: false }, (res) => {
      const hasher = hash ? createHash("sha256") : undefined;
      let bytes = 0;
      res.on("data", (chunk) => {
        bytes += chunk.length;
        hasher?.update(chunk);
      });
      res.once("error", reject);
      res.once("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          bytes,
          ms: now() - started,
          cacheStatus: String(res.headers["x-cache"] ?? "none"),
          ...(hasher && { digest: `sha256:${hasher.digest("hex")}` }),
        }),
      );
    });
    // A stalled transfer fails the run instead of hanging it.
    req.setTimeout(60_000, () => req.destroy(new Error(`GET ${url}: no data for 60 s`)));
    req.once("error", reject);
    req.end();
  });
}
