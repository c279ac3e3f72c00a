/**
 * Storage for content that can never change (manifests and blobs addressed by digest): the
 * colo-local Cache API and, when bound, a persistent R2 bucket. Every failure here is a miss.
 */

import { sha256Digest } from "./digest";
import { RegistryError } from "./errors";
import { parseRange } from "./range";
import { isValidDigest } from "./reference";

export type ContentKind = "blobs" | "manifests";

/** Bodies up to this size are read whole and hashed before they are stored (manifests, configs). */
export const HASH_LIMIT = 4 * 1024 * 1024;
/** The Cache API refuses larger objects. */
const CACHE_API_LIMIT = 512 * 1024 * 1024;
/** A single R2 put from a Worker takes at most this much. */
const R2_PUT_LIMIT = 5 * 1024 * 1024 * 1024 - 1;
const IMMUTABLE = "public, max-age=31536000, immutable";
const TAG_POINTER_TTL = "public, max-age=2592000";

/**
 * The content store of one request. `origin` names the Cache API keys (the Cache API works on
 * custom domains only; on workers.dev it stores nothing and every lookup misses).
 */
export class ContentStore {
  constructor(
    private readonly namespace: string,
    private readonly origin: string,
    private readonly bucket: R2Bucket | undefined,
    private readonly waitUntil: (promise: Promise<unknown>) => void,
  ) {}

  /**
   * Serves stored content for a GET or HEAD, honouring `Range: bytes=...`.
   * The Cache API answers first; an R2 hit also refills the Cache API.
   */
  async match(
    registry: string,
    kind: ContentKind,
    digest: string,
    request: Request,
  ): Promise<Response | undefined> {
    const key = this.contentKey(registry, kind, digest);
    const range = request.headers.get("range"); // already one the proxy passes on (range.ts)
    const cached = await attempt(() =>
      caches.default.match(new Request(this.cacheUrl(key), { headers: range ? { range } : {} })),
    );
    // An unsatisfiable range is the upstream's to answer, in its own words.
    if (cached && cached.status !== 416) return withoutBody(cached, request.method);
    if (!this.bucket) return undefined;
    return request.method === "HEAD" ? this.headR2(key, digest) : this.getR2(key, digest, range);
  }

  /**
   * Returns the response to send for content fetched from upstream, storing a copy when it can
   * be verified: bodies up to HASH_LIMIT are read whole and hashed here; larger blobs stream to
   * R2 (one branch of a tee; a branch of a body with a known length keeps it, as R2 requires) and
   * R2 checks the sha256, so a short or wrong body is never stored. A larger blob without R2 is not
   * stored: hashing it here would cost more CPU than the free plan gives a request.
   */
  fill(
    registry: string,
    kind: ContentKind,
    digest: string,
    response: Response,
  ): Response | Promise<Response> {
    const length = Number(response.headers.get("content-length") ?? NaN);
    if (!response.body || !Number.isSafeInteger(length) || response.headers.has("content-encoding"))
      return response;
    const key = this.contentKey(registry, kind, digest);
    const headers = storedHeaders(response.headers, digest);

    if (length <= HASH_LIMIT) return this.fillVerified(key, digest, response, headers);
    if (!this.bucket || length > R2_PUT_LIMIT || !digest.startsWith("sha256:")) return response;

    // Both branches are pumped natively (the response to the client, the R2 upload), and workerd's
    // tee then moves in lockstep with the slower one instead of buffering (kj::newTee): a slow
    // client slows the upload, it does not pile the blob up in memory.
    const [toClient, toStore] = response.body.tee();
    const bucket = this.bucket;
    this.waitUntil(
      attempt(() =>
        bucket.put(key, toStore, {
          sha256: digest.slice("sha256:".length),
          httpMetadata: { contentType: headers.get("content-type") ?? "application/octet-stream" },
        }),
      ),
    );
    return new Response(toClient, { status: response.status, headers: response.headers });
  }

  /** The digest a tag pointed at when the proxy last pulled it, if remembered. */
  async readTag(registry: string, repository: string, tag: string): Promise<string | undefined> {
    const key = this.tagKey(registry, repository, tag);
    const cached = await attempt(() => caches.default.match(this.cacheUrl(key)));
    const text = cached
      ? await attempt(() => cached.text())
      : await attempt(async () => (await this.bucket?.get(key))?.text());
    return text && isValidDigest(text) ? text : undefined;
  }

  /** Remembers, in the background, the digest a tag points at. */
  writeTag(registry: string, repository: string, tag: string, digest: string): void {
    const key = this.tagKey(registry, repository, tag);
    this.waitUntil(
      Promise.all([
        attempt(() =>
          caches.default.put(
            this.cacheUrl(key),
            new Response(digest, {
              headers: { "content-type": "text/plain", "cache-control": TAG_POINTER_TTL },
            }),
          ),
        ),
        attempt(async () => this.bucket?.put(key, digest)),
      ]),
    );
  }

  private async fillVerified(
    key: string,
    digest: string,
    response: Response,
    headers: Headers,
  ): Promise<Response> {
    const bytes = await response.arrayBuffer().then(
      (buffer) => new Uint8Array(buffer),
      () => {
        throw new RegistryError(
          "UNAVAILABLE",
          "upstream closed the connection mid-body",
          undefined,
          { status: 502 },
        );
      },
    );
    if (
      bytes.byteLength === Number(headers.get("content-length")) &&
      (await sha256Digest(bytes)) === digest
    ) {
      this.waitUntil(
        Promise.all([
          attempt(() => caches.default.put(this.cacheUrl(key), new Response(bytes, { headers }))),
          attempt(async () =>
            this.bucket?.put(key, bytes, {
              httpMetadata: { contentType: headers.get("content-type") ?? undefined },
            }),
          ),
        ]),
      );
    }
    return new Response(bytes, { status: response.status, headers: response.headers });
  }

  private async headR2(key: string, digest: string): Promise<Response | undefined> {
    const object = await attempt(() => this.bucket!.head(key));
    if (!object) return undefined;
    return new Response(null, { headers: objectHeaders(object, digest, object.size) });
  }

  private async getR2(
    key: string,
    digest: string,
    range: string | null,
  ): Promise<Response | undefined> {
    const bytes = parseRange(range);
    const object = await attempt(() => this.bucket!.get(key, bytes ? { range: bytes } : {}));
    if (!object || !("body" in object)) return undefined;
    if (bytes && bytes.offset >= object.size) {
      // Unsatisfiable: let the upstream give its own answer.
      await object.body.cancel();
      return undefined;
    }
    const length = bytes
      ? Math.min(bytes.length ?? Infinity, object.size - bytes.offset)
      : object.size;
    const headers = objectHeaders(object, digest, length);
    if (bytes) {
      const offset = bytes.offset;
      headers.set("content-range", `bytes ${offset}-${offset + length - 1}/${object.size}`);
      return new Response(object.body, { status: 206, headers });
    }
    if (object.size > CACHE_API_LIMIT) return new Response(object.body, { headers });
    // A verified R2 copy refills this colo's Cache API on the way out.
    const [toClient, toCache] = object.body.tee();
    this.waitUntil(
      attempt(() =>
        caches.default.put(
          this.cacheUrl(key),
          new Response(toCache, { headers: cacheHeaders(headers) }),
        ),
      ),
    );
    return new Response(toClient, { headers });
  }

  /** Content is shared across repositories of one registry: a digest names the same bytes everywhere. */
  private contentKey(registry: string, kind: ContentKind, digest: string): string {
    return `${this.namespace}/${registry}/${kind}/${digest}`;
  }

  private tagKey(registry: string, repository: string, tag: string): string {
    return `${this.namespace}/${registry}/tags/${repository}/${tag}`;
  }

  private cacheUrl(key: string): string {
    return `${this.origin}/.cf-registry-proxy/cache/${key}`;
  }
}

/** Headers worth storing with content: what a client needs, plus the immutability the Cache API reads. */
function storedHeaders(source: Headers, digest: string): Headers {
  const headers = new Headers({
    "content-type": source.get("content-type") ?? "application/octet-stream",
    "content-length": source.get("content-length") ?? "",
    "docker-content-digest": digest,
    etag: `"${digest}"`,
    "accept-ranges": "bytes",
    "cache-control": IMMUTABLE,
  });
  return headers;
}

function cacheHeaders(headers: Headers): Headers {
  const copy = new Headers(headers);
  copy.set("cache-control", IMMUTABLE);
  return copy;
}

function objectHeaders(object: R2Object, digest: string, length: number): Headers {
  return new Headers({
    "content-type": object.httpMetadata?.contentType ?? "application/octet-stream",
    "content-length": String(length),
    "docker-content-digest": digest,
    etag: `"${digest}"`,
    "accept-ranges": "bytes",
  });
}

function withoutBody(response: Response, method: string): Response {
  if (method !== "HEAD") return new Response(response.body, response);
  void response.body?.cancel();
  return new Response(null, response);
}

/** Storage failures already logged by this isolate: a missing Cache API would say so on every request. */
const logged = new Set<string>();

/** Runs a storage operation; any failure (no Cache API in plain workerd, an R2 outage) is a miss. */
async function attempt<T>(operation: () => Promise<T>): Promise<T | undefined> {
  try {
    return await operation();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!logged.has(message) && logged.size < 100) {
      logged.add(message);
      console.warn("content store (treated as a miss):", message);
    }
    return undefined;
  }
}
