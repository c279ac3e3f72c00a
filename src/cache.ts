/**
 * The caching layer over repository requests: content addressed by digest from the content store,
 * served under a repository only once the upstream confirmed that repository has it; tags
 * resolved with an upstream HEAD (Docker Hub does not count it against the pull limit); the last
 * good manifest of a tag when the upstream fails; a stored manifest only for a client that
 * accepts its media type. The upstream is reached only through the `forward` it is handed.
 */

import { accepts } from "./accept";
import { partitionOf, type ContentKind, type ContentStore } from "./content-store";
import { RegistryError } from "./errors";
import { requestedDigest, type Forward, type Grant } from "./forward";
import type { RepositoryEndpoint } from "./endpoint";
import type { CacheStatus, Trace } from "./log";
import { usableRange } from "./range";
import { isValidDigest } from "./reference";
import type { RepositoryTarget } from "./routing";

/** One repository request, as the cache layer sees it. */
export interface CacheRequest {
  readonly endpoint: RepositoryEndpoint;
  readonly method: "GET" | "HEAD";
  readonly target: RepositoryTarget;
  readonly grant: Grant;
  /** The client's headers: `Accept` and `Range` matter here. */
  readonly headers: Headers;
  readonly store: ContentStore;
  readonly forward: Forward;
  readonly trace: Trace;
}

/** One request's view of the store. */
interface View extends CacheRequest {
  /** Whose content (content-store.ts `partitionOf`). */
  readonly partition: string;
  /** Only the shared access's pulls are stored, and only they record links and tags. */
  readonly storable: boolean;
}

/**
 * Serves a repository request through the cache and records where the answer came from. Anyone
 * may read what the proxy's anonymous access stored: only public content is stored that way. What
 * the owner's credentials pulled may be private: it is kept apart, and only the shared access reads
 * it. What a client pulled with its own credentials is never stored.
 */
export async function serveThroughCache(request: CacheRequest): Promise<Response> {
  const { grant, target, endpoint } = request;
  const view: View = {
    ...request,
    partition: partitionOf(target.upstream, grant),
    storable: grant.kind === "shared",
  };
  const digest = requestedDigest(endpoint);
  const [response, status] = digest
    ? await byDigest(view, endpoint.kind === "blob" ? "blobs" : "manifests", digest)
    : endpoint.kind === "manifest"
      ? await byTag(view, endpoint.reference)
      : [await request.forward(endpoint, request.method), "MISS" as const];
  request.trace.cache = status;
  return response;
}

/**
 * Content named by its digest. A stored copy is served when this repository's link to it is
 * known, or after one upstream HEAD confirms the repository has it; otherwise it comes from
 * upstream, and into the store.
 */
async function byDigest(
  view: View,
  kind: ContentKind,
  digest: string,
): Promise<[Response, CacheStatus]> {
  const { store, partition, target, endpoint, method, forward, storable } = view;
  const stored = await store.match(partition, kind, digest, {
    method,
    range: usableRange(view.headers.get("range")),
  });
  if (stored && servable(view, kind, stored)) {
    if (await store.hasLink(partition, target.repository, kind, digest)) return [stored, "HIT"];
    const head = await confirm(view, digest).catch(async (error: unknown) => {
      await stored.body?.cancel();
      throw error;
    });
    if (head) {
      if (storable) store.writeLink(partition, target.repository, kind, digest);
      return [stored, "HIT"];
    }
  }
  await stored?.body?.cancel();

  const response = await forward(endpoint, method);
  if (!storable || !response.ok) return [response, "MISS"];
  store.writeLink(partition, target.repository, kind, digest);
  // 200 is always the whole body (a range gets 206), so it can be stored.
  const fillable = method === "GET" && response.status === 200;
  return [fillable ? store.fill(partition, kind, digest, response) : response, "MISS"];
}

/**
 * Asks the upstream, with one HEAD, whether the repository has the digest. True when it answers
 * 2xx for it; an upstream error (404 for another repository's content, 401) is thrown as the
 * client's answer.
 */
async function confirm(view: View, digest: string): Promise<boolean> {
  const head = await view.forward(view.endpoint, "HEAD");
  await head.body?.cancel();
  const said = head.headers.get("docker-content-digest");
  return head.ok && (said === null || said === digest);
}

/**
 * A manifest by tag. A tag seen before costs one upstream HEAD, and its manifest comes from the
 * store while the tag still points at it. When the upstream is rate limiting, failing or
 * unreachable, the tag's last good manifest answers.
 */
async function byTag(view: View, tag: string): Promise<[Response, CacheStatus]> {
  const { store, partition, target, endpoint, method, forward, storable } = view;
  const { repository } = target;
  try {
    const known = storable ? await store.readTag(partition, repository, tag) : undefined;
    if (method === "GET" && known) {
      const head = await forward(endpoint, "HEAD");
      await head.body?.cancel();
      const current = head.headers.get("docker-content-digest");
      if (current && isValidDigest(current)) {
        const stored = await store.match(partition, "manifests", current, { method, range: null });
        if (stored && servable(view, "manifests", stored)) {
          if (current !== known) remember(view, tag, current);
          return [stored, "HIT"];
        }
        await stored?.body?.cancel();
      }
    }
    const response = await forward(endpoint, method);
    const current = response.headers.get("docker-content-digest");
    if (!storable || response.status !== 200 || !current || !isValidDigest(current)) {
      return [response, "MISS"];
    }
    if (current !== known) remember(view, tag, current);
    return [
      method === "GET" ? store.fill(partition, "manifests", current, response) : response,
      "MISS",
    ];
  } catch (error) {
    const stale = storable && isUpstreamFailure(error) ? await lastGood(view, tag) : undefined;
    if (!stale) throw error;
    return [stale, "STALE"];
  }
}

/**
 * Records what the upstream just said: the tag points at `digest`, which the repository has. Only
 * when the tag is new or moved: a put on every pull would cost more than it saves.
 */
function remember({ store, partition, target }: View, tag: string, digest: string): void {
  store.writeTag(partition, target.repository, tag, digest);
  store.writeLink(partition, target.repository, "manifests", digest);
}

/** The tag's last known manifest, marked as stale, when the client accepts its type. */
async function lastGood(view: View, tag: string): Promise<Response | undefined> {
  const { store, partition, target, method } = view;
  const digest = await store.readTag(partition, target.repository, tag);
  if (!digest) return undefined;
  const stored = await store.match(partition, "manifests", digest, { method, range: null });
  if (!stored || !servable(view, "manifests", stored)) {
    await stored?.body?.cancel();
    return undefined;
  }
  const headers = new Headers(stored.headers);
  headers.set("warning", '110 - "stale manifest: the upstream registry is unavailable"');
  return new Response(stored.body, { status: stored.status, headers });
}

/**
 * Whether stored content may answer this client: any blob; a manifest only when the client's
 * Accept admits its media type (registries answer 404 to a client that does not accept an index:
 * registries.md §1 "Accept handling", §6).
 */
function servable(view: View, kind: ContentKind, stored: Response): boolean {
  if (kind === "blobs") return true;
  return accepts(view.headers.get("accept"), stored.headers.get("content-type") ?? "");
}

function isUpstreamFailure(error: unknown): boolean {
  return error instanceof RegistryError && (error.status === 429 || error.status >= 500);
}
