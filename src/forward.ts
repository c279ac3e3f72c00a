/** Forwarding repository endpoints (manifests, blobs, tags, referrers) upstream: build the request, pull with the right credentials, map the answer. */

import type { Credential } from "./basic-auth";
import type { RepositoryEndpoint } from "./endpoint";
import { RegistryError, unauthorized, type ErrorCode } from "./errors";
import { fetchUpstream, forwardableHeaders } from "./fetch-upstream";
import type { Isolate } from "./isolate";
import type { Trace } from "./log";
import { RATE_LIMIT_HEADERS, remainingPulls } from "./rate-limit";
import { isDigest } from "./reference";
import type { RepositoryTarget } from "./routing";
import { upstreamError } from "./upstream-error";

/** What a repository request pulls with (client-auth.ts decides which). */
export type Grant =
  /**
   * The proxy's shared access: anonymous, or the owner's credentials for the route. What it pulls
   * may be stored and served to others.
   */
  | { kind: "shared"; credentials: readonly Credential[] }
  /** The client's own: a token it got through the proxy, or Basic for a Basic-only upstream. */
  | { kind: "client"; authorization: string };

/** One client request for a repository, as the proxy forwards it. */
export interface RepositoryRequest {
  /** The URL the client used (for `Link` rewriting and the spec's query parameters). */
  readonly url: URL;
  readonly target: RepositoryTarget;
  /** The client's headers; only the forwardable ones go upstream. */
  readonly headers: Headers;
  readonly grant: Grant;
  /** The challenge a client gets when the upstream answers 401 with `upstreamChallenge`. */
  readonly challenge: (upstreamChallenge: string | null) => string;
}

/** Fetches a repository endpoint from the upstream: what the cache layer is handed. */
export type Forward = (endpoint: RepositoryEndpoint, method: "GET" | "HEAD") => Promise<Response>;

/** Upstream response headers a client may need; the rest (cookies, CDN and cloud internals) stay behind. */
const RESPONSE_HEADERS = [
  "content-type",
  "content-length",
  "content-range",
  "content-encoding",
  "accept-ranges",
  "docker-content-digest",
  "etag",
  "last-modified",
  "oci-filters-applied",
  ...RATE_LIMIT_HEADERS,
];

/** Query parameters the spec defines per endpoint; anything else (including `ns`) is ours. */
const QUERY_PARAMETERS: Record<RepositoryEndpoint["kind"], readonly string[]> = {
  manifest: [],
  blob: [],
  tags: ["n", "last"],
  referrers: ["artifactType"],
};

/** What a 404 means for each endpoint. */
const NOT_FOUND_CODE: Record<RepositoryEndpoint["kind"], ErrorCode> = {
  manifest: "MANIFEST_UNKNOWN",
  blob: "BLOB_UNKNOWN",
  tags: "NAME_UNKNOWN",
  referrers: "MANIFEST_UNKNOWN",
};

/**
 * The forward function for one client request: each call sends one GET or HEAD upstream and
 * maps the answer. Success streams through untouched; 401 becomes the client's challenge; other
 * errors become OCI errors. With the owner's credentials, a pair the upstream rate limits rests
 * and the next one not resting is tried, each pair at most once per client request.
 */
export function forwarder(isolate: Isolate, request: RepositoryRequest, trace: Trace): Forward {
  const { target, grant } = request;
  const attempt =
    grant.kind === "shared" && grant.credentials.length
      ? isolate.rotation.attempt(target.upstream.route, grant.credentials)
      : undefined;
  // The pair in use: the first one, until a 429 moves the whole client request on to the next.
  let current = attempt?.first();

  return async (endpoint, method) => {
    const url = upstreamUrl(request, endpoint);
    const started = Date.now();
    let credential = current;
    let renewed = false;
    let response: Response;
    for (;;) {
      const { header, reused } =
        grant.kind === "client"
          ? { header: grant.authorization, reused: false }
          : await sharedAuthorization(isolate, request, credential);
      response = await send(isolate, request, endpoint, url, method, header);
      // public.ecr.aws answers a blob HEAD 401 even with a valid token, while GET works (registries.md §7).
      if (response.status === 401 && method === "HEAD" && endpoint.kind === "blob" && header) {
        await response.body?.cancel();
        response = headFromRangedGet(
          await send(isolate, request, endpoint, url, "GET", header, "bytes=0-0"),
        );
      }
      if (response.status === 401 && reused && !renewed) {
        // A token it kept may have gone stale early (nvcr.io's, registries.md §9): once more, fresh.
        await response.body?.cancel();
        await isolate.auth.forget(target.upstream, target.repository, credential);
        renewed = true;
        continue;
      }
      const next =
        response.status === 429 && credential && attempt
          ? attempt.retry(credential, response.headers.get("retry-after"))
          : undefined;
      if (!next) break;
      await response.body?.cancel();
      credential = current = next;
    }
    trace.upstream(response, Date.now() - started, credential && attempt?.indexOf(credential));

    if (response.status === 401) {
      await response.body?.cancel();
      // Not public (or the client's own token is refused): the client must authenticate.
      if (grant.kind === "shared") {
        await isolate.auth.forget(target.upstream, target.repository, credential);
      }
      throw unauthorized(request.challenge(response.headers.get("www-authenticate")));
    }
    if (response.status >= 400) {
      throw await upstreamError(response, "upstream", NOT_FOUND_CODE[endpoint.kind]);
    }
    return clientResponse(request, endpoint, response);
  };
}

function upstreamUrl({ url, target }: RepositoryRequest, endpoint: RepositoryEndpoint): string {
  const upstream = new URL(target.upstream.url + upstreamPath(endpoint, target.repository));
  for (const name of QUERY_PARAMETERS[endpoint.kind]) {
    const value = url.searchParams.get(name);
    if (value !== null) upstream.searchParams.set(name, value);
  }
  return upstream.href;
}

/** Where each endpoint lives on a registry (distribution-spec "Endpoints" table). */
function upstreamPath(endpoint: RepositoryEndpoint, repository: string): string {
  switch (endpoint.kind) {
    case "manifest":
      return `/v2/${repository}/manifests/${endpoint.reference}`;
    case "blob":
      return `/v2/${repository}/blobs/${endpoint.digest}`;
    case "tags":
      return `/v2/${repository}/tags/list`;
    case "referrers":
      return `/v2/${repository}/referrers/${endpoint.digest}`;
  }
}

/**
 * The proxy's own `Authorization` for the repository. A realm that refuses the proxy a token for
 * it (ghcr.io's 401 for a missing package, nvcr.io's 403 for a private one: registries.md §6, §9)
 * means the repository is not open to the proxy's access: the client gets its challenge.
 */
async function sharedAuthorization(
  isolate: Isolate,
  { target, challenge }: RepositoryRequest,
  credential: Credential | undefined,
): Promise<{ header: string | null; reused: boolean }> {
  try {
    return await isolate.auth.authorization(target.upstream, target.repository, credential);
  } catch (error) {
    if (error instanceof RegistryError && error.code === "UNAUTHORIZED") {
      throw unauthorized(challenge(null), "the upstream refused access to this repository");
    }
    throw error;
  }
}

function send(
  isolate: Isolate,
  request: RepositoryRequest,
  endpoint: RepositoryEndpoint,
  url: string,
  method: "GET" | "HEAD",
  authorization: string | null,
  range?: string,
): Promise<Response> {
  const headers = forwardableHeaders(request.headers);
  if (authorization) headers.set("authorization", authorization);
  if (range) headers.set("range", range);
  return fetchUpstream(url, {
    method,
    headers,
    timeoutMs: isolate.config.timeoutMs,
    hopAuthorization: isolate.auth.hopAuthorization,
    // registry.k8s.io drops the query on its 307 (registries.md §5); a tags list is never a signed URL.
    keepQuery: endpoint.kind === "tags",
  });
}

/** A HEAD answer made from a `Range: bytes=0-0` GET: the whole length comes from Content-Range. */
function headFromRangedGet(response: Response): Response {
  if (response.status !== 206 && response.status !== 200) return response;
  void response.body?.cancel();
  const headers = new Headers(response.headers);
  const total = /\/(\d+)$/.exec(response.headers.get("content-range") ?? "")?.[1];
  headers.delete("content-range");
  if (response.status === 206) {
    if (total === undefined) headers.delete("content-length");
    else headers.set("content-length", total);
  }
  return new Response(null, { status: 200, headers });
}

/** The upstream's answer as the client gets it. */
function clientResponse(
  { url }: RepositoryRequest,
  endpoint: RepositoryEndpoint,
  upstream: Response,
): Response {
  const headers = new Headers();
  for (const name of RESPONSE_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  if (headers.has("content-encoding")) headers.delete("content-length");
  // A blob served by a CDN after a redirect carries no registry headers; the digest is what was asked for.
  const digest = requestedDigest(endpoint);
  if (digest && !headers.has("docker-content-digest")) headers.set("docker-content-digest", digest);
  const link = upstream.headers.get("link");
  if (link) headers.set("link", rewriteLink(link, url));
  return new Response(upstream.body, { status: upstream.status, headers });
}

/** The digest a request names: a blob's, or a manifest's when it is fetched by digest. */
export function requestedDigest(endpoint: RepositoryEndpoint): string | undefined {
  if (endpoint.kind === "blob") return endpoint.digest;
  if (endpoint.kind === "manifest" && isDigest(endpoint.reference)) return endpoint.reference;
  return undefined;
}

/**
 * Points a pagination `Link: <...>; rel="next"` at the proxy path the client used, keeping the
 * upstream's query (`last`, `n`) and the client's `ns`. Absolute and relative links alike.
 */
function rewriteLink(link: string, requestUrl: URL): string {
  const m = /^\s*<([^>]*)>(.*)$/.exec(link);
  if (!m) return link;
  const next = new URL(m[1]!, "http://upstream.invalid");
  const ns = requestUrl.searchParams.get("ns");
  if (ns !== null) next.searchParams.set("ns", ns);
  return `<${requestUrl.pathname}${next.search}>${m[2]}`;
}
