// Blob throughput, side by side: straight from the CDN, through a pass-through Worker, and through the proxy, with the workerd processes' peak RSS growth.
import { download } from "./client.mjs";
import { readRss, sampleRss } from "./workerd.mjs";
import { MiB, median } from "./stats.mjs";

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
 * @typedef {object} SlowResult
 * @property {string} name
 * @property {number} mibPerSecond  what the client achieved
 * @property {number} [rssGrowth]  bytes: peak during the transfer minus the RSS just before it
 * @property {number} [rssGrowthHalfway]  bytes: the peak until half the body had arrived, minus the same baseline
 * @property {string} cacheStatus
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
 * One verified GET of the blob per target, in turn, by a client that reads no faster than
 * `mibPerSecond`; the serving workerd's RSS is sampled throughout. A proxy that buffers what the
 * client has not read yet grows with the blob; one that streams stays flat.
 * @param {{ targets: Target[], size: number, digest: string, mibPerSecond: number, log?: (message: string) => void }} options
 * @returns {Promise<SlowResult[]>}
 */
export async function measureSlowClient({ targets, size, digest, mibPerSecond, log = () => {} }) {
  /** @type {SlowResult[]} */
  const results = [];
  for (const target of targets) {
    const pid = target.pid;
    const baseline = pid ? readRss(pid) : 0;
    const sampler = pid ? sampleRss(() => readRss(pid)) : undefined;
    /** @type {number | undefined} the peak so far, taken when the client has half the body */
    let halfwayPeak;
    const transfer = await download(target.url, {
      hash: true,
      mibPerSecond,
      onProgress: (bytes) => {
        if (halfwayPeak === undefined && bytes >= size / 2) halfwayPeak = sampler?.peek();
      },
    });
    const peak = sampler?.stop().peak;
    if (transfer.status !== 200 || transfer.bytes !== size || transfer.digest !== digest) {
      throw new Error(
        `${target.name} (slow client): GET ${target.url} gave status ${transfer.status}, ${transfer.bytes} bytes, ${transfer.digest}; expected 200, ${size}, ${digest}`,
      );
    }
    const rate = size / MiB / (transfer.ms / 1000);
    log(`  slow client: ${target.name} ${rate.toFixed(0)} MiB/s`);
    results.push({
      name: target.name,
      mibPerSecond: rate,
      cacheStatus: transfer.cacheStatus,
      ...(peak !== undefined && { rssGrowth: peak - baseline }),
      ...(halfwayPeak !== undefined && { rssGrowthHalfway: halfwayPeak - baseline }),
    });
  }
  return results;
}
