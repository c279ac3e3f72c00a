// A minimal registry client in Node for many simultaneous pulls: ping, anonymous token from the challenge's realm, manifest, then every blob, each body's sha256 checked against its digest.
import { createHash } from "node:crypto";
import { MANIFEST_ACCEPT } from "../test/e2e/fixture/images.mjs";
import { download } from "./client.mjs";
import { now } from "./stats.mjs";

/**
 * @typedef {object} PullResult
 * @property {number} seconds
 * @property {number} bytes  blob bytes received
 * @property {number} requests  made to the registry (the token realm not included)
 * @property {string[]} problems  wrong statuses, digests or sizes; empty when the pull is right
 *
 * @typedef {{ digest: string, size: number }} Descriptor
 */

/**
 * Pulls `repository:tag` from `registryUrl` as `docker pull` would for one platform. Never throws
 * for a wrong answer: it is listed in `problems`.
 * @param {{ registryUrl: string, repository: string, tag: string, manifestDigest: string }} options
 *   manifestDigest: what the registry stored for the tag (the manifest must hash to it)
 * @returns {Promise<PullResult>}
 */
export async function pullImage({ registryUrl, repository, tag, manifestDigest }) {
  const started = now();
  /** @type {string[]} */
  const problems = [];
  let requests = 0;
  let bytes = 0;
  try {
    /** @type {Record<string, string>} */
    const auth = {};
    requests++;
    const ping = await fetch(`${registryUrl}/v2/`);
    await ping.body?.cancel();
    if (ping.status === 401) {
      const token = await anonymousToken(ping.headers.get("www-authenticate") ?? "", repository);
      auth.authorization = `Bearer ${token}`;
    } else if (ping.status !== 200) {
      problems.push(`GET /v2/: ${ping.status}`);
    }

    requests++;
    const manifestResponse = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
      headers: { ...auth, accept: MANIFEST_ACCEPT },
    });
    const manifestBytes = Buffer.from(await manifestResponse.arrayBuffer());
    const got = `sha256:${createHash("sha256").update(manifestBytes).digest("hex")}`;
    if (manifestResponse.status !== 200) problems.push(`manifest: ${manifestResponse.status}`);
    else if (got !== manifestDigest)
      problems.push(`manifest: digest ${got}, expected ${manifestDigest}`);
    /** @type {{ config?: Descriptor, layers?: Descriptor[], manifests?: unknown[] }} */
    const manifest = manifestResponse.status === 200 ? JSON.parse(manifestBytes.toString()) : {};
    if (manifest.manifests)
      problems.push("manifest: an index (the bench pulls single-platform images)");

    const blobs = [...(manifest.config ? [manifest.config] : []), ...(manifest.layers ?? [])];
    for (const blob of blobs) {
      requests++;
      const transfer = await download(`${registryUrl}/v2/${repository}/blobs/${blob.digest}`, {
        hash: true,
        headers: auth,
      });
      bytes += transfer.bytes;
      if (transfer.status !== 200) problems.push(`blob ${blob.digest}: ${transfer.status}`);
      else if (transfer.digest !== blob.digest || transfer.bytes !== blob.size) {
        problems.push(`blob ${blob.digest}: got ${transfer.digest}, ${transfer.bytes} bytes`);
      }
    }
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  return { seconds: (now() - started) / 1000, bytes, requests, problems };
}

/**
 * Fetches an anonymous pull token from the realm a `Bearer` challenge names.
 * @param {string} challenge  WWW-Authenticate
 * @param {string} repository
 * @returns {Promise<string>}
 */
async function anonymousToken(challenge, repository) {
  /** @type {Record<string, string>} */
  const params = {};
  for (const [, key, value] of challenge.matchAll(/(\w+)="([^"]*)"/g)) params[key] = value;
  if (!/^Bearer /i.test(challenge) || !params.realm) {
    throw new Error(`GET /v2/: 401 without a Bearer realm (${challenge})`);
  }
  const url = new URL(params.realm);
  if (params.service) url.searchParams.set("service", params.service);
  url.searchParams.set("scope", `repository:${repository}:pull`);
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`token: ${response.status} from ${url}`);
  const body = /** @type {{ token?: string, access_token?: string }} */ (await response.json());
  const token = body.token ?? body.access_token;
  if (!token) throw new Error(`token: no token in the answer from ${url}`);
  return token;
}
