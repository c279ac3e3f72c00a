/**
 * Storage for what can never change (manifests and blobs addressed by digest) and the small
 * records that say where it may be served: the colo-local Cache API and, when bound, a persistent
 * R2 bucket. Every storage failure is a miss, never a failed pull.
 */

import { verifyingStream } from "./digest";
import type { Grant } from "./forward";
import { logProblem } from "./log";
import { parseRange } from "./range";
import { isValidDigest } from "./reference";
import type { Upstream } from "./upstreams";

export type ContentKind = "blobs" | "manifests";

/**
 * Whose content a pull may read and write: the registry's, shared by everyone the proxy serves,
 * or, for what the owner's credentials pulled (possibly private to the owner), a partition apart.
 */
export function partitionOf(upstream: Upstream, grant: Grant): string {
  return grant.kind === "shared" && grant.credentials.length
    ? `${upstream.name}+credentials`
    : upstream.name;
}

/** Without R2, bodies up to this size are hashed as they stream and kept in the Cache API; hashing more costs more CPU than the free plan's 10 ms. */
export const VERIFY_LIMIT = 4 * 1024 * 1024;
/** The Cache API refuses larger objects. */
export const CACHE_API_LIMIT = 512 * 1024 * 1024;
/** A single R2 put from a Worker takes at most this much. */
export const R2_PUT_LIMIT = 5 * 1024 * 1024 * 1024;
const IMMUTABLE = "public, max-age=31536000, immutable";
const TAG_POINTER_TTL = "public, max-age=2592000";
/** The nonce that names a verified Cache API entry (`putVerified`). */
const NONCE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A repository's link to a digest is rechecked upstream (one HEAD) after a day. */
const LINK_TTL = "public, max-age=86400";

/** Where stored content lives and how it is written. */
export interface StoreOptions {
  /** CACHE_NAMESPACE: the first component of every key. */
  namespace: string;
  /**
   * Names the Cache API keys (the Cache API works on custom domains only; on workers.dev it
   * stores nothing). Undefined: R2 only (the Cron Trigger's warm-up, which has no domain).
   */
  origin: string | undefined;
  bucket: R2Bucket | undefined;
  /** Largest object stored (CACHE_MAX_OBJECT_MB). */
  maxObjectBytes: number;
  waitUntil: (promise: Promise<unknown>) => void;
}

/**
 * The content store of one request. Content is kept per partition (the registry's name, kept
 * apart for what was pulled with the owner's credentials) and shared across its repositories; a
 * repository's link to a digest records that the upstream confirmed that repository has it.
 */
export class ContentStore {
  constructor(private readonly options: StoreOptions) {}

  /**
   * Serves stored content for a GET or HEAD, honouring `Range: bytes=...`. The Cache API answers
   * first; an R2 hit also refills the Cache API.
   */
  async match(
    partition: string,
    kind: ContentKind,
    digest: string,
    request: { method: "GET" | "HEAD"; range: string | null },
  ): Promise<Response | undefined> {
    const key = this.contentKey(partition, kind, digest);
    const { range, method } = request;
    const cached = this.options.origin ? await this.matchVerified(key, range) : undefined;
    // An unsatisfiable range is the upstream's to answer, in its own words.
    if (cached && cached.status !== 416) return cached;
    await cached?.body?.cancel();
    if (!this.options.bucket) return undefined;
    return method === "HEAD" ? this.headR2(key, digest) : this.getR2(key, digest, range);
  }

  /**
   * Returns the upstream's whole (200) response for the client, storing a copy in the background
   * only if it verifies. The body streams to the client as it arrives; a second branch goes to
   * storage: into R2 when bound (R2 checks the sha256 of what it is given, so a short or wrong
   * body is never stored), else, up to VERIFY_LIMIT, through a native hash into the Cache API, which
   * fails the put unless the digest and length match. Nothing larger than CACHE_MAX_OBJECT_MB, or
   * without a length, or transfer-encoded, is stored.
   */
  fill(partition: string, kind: ContentKind, digest: string, response: Response): Response {
    const length = Number(response.headers.get("content-length") ?? NaN);
    const { bucket, maxObjectBytes } = this.options;
    if (
      !response.body ||
      !Number.isSafeInteger(length) ||
      length > maxObjectBytes ||
      response.headers.has("content-encoding")
    ) {
      return response;
    }
    const key = this.contentKey(partition, kind, digest);
    const headers = storedHeaders(response.headers, digest, length);

    let store: ((body: ReadableStream<Uint8Array>) => Promise<unknown>) | undefined;
    if (bucket && digest.startsWith("sha256:") && length <= R2_PUT_LIMIT) {
      // A branch of a fetched body keeps its known length, as R2 requires.
      store = (body) =>
        bucket.put(key, body, {
          sha256: digest.slice("sha256:".length),
          httpMetadata: { contentType: headers.get("content-type")! },
        });
    } else if (length <= VERIFY_LIMIT) {
      const verify = verifyingStream(digest, length);
      if (verify) {
        store = (body) =>
          this.putVerified(
            key,
            new Response(withLength(body.pipeThrough(verify), length), { headers }),
          );
      }
    }
    if (!store) return response;

    const [toClient, toStore] = response.body.tee();
    this.options.waitUntil(attempt(() => store(toStore)));
    return new Response(toClient, { status: response.status, headers: response.headers });
  }

  /** The digest a tag pointed at when the proxy last pulled it, if remembered. */
  async readTag(partition: string, repository: string, tag: string): Promise<string | undefined> {
    const key = this.tagKey(partition, repository, tag);
    const cached = this.options.origin
      ? await attempt(() => caches.default.match(this.cacheUrl(key)))
      : undefined;
    const text = cached
      ? await attempt(() => cached.text())
      : await attempt(async () => (await this.options.bucket?.get(key))?.text());
    return text && isValidDigest(text) ? text : undefined;
  }

  /** Remembers, in the background, the digest a tag points at. */
  writeTag(partition: string, repository: string, tag: string, digest: string): void {
    const key = this.tagKey(partition, repository, tag);
    this.options.waitUntil(
      Promise.all([
        attempt(() =>
          caches.default.put(this.cacheUrl(key), textResponse(digest, TAG_POINTER_TTL)),
        ),
        attempt(async () => this.options.bucket?.put(key, digest)),
      ]),
    );
  }

  /** True when this colo remembers that the upstream confirmed `repository` has `digest`. */
  async hasLink(
    partition: string,
    repository: string,
    kind: ContentKind,
    digest: string,
  ): Promise<boolean> {
    const cached = await attempt(() =>
      caches.default.match(this.cacheUrl(this.linkKey(partition, repository, kind, digest))),
    );
    await cached?.body?.cancel();
    return cached !== undefined;
  }

  /** Remembers, in the background and in this colo, that `repository` has `digest` upstream. */
  writeLink(partition: string, repository: string, kind: ContentKind, digest: string): void {
    const url = this.cacheUrl(this.linkKey(partition, repository, kind, digest));
    this.options.waitUntil(attempt(() => caches.default.put(url, textResponse("1", LINK_TTL))));
  }

  /** True when R2 holds the content. */
  async inBucket(partition: string, kind: ContentKind, digest: string): Promise<boolean> {
    const key = this.contentKey(partition, kind, digest);
    return (await attempt(async () => this.options.bucket?.head(key))) != null;
  }

  /** The bytes of a small object R2 holds (up to `limit`), for reading a stored manifest. */
  async readBucket(
    partition: string,
    kind: ContentKind,
    digest: string,
    limit: number,
  ): Promise<Uint8Array | undefined> {
    const key = this.contentKey(partition, kind, digest);
    const object = await attempt(async () => this.options.bucket?.get(key));
    if (!object || object.size > limit) {
      await object?.body.cancel();
      return undefined;
    }
    return attempt(async () => new Uint8Array(await object.arrayBuffer()));
  }

  /**
   * Puts content straight into R2 and waits for it: R2 checks the sha256, so a short or wrong
   * body is refused. False when it is not stored (no bucket, not sha256, too big, refused).
   */
  async putBucket(
    partition: string,
    kind: ContentKind,
    digest: string,
    body: ReadableStream<Uint8Array> | Uint8Array,
    contentType: string,
  ): Promise<boolean> {
    const { bucket } = this.options;
    if (!bucket || !digest.startsWith("sha256:")) return false;
    const key = this.contentKey(partition, kind, digest);
    const stored = await attempt(() =>
      bucket.put(key, body, {
        sha256: digest.slice("sha256:".length),
        httpMetadata: { contentType },
      }),
    );
    return stored != null;
  }

  /**
   * Content in the Cache API lives under `<key>@<nonce>`, and `<key>` holds the nonce: it is
   * written only once the put of the content resolved, that is once every byte went in (and, for
   * a verifying body, matched its digest). A put that failed halfway, which the Cache API may
   * still have kept in part, is never pointed at, so never served.
   */
  private async putVerified(key: string, response: Response): Promise<void> {
    const nonce = crypto.randomUUID();
    await caches.default.put(this.cacheUrl(`${key}@${nonce}`), response);
    await caches.default.put(this.cacheUrl(key), textResponse(nonce, IMMUTABLE));
  }

  /** The content a verified put left under `key`, honouring a Range. */
  private async matchVerified(key: string, range: string | null): Promise<Response | undefined> {
    const pointer = await attempt(() => caches.default.match(this.cacheUrl(key)));
    const nonce = pointer && (await attempt(() => pointer.text()));
    if (!nonce || !NONCE.test(nonce)) return undefined;
    return attempt(() =>
      caches.default.match(
        new Request(this.cacheUrl(`${key}@${nonce}`), { headers: range ? { range } : {} }),
      ),
    );
  }

  private async headR2(key: string, digest: string): Promise<Response | undefined> {
    const object = await attempt(() => this.options.bucket!.head(key));
    if (!object) return undefined;
    return new Response(null, { headers: objectHeaders(object, digest, object.size) });
  }

  private async getR2(
    key: string,
    digest: string,
    range: string | null,
  ): Promise<Response | undefined> {
    const bytes = parseRange(range);
    const object = await attempt(() =>
      this.options.bucket!.get(key, bytes ? { range: bytes } : {}),
    );
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
    const cacheHeaders = new Headers(headers);
    cacheHeaders.set("cache-control", IMMUTABLE);
    this.options.waitUntil(
      attempt(() =>
        this.putVerified(
          key,
          new Response(withLength(toCache, object.size), { headers: cacheHeaders }),
        ),
      ),
    );
    return new Response(toClient, { headers });
  }

  private contentKey(partition: string, kind: ContentKind, digest: string): string {
    return `${this.options.namespace}/${partition}/${kind}/${digest}`;
  }

  private linkKey(
    partition: string,
    repository: string,
    kind: ContentKind,
    digest: string,
  ): string {
    return `${this.options.namespace}/${partition}/links/${repository}/${kind}/${digest}`;
  }

  private tagKey(partition: string, repository: string, tag: string): string {
    return `${this.options.namespace}/${partition}/tags/${repository}/${tag}`;
  }

  private cacheUrl(key: string): string {
    return `${this.options.origin}/.cf-registry-proxy/cache/${key}`;
  }
}

/** Headers worth storing with content: what a client needs, plus the immutability the Cache API reads. */
function storedHeaders(source: Headers, digest: string, length: number): Headers {
  return new Headers({
    "content-type": source.get("content-type") ?? "application/octet-stream",
    "content-length": String(length),
    "docker-content-digest": digest,
    etag: `"${digest}"`,
    "accept-ranges": "bytes",
    "cache-control": IMMUTABLE,
  });
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

/**
 * A stream of known length: the Cache API keeps a streamed body's Content-Length only when the
 * stream says how long it is (a FixedLengthStream, native, which also fails a short body).
 */
function withLength(body: ReadableStream<Uint8Array>, length: number): ReadableStream<Uint8Array> {
  return body.pipeThrough(new FixedLengthStream(length));
}

function textResponse(text: string, cacheControl: string): Response {
  return new Response(text, {
    headers: { "content-type": "text/plain", "cache-control": cacheControl },
  });
}

/** Runs a storage operation; any failure (no Cache API in plain workerd, an R2 outage) is a miss. */
async function attempt<T>(operation: () => Promise<T>): Promise<T | undefined> {
  try {
    return await operation();
  } catch (error) {
    logProblem("content store (treated as a miss)", error);
    return undefined;
  }
}
