// A Docker Hub-like upstream for one huge blob: the e2e fixture's token server, a real registry with blob redirects, its counting proxy and the CDN, with the blob written straight into the registry's storage (seconds for GiBs, no push).
import { randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startCdn } from "../test/e2e/fixture/cdn.mjs";
import { startCountingProxy } from "../test/e2e/fixture/counting-proxy.mjs";
import { startRegistry } from "../test/e2e/fixture/registry.mjs";
import { startTokenServer } from "../test/e2e/fixture/token-server.mjs";
import { writeBlobFile } from "./blob-source.mjs";

/**
 * @typedef {object} BigUpstream
 * @property {string} hubUrl  the registry (behind its counting proxy): the proxy's upstream for `docker`
 * @property {string} cdnUrl  where the registry redirects blob GETs
 * @property {string} repository
 * @property {string} digest
 * @property {number} size
 * @property {string} cdnPath  the blob's path on the CDN (what a pass-through Worker fetches)
 * @property {() => { hubBlobGets: number, cdnGets: number }} counts
 * @property {() => Promise<void>} stop  stops the servers; the caller removes `dir`
 */

/**
 * Starts the upstream and writes a `size`-byte blob into `repository` (a layer link only: blob
 * GET/HEAD work, there is no manifest).
 * @param {{ dir: string, size: number, repository?: string }} options
 * @returns {Promise<BigUpstream>}
 */
export async function startBigUpstream({ dir, size, repository = "library/huge" }) {
  /** @type {(() => Promise<void>)[]} */
  const stoppers = [];
  const stop = async () => {
    for (const stopOne of stoppers.splice(0).reverse()) await stopOne().catch(() => {});
  };
  try {
    const storage = join(dir, "storage");
    const partial = join(storage, "partial-blob");
    const digest = await writeBlobFile(partial, size);
    const hex = digest.slice("sha256:".length);
    const cdnPath = `/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
    await mkdir(join(storage, cdnPath, ".."), { recursive: true });
    await rename(partial, join(storage, cdnPath));
    // What distribution writes when a push links a blob into a repository.
    const link = join(
      storage,
      "docker/registry/v2/repositories",
      repository,
      "_layers/sha256",
      hex,
    );
    await mkdir(link, { recursive: true });
    await writeFile(join(link, "link"), digest);

    const tokenDir = join(dir, "token-server");
    const registryDir = join(dir, "registry");
    await mkdir(tokenDir, { recursive: true });
    await mkdir(registryDir, { recursive: true });
    const tokenServer = await startTokenServer({
      dir: tokenDir,
      services: ["registry.docker.io"],
      pushUser: { username: "nobody", password: randomBytes(8).toString("hex") },
      pullUsers: [],
    });
    stoppers.push(tokenServer.stop);
    const cdn = await startCdn({ root: storage });
    stoppers.push(cdn.stop);
    const registry = await startRegistry({
      dir: registryDir,
      storageRoot: storage,
      service: "registry.docker.io",
      tokenServer,
      redirectTo: cdn.url,
    });
    stoppers.push(registry.stop);
    const hub = await startCountingProxy({ target: registry.url });
    stoppers.push(hub.stop);
    return {
      hubUrl: hub.url,
      cdnUrl: cdn.url,
      repository,
      digest,
      size,
      cdnPath,
      counts: () => ({ hubBlobGets: hub.counts().blobGet, cdnGets: cdn.counts().get }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
