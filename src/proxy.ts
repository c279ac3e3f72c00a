/** Proxying repository endpoints (manifests, blobs, tags, referrers): build the upstream request, stream the answer back. */

import { rewriteChallenge, unauthorized, type Pull } from "./auth";
import type { Config } from "./config";
import {
  isErrorCode,
  RATE_LIMIT_HEADERS,
  RegistryError,
  upstreamFailure,
  type ErrorCode,
} from "./errors";
import { isDigest } from "./reference";
import type { RepositoryEndpoint, RepositoryRoute } from "./routing";
import { fetchUpstream, forwardableHeaders, readCapped } from "./upstream";
import { forgetProxyToken, proxyAuthorization } from "./upstream-auth";
import { hasRestedAlternative, pickCredential, restCredential } from "./upstream-credentials";

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

/** One client request for a repository, as the proxy forwards it. */
export interface RepositoryRequest {
  /** The URL the client used (for challenges, `Link` rewriting and spec query parameters). */
  readonly url: URL;
  readonly config: Config;
  readonly route: RepositoryRoute;
  /** The client's headers; only the forwardable ones go upstream. */
  readonly headers: Headers;
  /** What the request pulls with (auth.ts `resolvePull`). */
  readonly pull: Pull;
}

/**
 * Forwards a GET/HEAD on a repository endpoint to the route's upstream and maps its answer:
 * success streams through untouched, 401 becomes the proxy's challenge, other errors OCI errors.
 */
export async function proxyRepository(
  request: RepositoryRequest,
  endpoint: RepositoryEndpoint,
  method: "GET" | "HEAD",
): Promise<Response> {
  const { url, config, route, pull } = request;
  const target = new URL(route.registry.url + upstreamPath(endpoint, route.repository));
  for (const name of QUERY_PARAMETERS[endpoint.kind]) {
    const value = url.searchParams.get(name);
    if (value !== null) target.searchParams.set(name, value);
  }

  // The proxy's own pulls use its cached upstream tokens, anonymous or with the owner's pairs.
  const owned = pull.kind === "proxy" ? pull.credentials : [];
  let credential = pickCredential(route.registry.route, owned);
  let upstream: Response;
  for (;;) {
    const authorization =
      pull.kind === "client"
        ? pull.authorization
        : await proxyAuthorization(route.registry, route.repository, credential, config.timeoutMs);
    const headers = forwardableHeaders(request.headers);
    if (authorization) headers.set("authorization", authorization);
    upstream = await fetchUpstream(target.href, { method, headers }, config.timeoutMs);
    if (upstream.status !== 429 || !credential) break;
    // That pair is rate limited: rest it, and try the next pair that is not resting (each at most once).
    restCredential(route.registry.route, credential, upstream.headers.get("retry-after"));
    if (!hasRestedAlternative(route.registry.route, owned, credential)) break;
    await upstream.body?.cancel();
    credential = pickCredential(route.registry.route, owned);
  }

  if (upstream.status === 401) {
    await upstream.body?.cancel();
    // Not public (or the token went stale): the client must authenticate; start afresh next time.
    if (pull.kind === "proxy") await forgetProxyToken(route.registry, route.repository, credential);
    throw unauthorized(
      rewriteChallenge(url, route, upstream.headers.get("www-authenticate"), route.repository),
    );
  }
  if (upstream.status >= 400) throw await upstreamError(upstream, endpoint);

  const responseHeaders = pickHeaders(upstream.headers);
  if (responseHeaders.has("content-encoding")) responseHeaders.delete("content-length");
  // A blob served by a CDN after a redirect carries no registry headers; the digest is what was asked for.
  const digest = requestedDigest(endpoint);
  if (digest && !responseHeaders.has("docker-content-digest")) {
    responseHeaders.set("docker-content-digest", digest);
  }
  const link = upstream.headers.get("link");
  if (link) responseHeaders.set("link", rewriteLink(link, url));

  return new Response(method === "HEAD" ? null : upstream.body, {
    status: upstream.status,
    headers: responseHeaders,
  });
}

/** The digest a request names: a blob's, or a manifest's when it is fetched by digest. */
export function requestedDigest(endpoint: RepositoryEndpoint): string | undefined {
  if (endpoint.kind === "blob") return endpoint.digest;
  if (endpoint.kind === "manifest" && isDigest(endpoint.reference)) return endpoint.reference;
  return undefined;
}

/** Copies the response headers a registry client needs. */
function pickHeaders(source: Headers): Headers {
  const headers = new Headers();
  for (const name of RESPONSE_HEADERS) {
    const value = source.get(name);
    if (value !== null) headers.set(name, value);
  }
  return headers;
}

/**
 * Points a pagination `Link: <...>; rel="next"` at the proxy path the client used, keeping
 * the upstream's query (`last`, `n`) and the client's `ns`.
 */
function rewriteLink(link: string, requestUrl: URL): string {
  const m = /^\s*<([^>]*)>(.*)$/.exec(link);
  if (!m) return link;
  const next = new URL(m[1]!, "http://upstream.invalid");
  const ns = requestUrl.searchParams.get("ns");
  if (ns !== null) next.searchParams.set("ns", ns);
  return `<${requestUrl.pathname}${next.search}>${m[2]}`;
}

/** What a 404 means for each endpoint. */
const NOT_FOUND_CODE: Record<RepositoryEndpoint["kind"], ErrorCode> = {
  manifest: "MANIFEST_UNKNOWN",
  blob: "BLOB_UNKNOWN",
  tags: "NAME_UNKNOWN",
  referrers: "MANIFEST_UNKNOWN",
};

/**
 * An upstream error as an OCI error: the upstream's own OCI message when it sent one, never
 * its HTML or XML page. Rate limits keep Retry-After and the rate-limit headers; 5xx become 502.
 */
async function upstreamError(
  upstream: Response,
  endpoint: RepositoryEndpoint,
): Promise<RegistryError> {
  const oci = await ociError(upstream);
  const code = oci?.code ?? (upstream.status === 404 ? NOT_FOUND_CODE[endpoint.kind] : undefined);
  return upstreamFailure(upstream, "upstream", { ...oci, code });
}

/** The first error of an upstream OCI error body, if the body is one (read at most 16 KiB). */
async function ociError(
  upstream: Response,
): Promise<{ code?: ErrorCode; message: string; detail: unknown } | undefined> {
  if (!/json/i.test(upstream.headers.get("content-type") ?? "")) {
    await upstream.body?.cancel();
    return undefined;
  }
  const text = await readCapped(upstream.body, 16 * 1024);
  try {
    const first = (JSON.parse(text ?? "") as { errors?: Array<Record<string, unknown>> })
      .errors?.[0];
    if (!first || typeof first.message !== "string") return undefined;
    const code = typeof first.code === "string" && isErrorCode(first.code) ? first.code : undefined;
    return { code, message: first.message.slice(0, 500), detail: first.detail ?? null };
  } catch {
    return undefined;
  }
}
