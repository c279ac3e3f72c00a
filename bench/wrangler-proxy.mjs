// Runs the proxy under `wrangler dev` with the R2 bucket CACHE_BUCKET bound and a fresh state dir, behind a request counter and a TLS-refusing front.
import { startCountingProxy } from "../test/e2e/fixture/counting-proxy.mjs";
import { startPlainHttpFront } from "../test/e2e/fixture/plain-http-front.mjs";
import { startProxy } from "../test/e2e/fixture/proxy.mjs";

/**
 * @typedef {object} CountedProxy
 * @property {string} url  http://127.0.0.1:PORT clients use
 * @property {string} host  127.0.0.1:PORT, for image references
 * @property {() => import("../test/e2e/fixture/counting-proxy.mjs").RegistryCounts} counts  requests clients made to the proxy
 * @property {() => void} resetCounts
 * @property {string} workerUrl  wrangler dev itself, past the counter and the front
 * @property {string} logFile
 * @property {() => Promise<void>} stop
 */

/**
 * Starts the proxy as the e2e fixture does, with the cache bucket bound; clients go through a
 * counting proxy, and before that a front that refuses TLS (skopeo's https probe).
 * @param {{ dir: string, upstreams: Record<string, string>, defaultRoute?: string }} options
 * @returns {Promise<CountedProxy>}
 */
export async function startCachedProxy({ dir, upstreams, defaultRoute = "docker" }) {
  const proxy = await startProxy({ dir, upstreams, defaultRoute, cacheBucket: true });
  /** @type {(() => Promise<void>)[]} */
  const stoppers = [proxy.stop];
  const stop = async () => {
    for (const stopOne of stoppers.splice(0).reverse()) await stopOne().catch(() => {});
  };
  try {
    const counter = await startCountingProxy({ target: proxy.workerUrl });
    stoppers.push(counter.stop);
    const front = await startPlainHttpFront({ target: counter.url });
    stoppers.push(front.stop);
    return {
      url: front.url,
      host: front.host,
      counts: counter.counts,
      resetCounts: counter.resetCounts,
      workerUrl: proxy.workerUrl,
      logFile: proxy.logFile,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
