// The edge cache: what is stored, what is served from it, and what never is.
import { env as testBindings } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { VERIFY_LIMIT } from "../src/content-store";
import type { Bindings } from "../src/index";
import {
  FakeNet,
  fakeRegistry,
  makeImage,
  MANIFEST_ACCEPT,
  serveBytes,
  sha256,
  type FakeImage,
} from "./helpers/fake-registry";
import { callWorker, envWith, errorOf, testEnv } from "./helpers/worker";

const HUB = "registry-1.docker.io";
const HUB_AUTH = "auth.docker.io";
const CDN = "production.cloudflare.docker.com";
const PROXY = "https://docker.example.com";
const ALICE = { authorization: `Basic ${btoa("alice:wonderland")}` };

let net: FakeNet;
let env: Bindings;
let nginx: FakeImage;
let big: FakeImage;
let secret: FakeImage;

function hub(repositories: Record<string, FakeImage>) {
  fakeRegistry(net, {
    host: HUB,
    authHost: HUB_AUTH,
    service: "registry.docker.io",
    cdnHost: CDN,
    repositories,
    privateRepositories: ["alice/private"],
  });
}

beforeEach(async () => {
  net = new FakeNet();
  env = testEnv({
    CACHE_BUCKET: (testBindings as unknown as { CACHE_BUCKET: R2Bucket }).CACHE_BUCKET,
    TOKEN_SECRET: "test-token-secret-0123456789",
  });
  nginx = await makeImage(`nginx-${env.CACHE_NAMESPACE}`);
  big = await makeImage(`big-${env.CACHE_NAMESPACE}`, VERIFY_LIMIT + 100_000);
  secret = await makeImage(`secret-${env.CACHE_NAMESPACE}`);
  hub({ "library/nginx": nginx, "library/big": big, "alice/private": secret });
});

afterEach(() => {
  vi.restoreAllMocks();
  expect(net.unexpected).toEqual([]);
});

/** A request as registry clients send it: with the manifest types they accept. */
const call = (path: string, init: RequestInit = {}, overrides: Partial<Bindings> = {}) => {
  const headers = new Headers(init.headers);
  if (!headers.has("accept")) headers.set("accept", MANIFEST_ACCEPT);
  return callWorker(`${PROXY}${path}`, { ...init, headers }, envWith(env, overrides));
};

/** A credentialed client's token, as containerd or a logged-in Docker gets it. */
async function aliceToken(repository: string): Promise<string> {
  const response = await call(`/v2/auth?scope=repository:${repository}:pull`, { headers: ALICE });
  return ((await response.json()) as { token: string }).token;
}

async function pullBlob(path: string, init: RequestInit = {}, overrides: Partial<Bindings> = {}) {
  const response = await call(path, init, overrides);
  return { response, bytes: new Uint8Array(await response.arrayBuffer()) };
}

describe("content addressed by digest", () => {
  it("stores an anonymous blob and serves it again without the upstream", async () => {
    const path = `/v2/nginx/blobs/${nginx.blobDigest}`;
    const first = await pullBlob(path);
    expect(first.response.headers.get("x-cache")).toBe("MISS");
    expect(first.response.headers.get("server-timing")).toMatch(
      /^upstream;dur=\d+;desc="1 request"$/,
    );
    expect(first.bytes).toEqual(nginx.blob);
    const upstreamCalls = net.seen.length;

    const second = await pullBlob(path);
    expect(second.response.headers.get("x-cache")).toBe("HIT");
    expect(second.response.headers.get("server-timing")).toBe('upstream;dur=0;desc="0 requests"');
    // The store's immutability advice is for the Cache API, not for the client.
    expect(second.response.headers.has("cache-control")).toBe(false);
    expect(second.response.headers.get("docker-content-digest")).toBe(nginx.blobDigest);
    expect(second.response.headers.get("content-length")).toBe(String(nginx.blob.length));
    expect(second.bytes).toEqual(nginx.blob);
    expect(net.seen.length).toBe(upstreamCalls);
  });

  it("shares a blob across repositories of the same registry, after one HEAD confirms the repository has it", async () => {
    hub({ "library/nginx": nginx, "library/other": nginx });
    await pullBlob(`/v2/nginx/blobs/${nginx.blobDigest}`);
    const before = net.seen.length;
    const other = await pullBlob(`/v2/other/blobs/${nginx.blobDigest}`);
    expect(other.response.headers.get("x-cache")).toBe("HIT");
    expect(other.bytes).toEqual(nginx.blob);
    const asked = net.seen.slice(before).filter((s) => s.url.includes("/blobs/"));
    expect(asked.map((s) => `${s.method} ${new URL(s.url).pathname}`)).toEqual([
      `HEAD /v2/library/other/blobs/${nginx.blobDigest}`,
      `HEAD /blobs/${nginx.blobDigest}`,
    ]);
    // The link is remembered: the next pull of that repository asks nobody.
    const calls = net.seen.length;
    expect(
      (await pullBlob(`/v2/other/blobs/${nginx.blobDigest}`)).response.headers.get("x-cache"),
    ).toBe("HIT");
    expect(net.seen.length).toBe(calls);
  });

  it("answers Range and HEAD from the store", async () => {
    const path = `/v2/nginx/blobs/${nginx.blobDigest}`;
    await pullBlob(path);
    const calls = net.seen.length;
    const range = await pullBlob(path, { headers: { range: "bytes=10-19" } });
    expect(range.response.status).toBe(206);
    expect(range.response.headers.get("content-range")).toBe(`bytes 10-19/${nginx.blob.length}`);
    expect(range.bytes).toEqual(nginx.blob.slice(10, 20));
    const head = await call(path, { method: "HEAD" });
    expect(head.headers.get("x-cache")).toBe("HIT");
    expect(head.headers.get("content-length")).toBe(String(nginx.blob.length));
    expect(await head.text()).toBe("");
    expect(net.seen.length).toBe(calls);
  });

  it("stores a manifest by digest after checking its digest", async () => {
    const path = `/v2/nginx/manifests/${nginx.manifestDigest}`;
    await call(path);
    const again = await call(path);
    expect(again.headers.get("x-cache")).toBe("HIT");
    expect(again.headers.get("content-type")).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(await again.text()).toBe(nginx.manifest);
  });

  it("keeps a large blob in R2 (R2 checks the sha256) and serves ranges from there", async () => {
    const path = `/v2/big/blobs/${big.blobDigest}`;
    const first = await pullBlob(path);
    expect(await sha256(first.bytes)).toBe(big.blobDigest);
    const stored = await env.CACHE_BUCKET!.head(
      `${env.CACHE_NAMESPACE}/docker.io/blobs/${big.blobDigest}`,
    );
    expect(stored?.size).toBe(big.blob.length);

    const calls = net.seen.length;
    const second = await pullBlob(path);
    expect(second.response.headers.get("x-cache")).toBe("HIT");
    expect(await sha256(second.bytes)).toBe(big.blobDigest);
    const resumed = await pullBlob(path, { headers: { range: `bytes=${VERIFY_LIMIT}-` } });
    expect(resumed.response.status).toBe(206);
    expect(await sha256(resumed.bytes)).toBe(await sha256(big.blob.slice(VERIFY_LIMIT)));
    expect(net.seen.length).toBe(calls);
  });

  it("does not store a large blob without R2: hashing it would cost the request's CPU", async () => {
    const path = `/v2/big/blobs/${big.blobDigest}`;
    await pullBlob(path, {}, { CACHE_BUCKET: undefined });
    const second = await pullBlob(path, {}, { CACHE_BUCKET: undefined });
    expect(second.response.headers.get("x-cache")).toBe("MISS");
    expect(await sha256(second.bytes)).toBe(big.blobDigest);
  });
});

describe("content served only under a repository the upstream has it in", () => {
  let evil: FakeImage;
  beforeEach(async () => {
    evil = await makeImage(`evil-${env.CACHE_NAMESPACE}`);
    hub({ "library/nginx": nginx, "attacker/evil": evil });
  });

  it.each([
    ["manifest", (i: FakeImage) => `manifests/${i.manifestDigest}`, "MANIFEST_UNKNOWN"],
    ["blob", (i: FakeImage) => `blobs/${i.blobDigest}`, "BLOB_UNKNOWN"],
  ])("never serves another repository's %s from the store", async (_, path, code) => {
    // Someone pulls the attacker's image through the proxy: its content is now stored.
    const pulled = await call(`/v2/attacker/evil/${path(evil)}`);
    expect(pulled.status).toBe(200);
    await pulled.arrayBuffer();
    expect((await call(`/v2/attacker/evil/${path(evil)}`)).headers.get("x-cache")).toBe("HIT");

    // Asked for under library/nginx, where the upstream does not have it: the upstream's 404.
    for (const method of ["GET", "HEAD"]) {
      const response = await call(`/v2/library/nginx/${path(evil)}`, { method });
      expect(response.status, method).toBe(404);
      expect(response.headers.get("x-cache"), method).toBeNull();
      if (method === "GET") expect((await errorOf(response)).code).toBe(code);
    }
    expect(net.to(HUB, /library\/nginx/).map((s) => s.method)).toEqual(["HEAD", "HEAD"]);
  });

  it("keeps what BLOCK refuses out of reach under any other name", async () => {
    await (await call(`/v2/attacker/evil/manifests/${evil.manifestDigest}`)).arrayBuffer();
    const blocked = { BLOCK: "docker.io/attacker/*" };
    expect(
      (await call(`/v2/attacker/evil/manifests/${evil.manifestDigest}`, {}, blocked)).status,
    ).toBe(403);
    const elsewhere = await call(`/v2/library/nginx/manifests/${evil.manifestDigest}`, {}, blocked);
    expect(elsewhere.status).toBe(404);
  });
});

describe("streaming and bounds", () => {
  it("sends a digest-addressed body's first bytes before the upstream sent its last", async () => {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    net.on(CDN, () => {
      // A native stream of known length, as a fetched body is: the first KB now, the rest later.
      const { readable, writable } = new FixedLengthStream(nginx.blob.length);
      const writer = writable.getWriter();
      void (async () => {
        await writer.write(nginx.blob.slice(0, 1000));
        await finished;
        await writer.write(nginx.blob.slice(1000));
        await writer.close();
      })();
      return new Response(readable, { headers: { "content-length": String(nginx.blob.length) } });
    });
    const request = new Request(`${PROXY}/v2/nginx/blobs/${nginx.blobDigest}`);
    const { createExecutionContext, waitOnExecutionContext } = await import("cloudflare:test");
    const { default: worker } = await import("../src/index");
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      request as Request<unknown, IncomingRequestCfProperties>,
      env,
      ctx,
    );
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.value?.byteLength).toBeGreaterThan(0);
    finish();
    let received = first.value!.byteLength;
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      received += chunk.value.byteLength;
    expect(received).toBe(nginx.blob.length);
    await waitOnExecutionContext(ctx);
    // Verified while it streamed, so it was stored.
    expect((await call(`/v2/nginx/blobs/${nginx.blobDigest}`)).headers.get("x-cache")).toBe("HIT");
  });

  it("stores nothing larger than CACHE_MAX_OBJECT_MB, and still serves it", async () => {
    const bounded = { CACHE_MAX_OBJECT_MB: "4" };
    const path = `/v2/big/blobs/${big.blobDigest}`;
    const first = await pullBlob(path, {}, bounded);
    expect(await sha256(first.bytes)).toBe(big.blobDigest);
    expect(
      await env.CACHE_BUCKET!.head(`${env.CACHE_NAMESPACE}/docker.io/blobs/${big.blobDigest}`),
    ).toBeNull();
    expect((await pullBlob(path, {}, bounded)).response.headers.get("x-cache")).toBe("MISS");
    // The small one still is.
    await pullBlob(`/v2/nginx/blobs/${nginx.blobDigest}`, {}, bounded);
    expect(
      (await pullBlob(`/v2/nginx/blobs/${nginx.blobDigest}`, {}, bounded)).response.headers.get(
        "x-cache",
      ),
    ).toBe("HIT");
  });
});

describe("never storing what does not match", () => {
  const flip = (b: Uint8Array) => b.map((x) => x ^ 1);
  const shorter = (b: Uint8Array) => b.slice(1);
  it.each([
    ["a small blob with the wrong bytes, with R2", () => nginx, flip, true],
    ["a small blob with the wrong bytes, Cache API only", () => nginx, flip, false],
    ["a small blob one byte short, Cache API only", () => nginx, shorter, false],
    ["a large blob with the wrong bytes, with R2", () => big, flip, true],
  ])("refuses %s", async (_, image, corrupt, withR2) => {
    const overrides = withR2 ? {} : { CACHE_BUCKET: undefined };
    const { blob, blobDigest } = image();
    net.on(CDN, (request) => serveBytes(request, corrupt(blob), {}));
    const path = `/v2/library/${image() === big ? "big" : "nginx"}/blobs/${blobDigest}`;
    await pullBlob(path, {}, overrides);
    hub({ "library/nginx": nginx, "library/big": big });
    const second = await pullBlob(path, {}, overrides);
    expect(second.response.headers.get("x-cache")).toBe("MISS");
    expect(await sha256(second.bytes)).toBe(blobDigest);
    // The right bytes are stored, and then served.
    expect((await pullBlob(path, {}, overrides)).response.headers.get("x-cache")).toBe("HIT");
  });

  it("never stores a body the upstream cut short; the client sees a broken transfer", async () => {
    net.on(CDN, () => {
      const half = big.blob.slice(0, big.blob.length / 2);
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(half);
          controller.error(new Error("connection reset"));
        },
      });
      return new Response(body, { headers: { "content-length": String(big.blob.length) } });
    });
    const path = `/v2/big/blobs/${big.blobDigest}`;
    const cut = await call(path);
    await expect(cut.arrayBuffer()).rejects.toThrow();
    const stored = await env.CACHE_BUCKET!.head(
      `${env.CACHE_NAMESPACE}/docker.io/blobs/${big.blobDigest}`,
    );
    expect(stored).toBeNull();
  });
  it("streams a small body the upstream drops midway, cut off too, and stores nothing", async () => {
    net.on(CDN, () => {
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(nginx.blob.slice(0, 100));
          controller.error(new Error("connection reset"));
        },
      });
      return new Response(body, { headers: { "content-length": String(nginx.blob.length) } });
    });
    const response = await call(`/v2/nginx/blobs/${nginx.blobDigest}`);
    // Headers went out before the upstream's last byte: the client sees a broken transfer.
    expect(response.status).toBe(200);
    await expect(response.arrayBuffer()).rejects.toThrow();
    hub({ "library/nginx": nginx });
    expect((await call(`/v2/nginx/blobs/${nginx.blobDigest}`)).headers.get("x-cache")).toBe("MISS");
  });
});

describe("private content", () => {
  it("never stores what was fetched with a client's credentials", async () => {
    const token = await aliceToken("alice/private");
    const path = `/v2/alice/private/blobs/${secret.blobDigest}`;
    const withToken = { headers: { authorization: `Bearer ${token}` } };
    expect((await pullBlob(path, withToken)).bytes).toEqual(secret.blob);
    expect((await pullBlob(path, withToken)).response.headers.get("x-cache")).toBe("MISS");

    // Another client without credentials gets the upstream's refusal, not the stored copy.
    const stranger = await call(path);
    expect(stranger.status).toBe(401);
    expect((await errorOf(stranger)).code).toBe("UNAUTHORIZED");
  });

  it("lets a client with credentials read public content others pulled anonymously", async () => {
    await pullBlob(`/v2/nginx/blobs/${nginx.blobDigest}`);
    const token = await aliceToken("library/nginx");
    const hit = await call(`/v2/nginx/blobs/${nginx.blobDigest}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(hit.headers.get("x-cache")).toBe("HIT");
  });
});

describe("tags", () => {
  const manifestGets = () => net.to(HUB, /manifests/).filter((s) => s.method === "GET").length;
  const manifestHeads = () => net.to(HUB, /manifests/).filter((s) => s.method === "HEAD").length;

  it("resolves a known tag with a HEAD and serves the manifest from the store", async () => {
    const first = await call("/v2/nginx/manifests/latest");
    expect(first.headers.get("x-cache")).toBe("MISS");
    expect(manifestGets()).toBe(1);
    expect(manifestHeads()).toBe(0);

    for (let i = 0; i < 3; i++) {
      const again = await call("/v2/nginx/manifests/latest");
      expect(again.headers.get("x-cache")).toBe("HIT");
      expect(again.headers.get("docker-content-digest")).toBe(nginx.manifestDigest);
      expect(await again.text()).toBe(nginx.manifest);
    }
    expect(manifestGets()).toBe(1);
    expect(manifestHeads()).toBe(3);
    // The upstream token was fetched once and reused.
    expect(net.to(HUB_AUTH)).toHaveLength(1);
  });

  it("follows a tag that moved", async () => {
    await call("/v2/nginx/manifests/latest");
    const moved = await makeImage(`moved-${env.CACHE_NAMESPACE}`);
    hub({ "library/nginx": moved });
    const response = await call("/v2/nginx/manifests/latest");
    expect(response.headers.get("x-cache")).toBe("MISS");
    expect(await response.text()).toBe(moved.manifest);
  });

  it.each([
    [
      "rate limited",
      () => new Response("<html>429</html>", { status: 429, headers: { "retry-after": "60" } }),
    ],
    ["failing", () => new Response("oops", { status: 503 })],
    ["unreachable", () => Promise.reject(new TypeError("connection refused"))],
  ])("serves the last good manifest when the upstream is %s", async (_, failure) => {
    await call("/v2/nginx/manifests/latest");
    net.on(HUB, (request, url) => (url.pathname === "/v2/" ? new Response("{}") : failure()));
    for (const method of ["GET", "HEAD"]) {
      const stale = await call("/v2/nginx/manifests/latest", { method });
      expect(stale.status).toBe(200);
      expect(stale.headers.get("x-cache")).toBe("STALE");
      expect(stale.headers.get("warning")).toMatch(/^110 /);
      expect(stale.headers.get("docker-content-digest")).toBe(nginx.manifestDigest);
      if (method === "GET") expect(await stale.text()).toBe(nginx.manifest);
    }
  });

  it("fails as before when there is no good copy", async () => {
    net.on(HUB, (request, url) =>
      url.pathname === "/v2/" ? new Response("{}") : new Response("x", { status: 503 }),
    );
    const response = await call("/v2/nginx/manifests/latest");
    expect(response.status).toBe(502);
  });
});

describe("storage failures are misses, never failed pulls", () => {
  it("pulls when the Cache API and R2 both throw", async () => {
    vi.spyOn(caches.default, "match").mockRejectedValue(new Error("no cache here"));
    vi.spyOn(caches.default, "put").mockRejectedValue(new Error("no cache here"));
    const bucket = {
      get: () => Promise.reject(new Error("R2 outage")),
      head: () => Promise.reject(new Error("R2 outage")),
      put: () => Promise.reject(new Error("R2 outage")),
    } as unknown as R2Bucket;
    for (const path of [
      `/v2/nginx/blobs/${nginx.blobDigest}`,
      `/v2/big/blobs/${big.blobDigest}`,
      "/v2/nginx/manifests/latest",
    ]) {
      const { response } = await pullBlob(path, {}, { CACHE_BUCKET: bucket });
      expect(response.status, path).toBe(200);
      expect(response.headers.get("x-cache")).toBe("MISS");
    }
  });
});
