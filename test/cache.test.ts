// Unit tests of src/cache.ts with a fake `forward` (test/caching.test.ts runs the whole Worker).
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { serveThroughCache } from "../src/cache";
import { parseConfig } from "../src/config";
import { ContentStore } from "../src/content-store";
import type { RepositoryEndpoint } from "../src/endpoint";
import { RegistryError } from "../src/errors";
import type { Grant } from "../src/forward";
import { Trace, type CacheStatus } from "../src/log";
import { resolveRepository } from "../src/routing";
import { MANIFEST_ACCEPT, sha256 } from "./helpers/fake-registry";

const bucket = (env as unknown as { CACHE_BUCKET: R2Bucket }).CACHE_BUCKET;
const config = parseConfig({});
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const ANONYMOUS: Grant = { kind: "shared", credentials: [] };
const OWNER: Grant = { kind: "shared", credentials: [{ username: "owner", password: "t" }] };
const CLIENT: Grant = { kind: "client", authorization: "Bearer client-token" };

interface Content {
  bytes: Uint8Array;
  digest: string;
  type: string;
}

/**
 * A fake upstream behind `forward`: what each repository has, what its tags point at, and a
 * failure to throw instead. It answers as forward.ts does: 2xx responses, RegistryError otherwise.
 */
class Upstream {
  readonly content = new Map<string, Content>();
  readonly repositories = new Map<string, Set<string>>();
  readonly tags = new Map<string, string>();
  /** Thrown for every request while set. */
  failure: RegistryError | undefined;
  /** What the upstream claims a HEAD's digest is, when it lies or differs. */
  headDigest: string | undefined;
  readonly calls: string[] = [];

  async add(repository: string, text: string, type = "application/octet-stream") {
    const bytes = new TextEncoder().encode(text);
    const item = { bytes, digest: await sha256(bytes), type };
    this.content.set(item.digest, item);
    const set = this.repositories.get(repository) ?? new Set();
    set.add(item.digest);
    this.repositories.set(repository, set);
    return item;
  }

  forward(repository: string) {
    return async (endpoint: RepositoryEndpoint, method: "GET" | "HEAD"): Promise<Response> => {
      this.calls.push(`${method} ${endpoint.kind}`);
      if (this.failure) throw this.failure;
      let digest: string | undefined;
      if (endpoint.kind === "blob") digest = endpoint.digest;
      else if (endpoint.kind === "manifest") {
        digest = endpoint.reference.includes(":")
          ? endpoint.reference
          : this.tags.get(`${repository}:${endpoint.reference}`);
      } else return Response.json({ name: repository, tags: [] });
      const item = digest ? this.content.get(digest) : undefined;
      if (!item || !this.repositories.get(repository)?.has(item.digest)) {
        throw new RegistryError(
          endpoint.kind === "blob" ? "BLOB_UNKNOWN" : "MANIFEST_UNKNOWN",
          "unknown",
        );
      }
      const headers = {
        "content-type": item.type,
        "content-length": String(item.bytes.length),
        "docker-content-digest":
          method === "HEAD" && this.headDigest ? this.headDigest : item.digest,
      };
      return new Response(method === "HEAD" ? null : item.bytes, { headers });
    };
  }
}

let upstream: Upstream;
let namespace: string;
let pending: Promise<unknown>[];

beforeEach(() => {
  upstream = new Upstream();
  namespace = crypto.randomUUID();
  pending = [];
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function settle() {
  while (pending.length) await Promise.all(pending.splice(0));
}

interface Ask {
  repository?: string;
  method?: "GET" | "HEAD";
  grant?: Grant;
  headers?: Record<string, string>;
  withBucket?: boolean;
}

/** One client request through the cache layer; waits for the store's background work. */
async function serve(
  endpoint: Omit<RepositoryEndpoint, "name">,
  ask: Ask = {},
): Promise<{ response: Response; cache: CacheStatus | undefined; text: string; calls: string[] }> {
  const repository = ask.repository ?? "library/nginx";
  const url = new URL(`https://docker.example.com/v2/${repository}/`);
  const target = resolveRepository(config, url, repository);
  const store = new ContentStore({
    namespace,
    origin: "https://docker.example.com",
    bucket: ask.withBucket ? bucket : undefined,
    maxObjectBytes: 1024 * 1024 * 1024,
    waitUntil: (promise) => pending.push(promise),
  });
  const trace = new Trace();
  const before = upstream.calls.length;
  const response = await serveThroughCache({
    endpoint: { ...endpoint, name: repository } as RepositoryEndpoint,
    method: ask.method ?? "GET",
    target,
    grant: ask.grant ?? ANONYMOUS,
    headers: new Headers(ask.headers ?? { accept: MANIFEST_ACCEPT }),
    store,
    forward: upstream.forward(repository),
    trace,
  });
  const text = await response.text();
  await settle();
  return { response, cache: trace.cache, text, calls: upstream.calls.slice(before) };
}

async function refusal(endpoint: Omit<RepositoryEndpoint, "name">, ask: Ask = {}) {
  const before = upstream.calls.length;
  const error = await serve(endpoint, ask).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return { error: error as RegistryError, calls: upstream.calls.slice(before) };
}

const blobOf = (item: Content) => ({ kind: "blob" as const, digest: item.digest });
const manifestOf = (reference: string) => ({ kind: "manifest" as const, reference });

describe("content by digest", () => {
  it("is pulled once, then served from the store under the repository's link", async () => {
    const layer = await upstream.add("library/nginx", "layer bytes");
    const first = await serve(blobOf(layer));
    expect(first).toMatchObject({ cache: "MISS", text: "layer bytes", calls: ["GET blob"] });
    const second = await serve(blobOf(layer));
    expect(second).toMatchObject({ cache: "HIT", text: "layer bytes", calls: [] });
    expect(second.response.headers.get("docker-content-digest")).toBe(layer.digest);
  });

  it("is served under another repository after one HEAD confirms it has it, then by its link", async () => {
    const layer = await upstream.add("library/nginx", "shared layer");
    upstream.repositories.set("library/other", new Set([layer.digest]));
    await serve(blobOf(layer));
    expect(await serve(blobOf(layer), { repository: "library/other" })).toMatchObject({
      cache: "HIT",
      text: "shared layer",
      calls: ["HEAD blob"],
    });
    expect((await serve(blobOf(layer), { repository: "library/other" })).calls).toEqual([]);
  });

  it("is never served under a repository the upstream says lacks it", async () => {
    const layer = await upstream.add("attacker/evil", "evil layer");
    await serve(blobOf(layer), { repository: "attacker/evil" });
    const { error, calls } = await refusal(blobOf(layer));
    expect(error.code).toBe("BLOB_UNKNOWN");
    expect(calls).toEqual(["HEAD blob"]);
  });

  it("is pulled again when the HEAD names another digest", async () => {
    const layer = await upstream.add("library/nginx", "layer");
    upstream.repositories.set("library/other", new Set([layer.digest]));
    await serve(blobOf(layer));
    upstream.headDigest = `sha256:${"f".repeat(64)}`;
    expect(await serve(blobOf(layer), { repository: "library/other" })).toMatchObject({
      cache: "MISS",
      text: "layer",
      calls: ["HEAD blob", "GET blob"],
    });
  });

  it("serves a Range and a HEAD of stored content without the upstream", async () => {
    const layer = await upstream.add("library/nginx", "0123456789");
    await serve(blobOf(layer));
    const part = await serve(blobOf(layer), { headers: { range: "bytes=2-4" } });
    expect(part).toMatchObject({ cache: "HIT", text: "234", calls: [] });
    expect(part.response.status).toBe(206);
    const head = await serve(blobOf(layer), { method: "HEAD" });
    expect(head).toMatchObject({ cache: "HIT", calls: [] });
  });

  it("stores only whole 200 GETs", async () => {
    const layer = await upstream.add("library/nginx", "layer");
    expect((await serve(blobOf(layer), { method: "HEAD" })).calls).toEqual(["HEAD blob"]);
    expect((await serve(blobOf(layer))).cache).toBe("MISS");
  });

  it.each([
    [OCI_MANIFEST, MANIFEST_ACCEPT, "HIT"],
    [OCI_MANIFEST, "*/*", "HIT"],
    [OCI_INDEX, OCI_MANIFEST, "MISS"],
    [OCI_MANIFEST, undefined, "MISS"],
  ])("serves a stored %s manifest to Accept %j: %s", async (type, accept, status) => {
    const manifest = await upstream.add("library/nginx", `{"mediaType":"${type}"}`, type);
    await serve(manifestOf(manifest.digest));
    const headers: Record<string, string> = accept ? { accept } : {};
    const again = await serve(manifestOf(manifest.digest), { headers });
    expect(again.cache).toBe(status);
    expect(again.calls).toEqual(status === "HIT" ? [] : ["GET manifest"]);
  });
});

describe("whose content", () => {
  it("never stores what a client pulled with its own credentials", async () => {
    const layer = await upstream.add("library/nginx", "private layer");
    await serve(blobOf(layer), { grant: CLIENT });
    expect((await serve(blobOf(layer))).calls).toEqual(["GET blob"]);
  });

  it("lets a client with credentials read public content; only the proxy's pulls write links", async () => {
    const layer = await upstream.add("library/nginx", "public layer");
    upstream.repositories.set("library/other", new Set([layer.digest]));
    await serve(blobOf(layer));
    expect(await serve(blobOf(layer), { grant: CLIENT })).toMatchObject({
      cache: "HIT",
      calls: [],
    });
    for (let i = 0; i < 2; i++) {
      expect(
        await serve(blobOf(layer), { grant: CLIENT, repository: "library/other" }),
      ).toMatchObject({
        cache: "HIT",
        calls: ["HEAD blob"],
      });
    }
  });

  it("keeps what the owner's credentials pulled apart from anonymous content, both ways", async () => {
    const mine = await upstream.add("library/nginx", "pulled with the owner's credentials");
    const theirs = await upstream.add("library/nginx", "pulled anonymously");
    await serve(blobOf(mine), { grant: OWNER });
    await serve(blobOf(theirs));
    expect((await serve(blobOf(mine))).calls).toEqual(["GET blob"]);
    expect((await serve(blobOf(theirs), { grant: OWNER })).calls).toEqual(["GET blob"]);
    expect((await serve(blobOf(mine), { grant: OWNER })).cache).toBe("HIT");
  });
});

describe("manifests by tag", () => {
  async function tagged(tag = "latest", text = '{"v":1}') {
    const manifest = await upstream.add("library/nginx", text, OCI_MANIFEST);
    upstream.tags.set(`library/nginx:${tag}`, manifest.digest);
    return manifest;
  }

  it("costs one HEAD once the tag is known, and the manifest comes from the store", async () => {
    await tagged();
    expect(await serve(manifestOf("latest"))).toMatchObject({
      cache: "MISS",
      calls: ["GET manifest"],
    });
    expect(await serve(manifestOf("latest"))).toMatchObject({
      cache: "HIT",
      text: '{"v":1}',
      calls: ["HEAD manifest"],
    });
  });

  it("follows a tag that moved", async () => {
    await tagged();
    await serve(manifestOf("latest"));
    await tagged("latest", '{"v":2}');
    expect(await serve(manifestOf("latest"))).toMatchObject({
      cache: "MISS",
      text: '{"v":2}',
      calls: ["HEAD manifest", "GET manifest"],
    });
    expect(await serve(manifestOf("latest"))).toMatchObject({ cache: "HIT", text: '{"v":2}' });
  });

  it("forwards a HEAD by tag every time", async () => {
    await tagged();
    await serve(manifestOf("latest"));
    expect(await serve(manifestOf("latest"), { method: "HEAD" })).toMatchObject({
      cache: "MISS",
      calls: ["HEAD manifest"],
    });
  });

  it("pulls the manifest for a client that does not accept the stored one", async () => {
    await tagged();
    await serve(manifestOf("latest"));
    expect(await serve(manifestOf("latest"), { headers: { accept: OCI_INDEX } })).toMatchObject({
      cache: "MISS",
      calls: ["HEAD manifest", "GET manifest"],
    });
  });

  it("remembers nothing for a client's own pull", async () => {
    await tagged();
    await serve(manifestOf("latest"), { grant: CLIENT });
    expect((await serve(manifestOf("latest"))).calls).toEqual(["GET manifest"]);
  });

  it("remembers R2's tag pointer across colos", async () => {
    await tagged();
    await serve(manifestOf("latest"), { withBucket: true });
    expect((await serve(manifestOf("latest"), { withBucket: true })).cache).toBe("HIT");
  });
});

describe("stale manifests", () => {
  const failures: Array<[string, RegistryError]> = [
    ["429", new RegistryError("TOOMANYREQUESTS", "slow down")],
    ["a 5xx", new RegistryError("UNAVAILABLE", "upstream answered 503")],
    ["a timeout", new RegistryError("UNAVAILABLE", "no answer", undefined, { status: 504 })],
    ["a refused connection", new RegistryError("UNAVAILABLE", "unreachable")],
  ];

  it.each(failures)("answer %s with the tag's last good manifest", async (_, failure) => {
    const manifest = await upstream.add("library/nginx", '{"good":true}', OCI_MANIFEST);
    upstream.tags.set("library/nginx:latest", manifest.digest);
    await serve(manifestOf("latest"));
    upstream.failure = failure;
    for (const method of ["GET", "HEAD"] as const) {
      const stale = await serve(manifestOf("latest"), { method });
      expect(stale.cache).toBe("STALE");
      expect(stale.response.headers.get("warning")).toMatch(/^110 - "stale manifest/);
      expect(stale.response.headers.get("docker-content-digest")).toBe(manifest.digest);
      if (method === "GET") expect(stale.text).toBe('{"good":true}');
    }
  });

  it.each([
    ["a 404", new RegistryError("MANIFEST_UNKNOWN", "gone")],
    ["a 401", new RegistryError("UNAUTHORIZED", "log in")],
    ["a 403", new RegistryError("DENIED", "no")],
  ])("do not answer %s: that is the upstream's word", async (_, failure) => {
    const manifest = await upstream.add("library/nginx", "{}", OCI_MANIFEST);
    upstream.tags.set("library/nginx:latest", manifest.digest);
    await serve(manifestOf("latest"));
    upstream.failure = failure;
    expect((await refusal(manifestOf("latest"))).error).toBe(failure);
  });

  it("are served only to a client that accepts them, and never to a client's own pull", async () => {
    const manifest = await upstream.add("library/nginx", "{}", OCI_MANIFEST);
    upstream.tags.set("library/nginx:latest", manifest.digest);
    await serve(manifestOf("latest"));
    upstream.failure = new RegistryError("UNAVAILABLE", "down");
    expect(
      (await refusal(manifestOf("latest"), { headers: { accept: OCI_INDEX } })).error.code,
    ).toBe("UNAVAILABLE");
    expect((await refusal(manifestOf("latest"), { grant: CLIENT })).error.code).toBe("UNAVAILABLE");
  });

  it("do not exist for a tag never pulled", async () => {
    upstream.failure = new RegistryError("UNAVAILABLE", "down");
    expect((await refusal(manifestOf("latest"))).calls).toEqual(["GET manifest"]);
  });
});

describe("everything else", () => {
  it.each([
    [{ kind: "tags" as const }],
    [{ kind: "referrers" as const, digest: `sha256:${"a".repeat(64)}` }],
  ])("goes to the upstream every time (%j)", async (endpoint) => {
    for (let i = 0; i < 2; i++) {
      const answer = await serve(endpoint);
      expect(answer.cache).toBe("MISS");
      expect(answer.calls).toEqual([`GET ${endpoint.kind}`]);
    }
  });
});
