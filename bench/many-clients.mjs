// Many clients pulling the same image at the same moment through one Worker: are all the bytes right, how much does workerd grow, and how many requests reach the registry, its token server and its CDN.
import { pullImage } from "./pull-client.mjs";
import { median } from "./stats.mjs";
import { readRss, sampleRss } from "./workerd.mjs";

/**
 * @typedef {object} CrowdResult
 * @property {string} name  e.g. "proxy, cold"
 * @property {number} clients
 * @property {number} correct  pulls whose every status, size and digest was right
 * @property {string[]} problems  the first few problems of the others
 * @property {number} medianSeconds
 * @property {number} maxSeconds
 * @property {number} rssGrowth  bytes: workerd's peak during the pulls minus its RSS before them
 * @property {{ ping: number, manifestGet: number, manifestHead: number, blobGet: number, blobHead: number, other: number, token: number, cdnGet: number }} upstream
 *   requests the registry (past the Worker), its token server and its CDN received during the pulls
 */

/**
 * Starts `clients` pulls of the image at once (each its own ping, token, manifest and blobs) and
 * waits for all of them.
 * @param {object} options
 * @param {string} options.name
 * @param {string} options.registryUrl  the Worker
 * @param {number} options.pid  the workerd serving it
 * @param {number} options.clients
 * @param {{ repository: string, tag: string, digest: string }} options.image
 * @param {import("../test/e2e/fixture/stack.mjs").Stack} options.stack
 * @returns {Promise<CrowdResult>}
 */
export async function measureCrowd({ name, registryUrl, pid, clients, image, stack }) {
  stack.resetCounts();
  const baseline = readRss(pid);
  const sampler = sampleRss(() => readRss(pid));
  const pulls = await Promise.all(
    Array.from({ length: clients }, () =>
      pullImage({
        registryUrl,
        repository: image.repository,
        tag: image.tag,
        manifestDigest: image.digest,
      }),
    ),
  );
  const { peak } = sampler.stop();
  const { hub, token, cdn } = stack.counts();
  const seconds = pulls.map((pull) => pull.seconds);
  return {
    name,
    clients,
    correct: pulls.filter((pull) => pull.problems.length === 0).length,
    problems: pulls.flatMap((pull) => pull.problems).slice(0, 5),
    medianSeconds: median(seconds),
    maxSeconds: Math.max(...seconds),
    rssGrowth: peak - baseline,
    upstream: {
      ping: hub.ping,
      manifestGet: hub.manifestGet,
      manifestHead: hub.manifestHead,
      blobGet: hub.blobGet,
      blobHead: hub.blobHead,
      other: hub.other + hub.tags,
      token: token.total,
      cdnGet: cdn.get,
    },
  };
}
