// Cold and warm skopeo pulls of a small image through the proxy under wrangler dev: request counts on every side, and pull times.
import { join } from "node:path";
import { makeSkopeoHome, pullToDir } from "../test/e2e/fixture/skopeo.mjs";
import { startCachedProxy } from "./wrangler-proxy.mjs";
import { now } from "./stats.mjs";

/**
 * @typedef {import("../test/e2e/fixture/counting-proxy.mjs").RegistryCounts} RegistryCounts
 *
 * @typedef {object} PullCounts  the requests one pull caused, flattened to numbers
 * @property {number} clientTotal  client → proxy
 * @property {number} clientPing
 * @property {number} clientManifestGet
 * @property {number} clientManifestHead
 * @property {number} clientBlobGet
 * @property {number} clientBlobHead
 * @property {number} clientOther  the proxy's token endpoint and anything else
 * @property {number} upstreamTotal  proxy → registry
 * @property {number} upstreamPing
 * @property {number} upstreamManifestGet
 * @property {number} upstreamManifestHead
 * @property {number} upstreamBlobGet
 * @property {number} upstreamBlobHead
 * @property {number} upstreamOther
 * @property {number} token  proxy → the registry's token server (all requests)
 * @property {number} tokenAnonymous
 * @property {number} cdn  proxy → CDN after the registry's redirects
 *
 * @typedef {{ counts: PullCounts, seconds: number }} Pull
 *
 * @typedef {object} PullPair
 * @property {Pull} cold  the first pull through a freshly started proxy with empty state
 * @property {Pull} warm  the same image again, same proxy, into a new directory
 */

/**
 * Runs `pairs` cold/warm pull pairs, each against a new proxy with a fresh persist dir.
 * @param {object} options
 * @param {import("../test/e2e/fixture/stack.mjs").Stack} options.stack  upstreams and their counters
 * @param {string} options.repositoryAndTag  e.g. library/alpine:3
 * @param {number} options.pairs
 * @param {string} options.dir  scratch space (proxy state, skopeo homes, pulled images)
 * @param {(message: string) => void} [options.log]
 * @returns {Promise<PullPair[]>}
 */
export async function measurePulls({ stack, repositoryAndTag, pairs, dir, log = () => {} }) {
  /** @type {PullPair[]} */
  const results = [];
  for (let pair = 1; pair <= pairs; pair++) {
    const pairDir = join(dir, `pair-${pair}`);
    const proxy = await startCachedProxy({
      dir: join(pairDir, "proxy"),
      upstreams: { docker: stack.info.hub.url, ghcr: stack.info.ghcr.url },
    });
    try {
      /** @param {"cold" | "warm"} kind */
      const pullOnce = async (kind) => {
        stack.resetCounts();
        proxy.resetCounts();
        // A new client each time: its own HOME, so nothing skopeo remembers carries over.
        const home = await makeSkopeoHome(join(pairDir, `skopeo-${kind}`));
        const reference = `${proxy.host}/${repositoryAndTag}`;
        const started = now();
        const result = await pullToDir(home, reference, join(pairDir, `image-${kind}`));
        const seconds = (now() - started) / 1000;
        if (result.code !== 0) {
          throw new Error(
            `skopeo copy docker://${reference} (${kind}) failed:\n${result.stderr}\nproxy log: ${proxy.logFile}`,
          );
        }
        const counts = flatten(proxy.counts(), stack.counts());
        log(
          `  pair ${pair} ${kind}: ${seconds.toFixed(2)} s, ${counts.upstreamTotal} upstream requests`,
        );
        return { counts, seconds };
      };
      const cold = await pullOnce("cold");
      const warm = await pullOnce("warm");
      results.push({ cold, warm });
    } finally {
      await proxy.stop();
    }
  }
  return results;
}

/**
 * @param {RegistryCounts} client
 * @param {import("../test/e2e/fixture/stack.mjs").StackCounts} upstream
 * @returns {PullCounts}
 */
function flatten(client, { hub, token, cdn }) {
  return {
    clientTotal: client.total,
    clientPing: client.ping,
    clientManifestGet: client.manifestGet,
    clientManifestHead: client.manifestHead,
    clientBlobGet: client.blobGet,
    clientBlobHead: client.blobHead,
    clientOther: client.other + client.tags,
    upstreamTotal: hub.total,
    upstreamPing: hub.ping,
    upstreamManifestGet: hub.manifestGet,
    upstreamManifestHead: hub.manifestHead,
    upstreamBlobGet: hub.blobGet,
    upstreamBlobHead: hub.blobHead,
    upstreamOther: hub.other + hub.tags,
    token: token.total,
    tokenAnonymous: token.anonymous,
    cdn: cdn.total,
  };
}
