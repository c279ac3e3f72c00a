/**
 * The caching layer over repository requests: digest-addressed content from the content store,
 * tags resolved with a HEAD upstream (Docker Hub does not count it against the pull limit), the
 * last good manifest of a tag when the upstream fails, and where every answer came from.
 */

import type { ContentKind, ContentStore } from "./content-store";
import { RegistryError } from "./errors";
import { proxyRepository, requestedDigest, type RepositoryRequest } from "./proxy";
import { usableRange } from "./range";
import { isValidDigest } from "./reference";
import type { RepositoryEndpoint } from "./routing";

/** Where an answer came from: the store, the upstream, or the store because the upstream failed. */
export type CacheStatus = "HIT" | "MISS" | "STALE";

/** One request's view of the cache: where it reads and writes, and how it reaches the upstream. */
interface Context {
  request: RepositoryRequest;
  method: "GET" | "HEAD";
  store: ContentStore;
  /** The registry's name in store keys; what was pulled with the owner's credentials is kept apart. */
  registry: string;
  /** Only the proxy's own pulls are stored: never what a client pulled with its own credentials. */
  storable: boolean;
  proxy: (endpoint: RepositoryEndpoint, method: "GET" | "HEAD") => Promise<Response>;
}

/**
 * Serves a repository request through the cache. Anyone may read what the proxy pulled
 * anonymously: only the upstream's public content is stored that way. What it pulled with the
 * owner's credentials may be private to the owner: it is stored apart, and only the proxy's own
 * pulls read it.
 */
export async function serveRepository(
  request: RepositoryRequest,
  endpoint: RepositoryEndpoint,
  method: "GET" | "HEAD",
  store: ContentStore,
): Promise<Response> {
  const clock = new UpstreamClock();
  const { pull, route } = request;
  const context: Context = {
    request,
    method,
    store,
    registry:
      pull.kind === "proxy" && pull.credentials.length
        ? `${route.registry.registry}+credentials`
        : route.registry.registry,
    storable: pull.kind === "proxy",
    proxy: (e, m) => clock.time(proxyRepository(request, e, m)),
  };

  const digest = requestedDigest(endpoint);
  if (digest) {
    const kind: ContentKind = endpoint.kind === "blob" ? "blobs" : "manifests";
    return finish(...(await byDigest(context, endpoint, kind, digest)), clock);
  }
  if (endpoint.kind === "manifest") return finish(...(await byTag(context, endpoint)), clock);
  return finish(await context.proxy(endpoint, method), "MISS", clock);
}

/** Content named by its digest: from the store, else from upstream and into the store. */
async function byDigest(
  { request, method, store, registry, storable, proxy }: Context,
  endpoint: RepositoryEndpoint,
  kind: ContentKind,
  digest: string,
): Promise<[Response, CacheStatus]> {
  const hit = await store.match(registry, kind, digest, storeRequest(request, method));
  if (hit) return [hit, "HIT"];
  const response = await proxy(endpoint, method);
  // 200 is always the whole body (a range gets 206), so it can be stored.
  const fillable = storable && method === "GET" && response.status === 200;
  return [fillable ? await store.fill(registry, kind, digest, response) : response, "MISS"];
}

/**
 * A manifest by tag. A tag seen before costs one upstream HEAD, and its manifest comes from the
 * store while the tag still points at it. When the upstream is rate limiting, failing or
 * unreachable, the tag's last good manifest answers.
 */
async function byTag(
  context: Context,
  endpoint: Extract<RepositoryEndpoint, { kind: "manifest" }>,
): Promise<[Response, CacheStatus]> {
  const { request, method, store, registry, storable, proxy } = context;
  const { repository } = request.route;
  const tag = endpoint.reference;
  try {
    const known = await store.readTag(registry, repository, tag);
    if (method === "GET" && known) {
      const current = (await proxy(endpoint, "HEAD")).headers.get("docker-content-digest");
      if (current && isValidDigest(current)) {
        const hit = await store.match(registry, "manifests", current, storeRequest(request, "GET"));
        if (hit) {
          if (storable && current !== known) store.writeTag(registry, repository, tag, current);
          return [hit, "HIT"];
        }
      }
    }
    const response = await proxy(endpoint, method);
    const current = response.headers.get("docker-content-digest");
    if (!storable || response.status !== 200 || !current || !isValidDigest(current)) {
      return [response, "MISS"];
    }
    if (current !== known) store.writeTag(registry, repository, tag, current);
    const served =
      method === "GET" ? await store.fill(registry, "manifests", current, response) : response;
    return [served, "MISS"];
  } catch (error) {
    const stale = isUpstreamFailure(error) ? await lastGood(context, tag) : undefined;
    if (!stale) throw error;
    return [stale, "STALE"];
  }
}

/** The tag's last known manifest, marked as stale. */
async function lastGood(
  { request, method, store, registry }: Context,
  tag: string,
): Promise<Response | undefined> {
  const digest = await store.readTag(registry, request.route.repository, tag);
  if (!digest) return undefined;
  const stored = await store.match(registry, "manifests", digest, storeRequest(request, method));
  stored?.headers.set("warning", '110 - "stale manifest: the upstream registry is unavailable"');
  return stored;
}

function isUpstreamFailure(error: unknown): boolean {
  return error instanceof RegistryError && (error.status === 429 || error.status >= 500);
}

/** The request the store sees: the client's method and a usable Range, nothing else. */
function storeRequest(request: RepositoryRequest, method: "GET" | "HEAD"): Request {
  const range = usableRange(request.headers.get("range"));
  return new Request(request.url, { method, headers: range ? { range } : {} });
}

/** Adds up the time spent waiting for upstream response headers. */
class UpstreamClock {
  private total = 0;
  private calls = 0;

  async time<T>(promise: Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await promise;
    } finally {
      this.total += Date.now() - started;
      this.calls++;
    }
  }

  /** `Server-Timing` value: upstream wait and how many upstream requests it took. */
  serverTiming(): string {
    return `upstream;dur=${this.total};desc="${this.calls} request${this.calls === 1 ? "" : "s"}"`;
  }
}

function finish(response: Response, status: CacheStatus, clock: UpstreamClock): Response {
  const headers = new Headers(response.headers);
  headers.delete("cache-control");
  headers.set("x-cache", status);
  headers.set("server-timing", clock.serverTiming());
  return new Response(response.body, { status: response.status, headers });
}
