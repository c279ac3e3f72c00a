/** A repository request (manifests, blobs, tags, referrers), one way down: resolve → policy → client auth → cache → upstream. */

import { serveThroughCache } from "./cache";
import { clientGrant, rewriteChallenge } from "./client-auth";
import { ContentStore } from "./content-store";
import type { RepositoryEndpoint } from "./endpoint";
import { forwarder } from "./forward";
import type { Isolate } from "./isolate";
import type { Trace } from "./log";
import { checkPolicy } from "./policy";
import { resolveRepository } from "./routing";

/** What the repository handler needs from the platform. */
export interface Platform {
  bucket: R2Bucket | undefined;
  waitUntil: (promise: Promise<unknown>) => void;
}

/** Serves a repository endpoint; the trace says where the answer came from (index.ts writes `X-Cache` and `Server-Timing`). */
export async function serveRepository(
  isolate: Isolate,
  request: Request,
  url: URL,
  endpoint: RepositoryEndpoint,
  platform: Platform,
  trace: Trace,
): Promise<Response> {
  const { config } = isolate;
  const target = resolveRepository(config, url, endpoint.name);
  trace.target = target;
  checkPolicy(config, target);
  const grant = await clientGrant(isolate, request, url, target);
  const forward = forwarder(
    isolate,
    {
      url,
      target,
      headers: request.headers,
      grant,
      challenge: (upstreamChallenge) => rewriteChallenge(url, target, upstreamChallenge, grant),
    },
    trace,
  );
  const store = new ContentStore({
    namespace: config.cacheNamespace,
    origin: url.origin,
    bucket: platform.bucket,
    maxObjectBytes: config.maxStoredBytes,
    waitUntil: platform.waitUntil,
  });
  return serveThroughCache({
    endpoint,
    method: request.method === "HEAD" ? "HEAD" : "GET",
    target,
    grant,
    headers: request.headers,
    store,
    forward,
    trace,
  });
}
