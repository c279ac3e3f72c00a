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

/**
 * Serves a repository request through the cache. Anyone may read what the proxy pulled
 * anonymously: only the upstream's public content is stored that way.
 */
export async function serveRepository(
  request: RepositoryRequest,
  endpoint: RepositoryEndpoint,
  method: "GET" | "HEAD",
  store: ContentStore,
): Promise<Response> {
  const clock = new UpstreamClock();
  const proxy = (e: RepositoryEndpoint, m: "GET" | "HEAD") =>
    clock.time(proxyRepository(request, e, m));
  // Only the proxy's own pulls are stored. What it pulled with the owner's credentials may be
  // private to the owner: it is stored apart, and only the proxy's own pulls read it.
  const { pull } = request;
  const storable = pull.kind === "proxy";
  const registry =
    pull.kind === "proxy" && pull.credentials.length
      ? `${request.route.registry.registry}+credentials`
      : request.route.registry.registry;

  const digest = requestedDigest(endpoint);
  if (digest) {
    const kind: ContentKind = endpoint.kind === "blob" ? "blobs" : "manifests";
    const hit = await store.match(registry, kind, digest, clientRequest(request, method));
    if (hit) return finish(hit, "HIT", clock);
    const response = await proxy(endpoint, method);
    const fillable =
      storable && method === "GET" && response.status === 200 && !request.headers.has("range");
    return finish(
      fillable ? await store.fill(registry, kind, digest, response) : response,
      "MISS",
      clock,
    );
  }
  if (endpoint.kind !== "manifest") return finish(await proxy(endpoint, method), "MISS", clock);

  // A manifest by tag.
  const { repository } = request.route;
  const tag = endpoint.reference;
  try {
    const pointer = await store.readTag(registry, repository, tag);
    if (method === "GET" && pointer) {
      // Seen before: one HEAD tells whether it still points at content we hold.
      const head = await proxy(endpoint, "HEAD");
      const current = head.headers.get("docker-content-digest");
      if (current && isValidDigest(current)) {
        const hit = await store.match(
          registry,
          "manifests",
          current,
          clientRequest(request, "GET"),
        );
        if (hit) {
          if (storable && current !== pointer.digest)
            store.writeTag(registry, repository, tag, pointerOf(head, current));
          return finish(hit, "HIT", clock);
        }
      }
    }
    const response = await proxy(endpoint, method);
    const current = response.headers.get("docker-content-digest");
    if (!storable || response.status !== 200 || !current || !isValidDigest(current))
      return finish(response, "MISS", clock);
    if (current !== pointer?.digest)
      store.writeTag(registry, repository, tag, pointerOf(response, current));
    const served =
      method === "GET" ? await store.fill(registry, "manifests", current, response) : response;
    return finish(served, "MISS", clock);
  } catch (error) {
    const stale = isUpstreamFailure(error)
      ? await lastGood(store, registry, repository, tag, request, method)
      : undefined;
    if (!stale) throw error;
    return finish(stale, "STALE", clock);
  }
}

/** The tag's last known manifest, when the upstream is rate limiting, failing or unreachable. */
async function lastGood(
  store: ContentStore,
  registry: string,
  repository: string,
  tag: string,
  request: RepositoryRequest,
  method: "GET" | "HEAD",
): Promise<Response | undefined> {
  const pointer = await store.readTag(registry, repository, tag);
  if (!pointer) return undefined;
  const stored = await store.match(
    registry,
    "manifests",
    pointer.digest,
    clientRequest(request, method),
  );
  stored?.headers.set("warning", '110 - "stale manifest: the upstream registry is unavailable"');
  return stored;
}

function isUpstreamFailure(error: unknown): boolean {
  return error instanceof RegistryError && (error.status === 429 || error.status >= 500);
}

function pointerOf(response: Response, digest: string) {
  return {
    digest,
    mediaType: response.headers.get("content-type") ?? "application/vnd.oci.image.manifest.v1+json",
  };
}

/** The request the store sees: the client's method and a usable Range, nothing else. */
function clientRequest(request: RepositoryRequest, method: "GET" | "HEAD"): Request {
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
