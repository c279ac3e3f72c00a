import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ContentStore,
  VERIFY_LIMIT,
  type ContentKind,
  type StoreOptions,
} from "../src/content-store";
import { sha256 } from "./helpers/fake-registry";

const bucket = (env as unknown as { CACHE_BUCKET: R2Bucket }).CACHE_BUCKET;
const ORIGIN = "https://docker.example.com";
const PARTITION = "docker.io";
const MiB = 1024 * 1024;

let namespace: string;
let pending: Promise<unknown>[];
beforeEach(() => {
  namespace = crypto.randomUUID();
  pending = [];
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
});
afterEach(() => {
  vi.restoreAllMocks();
});

function makeStore(options: Partial<StoreOptions> = {}): ContentStore {
  return new ContentStore({
    namespace,
    origin: ORIGIN,
    bucket: undefined,
    maxObjectBytes: 1024 * MiB,
    waitUntil: (promise) => pending.push(promise),
    ...options,
  });
}

/** Waits for the background work the store handed to waitUntil; none of it may reject. */
async function settle(): Promise<void> {
  while (pending.length) {
    const results = await Promise.allSettled(pending.splice(0));
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
  }
}

/** An upstream's whole answer, as the proxy gets it. */
function upstream(bytes: Uint8Array, headers: Record<string, string> = {}): Response {
  return new Response(bytes, {
    headers: {
      "content-type": "application/octet-stream",
      "content-length": String(bytes.length),
      "x-upstream": "kept for the client",
      ...headers,
    },
  });
}

async function blob(seed: string, size = 5000) {
  const pattern = new TextEncoder().encode(`${seed}-${namespace}:`);
  const bytes = new Uint8Array(size).map((_, i) => pattern[i % pattern.length]!);
  return { bytes, digest: await sha256(bytes) };
}

const GET = { method: "GET" as const, range: null };
const bytesOf = async (response: Response | undefined) =>
  new Uint8Array(await response!.arrayBuffer());

/** Fills the store with a blob and waits until the copy is stored. */
async function filled(store: ContentStore, kind: ContentKind = "blobs", size = 5000) {
  const content = await blob(kind, size);
  const response = store.fill(PARTITION, kind, content.digest, upstream(content.bytes));
  expect(await sha256(await bytesOf(response))).toBe(content.digest);
  await settle();
  return content;
}

const cacheUrl = (key: string) => `${ORIGIN}/.cf-registry-proxy/cache/${key}`;
const contentKey = (digest: string, kind: ContentKind = "blobs", partition = PARTITION) =>
  `${namespace}/${partition}/${kind}/${digest}`;

describe("the Cache API alone (no R2)", () => {
  it("stores a verified body and serves it with the registry's headers", async () => {
    const store = makeStore();
    const { bytes, digest } = await blob("a");
    const toClient = store.fill(PARTITION, "blobs", digest, upstream(bytes));
    expect(toClient.headers.get("x-upstream")).toBe("kept for the client");
    expect(await store.match(PARTITION, "blobs", digest, GET)).toBeUndefined(); // not before the last byte
    expect(await bytesOf(toClient)).toEqual(bytes);
    await settle();

    const stored = await store.match(PARTITION, "blobs", digest, GET);
    expect(stored?.status).toBe(200);
    expect(Object.fromEntries(stored!.headers)).toMatchObject({
      "content-type": "application/octet-stream",
      "docker-content-digest": digest,
      etag: `"${digest}"`,
      "accept-ranges": "bytes",
    });
    expect(stored!.headers.has("x-upstream")).toBe(false);
    expect(await bytesOf(stored)).toEqual(bytes);
  });

  it("serves what it verified with its Content-Length, as a HEAD needs it", async () => {
    // storedHeaders sets it, but a stream of unknown length (pipeThrough) loses it in cache.put.
    const store = makeStore();
    const { bytes, digest } = await filled(store);
    for (const method of ["GET", "HEAD"] as const) {
      const stored = await store.match(PARTITION, "blobs", digest, { method, range: null });
      expect(stored?.headers.get("content-length"), method).toBe(String(bytes.length));
      await stored?.body?.cancel();
    }
  });

  it("keeps a manifest's media type", async () => {
    const store = makeStore();
    const manifest = new TextEncoder().encode('{"schemaVersion":2}');
    const digest = await sha256(manifest);
    const type = "application/vnd.oci.image.manifest.v1+json";
    await store
      .fill(PARTITION, "manifests", digest, upstream(manifest, { "content-type": type }))
      .text();
    await settle();
    const stored = await store.match(PARTITION, "manifests", digest, GET);
    expect(stored?.headers.get("content-type")).toBe(type);
  });

  it.each([
    ["bytes=2-5", 206, "bytes 2-5/5000", [2, 6]],
    ["bytes=4990-", 206, "bytes 4990-4999/5000", [4990, 5000]],
  ])("answers Range %s", async (range, status, contentRange, [from, to]) => {
    const store = makeStore();
    const { bytes, digest } = await filled(store);
    const part = await store.match(PARTITION, "blobs", digest, { method: "GET", range });
    expect(part?.status).toBe(status);
    expect(part?.headers.get("content-range")).toBe(contentRange);
    expect(await bytesOf(part)).toEqual(bytes.slice(from, to));
  });

  it("leaves an unsatisfiable range to the upstream", async () => {
    const store = makeStore();
    const { digest } = await filled(store);
    expect(
      await store.match(PARTITION, "blobs", digest, { method: "GET", range: "bytes=5000-" }),
    ).toBeUndefined();
  });

  it.each([
    ["a wrong digest", (d: string) => d.replace(/.$/, (c) => (c === "0" ? "1" : "0")), 0],
    ["a body longer than its Content-Length says", (d: string) => d, -1],
    ["a body shorter than its Content-Length says", (d: string) => d, +1],
  ])("never stores %s, and still streams the body", async (_, digestOf, lengthDelta) => {
    const store = makeStore();
    const { bytes, digest } = await blob("bad");
    const response = upstream(bytes, { "content-length": String(bytes.length + lengthDelta) });
    const toClient = store.fill(PARTITION, "blobs", digestOf(digest), response);
    expect(await bytesOf(toClient)).toEqual(bytes);
    await settle();
    expect(await store.match(PARTITION, "blobs", digestOf(digest), GET)).toBeUndefined();
  });

  it.each<[string, Record<string, string>, Partial<StoreOptions>, number]>([
    ["without a Content-Length", { "content-length": "" }, {}, 100],
    ["with a Content-Encoding", { "content-encoding": "gzip" }, {}, 100],
    ["larger than CACHE_MAX_OBJECT_MB", {}, { maxObjectBytes: 99 }, 100],
    ["over the verify limit, without R2", {}, {}, VERIFY_LIMIT + 1],
  ])("passes a body %s through untouched and unstored", async (_, headers, options, size) => {
    const store = makeStore(options);
    const { bytes, digest } = await blob("skip", size);
    const response = upstream(bytes, headers);
    if (headers["content-length"] === "") response.headers.delete("content-length");
    expect(store.fill(PARTITION, "blobs", digest, response)).toBe(response);
    expect(pending).toEqual([]);
  });

  it("verifies a sha512 digest as well", async () => {
    const store = makeStore();
    const bytes = new TextEncoder().encode(`sha512 body ${namespace}`);
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-512", bytes));
    const digest = `sha512:${[...hash].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
    await store.fill(PARTITION, "blobs", digest, upstream(bytes)).text();
    await settle();
    expect(await bytesOf(await store.match(PARTITION, "blobs", digest, GET))).toEqual(bytes);
  });

  it("keeps partitions, kinds and namespaces apart", async () => {
    const store = makeStore();
    const { digest } = await filled(store);
    expect(await store.match(`${PARTITION}+credentials`, "blobs", digest, GET)).toBeUndefined();
    expect(await store.match("ghcr.io", "blobs", digest, GET)).toBeUndefined();
    expect(await store.match(PARTITION, "manifests", digest, GET)).toBeUndefined();
    namespace = crypto.randomUUID();
    expect(await makeStore().match(PARTITION, "blobs", digest, GET)).toBeUndefined();
  });
});

describe("the nonce pointer", () => {
  const body = (text: string) =>
    new Response(text, { headers: { "cache-control": "public, max-age=3600" } });

  it("is the only way to content: an entry nobody pointed at is never served", async () => {
    const { digest } = await blob("orphan");
    // What a put that failed halfway may leave behind.
    await caches.default.put(
      cacheUrl(`${contentKey(digest)}@${crypto.randomUUID()}`),
      body("part"),
    );
    expect(await makeStore().match(PARTITION, "blobs", digest, GET)).toBeUndefined();
  });

  it.each([
    ["is not a nonce", "../../other"],
    ["names no entry", crypto.randomUUID()],
    ["is empty", ""],
  ])("serves nothing when the pointer %s", async (_, nonce) => {
    const { digest } = await blob("pointer");
    await caches.default.put(cacheUrl(`${contentKey(digest)}@other`), body("x"));
    await caches.default.put(cacheUrl(contentKey(digest)), body(nonce));
    expect(await makeStore().match(PARTITION, "blobs", digest, GET)).toBeUndefined();
  });

  it("serves the entry the pointer names", async () => {
    const { digest } = await blob("named");
    const nonce = crypto.randomUUID();
    await caches.default.put(cacheUrl(`${contentKey(digest)}@${nonce}`), body("complete"));
    await caches.default.put(cacheUrl(contentKey(digest)), body(nonce));
    expect(await (await makeStore().match(PARTITION, "blobs", digest, GET))?.text()).toBe(
      "complete",
    );
  });

  it("is written only after the content, and only for content that verified", async () => {
    const store = makeStore();
    const { bytes, digest } = await blob("late");
    const wrong = digest.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
    await store.fill(PARTITION, "blobs", wrong, upstream(bytes)).arrayBuffer();
    await settle();
    expect(await caches.default.match(cacheUrl(contentKey(wrong)))).toBeUndefined();
  });
});

describe("with R2", () => {
  it("stores a blob in R2 under its key, with its media type, and serves it", async () => {
    const store = makeStore({ bucket });
    const { bytes, digest } = await filled(store);
    const object = await bucket.head(contentKey(digest));
    expect(object?.size).toBe(bytes.length);
    expect(object?.httpMetadata?.contentType).toBe("application/octet-stream");
    const stored = await store.match(PARTITION, "blobs", digest, GET);
    expect(stored?.headers.get("docker-content-digest")).toBe(digest);
    expect(await bytesOf(stored)).toEqual(bytes);
  });

  it("stores a blob over the verify limit (R2 checks its sha256)", async () => {
    const store = makeStore({ bucket });
    const { bytes, digest } = await filled(store, "blobs", VERIFY_LIMIT + 10);
    expect((await bucket.head(contentKey(digest)))?.size).toBe(bytes.length);
  });

  it("never stores a body whose sha256 does not match", async () => {
    const store = makeStore({ bucket });
    const { bytes, digest } = await blob("bad");
    const wrong = digest.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
    expect(await bytesOf(store.fill(PARTITION, "blobs", wrong, upstream(bytes)))).toEqual(bytes);
    await settle();
    expect(await bucket.head(contentKey(wrong))).toBeNull();
    expect(await store.match(PARTITION, "blobs", wrong, GET)).toBeUndefined();
  });

  it("respects CACHE_MAX_OBJECT_MB for R2 too", async () => {
    const store = makeStore({ bucket, maxObjectBytes: 100 });
    const { bytes, digest } = await blob("big", 101);
    const response = upstream(bytes);
    expect(store.fill(PARTITION, "blobs", digest, response)).toBe(response);
  });

  describe("read from another colo (an empty Cache API)", () => {
    const elsewhere = () => makeStore({ bucket, origin: "https://ghcr.example.com" });

    it("serves from R2 and refills that colo's Cache API", async () => {
      const { bytes, digest } = await filled(makeStore({ bucket }));
      const store = elsewhere();
      expect(await bytesOf(await store.match(PARTITION, "blobs", digest, GET))).toEqual(bytes);
      await settle();
      await bucket.delete(contentKey(digest));
      expect(await bytesOf(await store.match(PARTITION, "blobs", digest, GET))).toEqual(bytes);
    });

    it("answers HEAD from R2's metadata alone", async () => {
      const { bytes, digest } = await filled(makeStore({ bucket }));
      const head = await elsewhere().match(PARTITION, "blobs", digest, {
        method: "HEAD",
        range: null,
      });
      expect(head?.status).toBe(200);
      expect(head?.body).toBeNull();
      expect(Object.fromEntries(head!.headers)).toEqual({
        "content-type": "application/octet-stream",
        "content-length": String(bytes.length),
        "docker-content-digest": digest,
        etag: `"${digest}"`,
        "accept-ranges": "bytes",
      });
      expect(pending).toEqual([]);
    });

    it.each([
      ["bytes=2-5", "bytes 2-5/5000", 2, 6],
      ["bytes=4000-", "bytes 4000-4999/5000", 4000, 5000],
      ["bytes=4990-999999", "bytes 4990-4999/5000", 4990, 5000],
      ["bytes=4999-4999", "bytes 4999-4999/5000", 4999, 5000],
    ])("answers Range %s from R2", async (range, contentRange, from, to) => {
      const { bytes, digest } = await filled(makeStore({ bucket }));
      const part = await elsewhere().match(PARTITION, "blobs", digest, { method: "GET", range });
      expect(part?.status).toBe(206);
      expect(part?.headers.get("content-range")).toBe(contentRange);
      expect(part?.headers.get("content-length")).toBe(String(to - from));
      expect(await bytesOf(part)).toEqual(bytes.slice(from, to));
    });

    it("leaves a range past the end to the upstream", async () => {
      const { digest } = await filled(makeStore({ bucket }));
      expect(
        await elsewhere().match(PARTITION, "blobs", digest, {
          method: "GET",
          range: "bytes=5000-",
        }),
      ).toBeUndefined();
    });

    it("misses what neither store has", async () => {
      const { digest } = await blob("absent");
      expect(await elsewhere().match(PARTITION, "blobs", digest, GET)).toBeUndefined();
      expect(
        await elsewhere().match(PARTITION, "blobs", digest, { method: "HEAD", range: null }),
      ).toBeUndefined();
    });
  });
});

describe("tag pointers", () => {
  const DIGEST_A = `sha256:${"a".repeat(64)}`;
  const DIGEST_B = `sha256:${"b".repeat(64)}`;

  it("remember the digest a tag pointed at, per repository, the latest write winning", async () => {
    const store = makeStore();
    expect(await store.readTag(PARTITION, "library/nginx", "latest")).toBeUndefined();
    store.writeTag(PARTITION, "library/nginx", "latest", DIGEST_A);
    await settle();
    expect(await store.readTag(PARTITION, "library/nginx", "latest")).toBe(DIGEST_A);
    expect(await store.readTag(PARTITION, "library/redis", "latest")).toBeUndefined();
    expect(await store.readTag(PARTITION, "library/nginx", "1.25")).toBeUndefined();
    expect(await store.readTag("ghcr.io", "library/nginx", "latest")).toBeUndefined();
    store.writeTag(PARTITION, "library/nginx", "latest", DIGEST_B);
    await settle();
    expect(await store.readTag(PARTITION, "library/nginx", "latest")).toBe(DIGEST_B);
  });

  it("are kept in R2 too, for other colos", async () => {
    makeStore({ bucket }).writeTag(PARTITION, "library/nginx", "latest", DIGEST_A);
    await settle();
    const elsewhere = makeStore({ bucket, origin: "https://other.example.com" });
    expect(await elsewhere.readTag(PARTITION, "library/nginx", "latest")).toBe(DIGEST_A);
    expect(
      await makeStore({ origin: "https://other.example.com" }).readTag(
        PARTITION,
        "library/nginx",
        "latest",
      ),
    ).toBeUndefined();
  });

  it.each(["not a digest", `sha256:${"A".repeat(64)}`, "", `sha256:${"a".repeat(63)}`])(
    "read nothing from a pointer holding %j",
    async (text) => {
      await bucket.put(`${namespace}/${PARTITION}/tags/library/nginx/latest`, text);
      expect(
        await makeStore({ bucket }).readTag(PARTITION, "library/nginx", "latest"),
      ).toBeUndefined();
    },
  );
});

describe("links", () => {
  const DIGEST = `sha256:${"c".repeat(64)}`;

  it("record, in this colo, that a repository has a digest", async () => {
    const store = makeStore({ bucket });
    expect(await store.hasLink(PARTITION, "library/nginx", "blobs", DIGEST)).toBe(false);
    store.writeLink(PARTITION, "library/nginx", "blobs", DIGEST);
    await settle();
    expect(await store.hasLink(PARTITION, "library/nginx", "blobs", DIGEST)).toBe(true);
    expect(await store.hasLink(PARTITION, "library/redis", "blobs", DIGEST)).toBe(false);
    expect(await store.hasLink(PARTITION, "library/nginx", "manifests", DIGEST)).toBe(false);
    expect(await store.hasLink(`${PARTITION}+credentials`, "library/nginx", "blobs", DIGEST)).toBe(
      false,
    );
    const elsewhere = makeStore({ bucket, origin: "https://other.example.com" });
    expect(await elsewhere.hasLink(PARTITION, "library/nginx", "blobs", DIGEST)).toBe(false);
  });
});

describe("storage failures", () => {
  const failing = new Proxy({} as R2Bucket, {
    get: () => () => Promise.reject(new Error("R2 is down")),
  });

  it("are misses, never failed pulls", async () => {
    const store = makeStore({ bucket: failing });
    const { bytes, digest } = await blob("outage");
    expect(await store.match(PARTITION, "blobs", digest, GET)).toBeUndefined();
    expect(
      await store.match(PARTITION, "blobs", digest, { method: "HEAD", range: null }),
    ).toBeUndefined();
    expect(await bytesOf(store.fill(PARTITION, "blobs", digest, upstream(bytes)))).toEqual(bytes);
    expect(await store.readTag(PARTITION, "library/nginx", "latest")).toBeUndefined();
    store.writeTag(PARTITION, "library/nginx", "latest", digest);
    store.writeLink(PARTITION, "library/nginx", "blobs", digest);
    await settle();
  });
});
