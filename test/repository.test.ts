import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ConfigVars } from "../src/config";
import { parseEndpoint, type RepositoryEndpoint } from "../src/endpoint";
import { RegistryError } from "../src/errors";
import { isolateFor } from "../src/isolate";
import { Trace } from "../src/log";
import { serveRepository } from "../src/repository";
import {
  FakeNet,
  fakeRegistry,
  makeImage,
  MANIFEST_ACCEPT,
  type FakeImage,
} from "./helpers/fake-registry";

const bucket = (env as unknown as { CACHE_BUCKET: R2Bucket }).CACHE_BUCKET;
const PROXY = "https://docker.example.com";
const HUB = "registry-1.docker.io";

let net: FakeNet;
let nginx: FakeImage;
let namespace: string;
let pending: Promise<unknown>[];

beforeEach(async () => {
  net = new FakeNet();
  namespace = crypto.randomUUID();
  memo.clear();
  pending = [];
  nginx = await makeImage(`nginx-${namespace}`);
  const secret = await makeImage(`secret-${namespace}`);
  fakeRegistry(net, {
    host: HUB,
    authHost: "auth.docker.io",
    service: "registry.docker.io",
    repositories: { "library/nginx": nginx, "owner/private": secret },
    privateRepositories: ["owner/private"],
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  expect(net.unexpected).toEqual([]);
});

/** One repository request, as index.ts dispatches it; the isolate is kept per `vars` object. */
async function serve(
  path: string,
  options: {
    vars?: ConfigVars;
    headers?: Record<string, string>;
    method?: string;
    withBucket?: boolean;
  } = {},
) {
  const isolate = isolateFor(options.vars ?? varsFor());
  const url = new URL(path, PROXY);
  const request = new Request(url, {
    method: options.method ?? "GET",
    headers: { accept: MANIFEST_ACCEPT, ...options.headers },
  });
  const trace = new Trace();
  const response = await serveRepository(
    isolate,
    request,
    url,
    parseEndpoint(url.pathname) as RepositoryEndpoint,
    { bucket: options.withBucket ? bucket : undefined, waitUntil: (p) => pending.push(p) },
    trace,
  );
  const body = new Uint8Array(await response.arrayBuffer());
  await Promise.all(pending.splice(0));
  return { response, body, trace };
}

const memo = new Map<string, ConfigVars>();
/** The same vars object for the same settings: one isolate, as workerd keeps it. */
function varsFor(extra: ConfigVars = {}): ConfigVars {
  const key = JSON.stringify(extra);
  if (!memo.has(key)) memo.set(key, { CACHE_NAMESPACE: namespace, ...extra });
  return memo.get(key)!;
}

async function refusal(path: string, options: Parameters<typeof serve>[1] = {}) {
  const error = await serve(path, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

describe("serveRepository", () => {
  it("says in the trace where each answer came from, and how long the upstream took", async () => {
    const path = `/v2/nginx/blobs/${nginx.blobDigest}`;
    const first = await serve(path);
    expect(first.trace.cache).toBe("MISS");
    expect(first.trace.serverTiming()).toMatch(/^upstream;dur=\d+;desc="1 request"$/);
    expect(first.body).toEqual(nginx.blob);

    const second = await serve(path);
    expect(second.trace.cache).toBe("HIT");
    expect(second.trace.serverTiming()).toBe('upstream;dur=0;desc="0 requests"');
    expect(second.body).toEqual(nginx.blob);
  });

  it("resolves the name into the trace (library/ completed)", async () => {
    const { trace } = await serve("/v2/nginx/manifests/latest");
    expect(trace.target).toMatchObject({
      clientName: "nginx",
      repository: "library/nginx",
      upstream: { route: "docker" },
    });
    expect(trace.endpoint).toBeUndefined(); // index.ts sets it
    expect(net.to(HUB, /manifests/).map((s) => new URL(s.url).pathname)).toEqual([
      "/v2/library/nginx/manifests/latest",
    ]);
  });

  it.each([
    ["BLOCK", { BLOCK: "docker.io/library/*" }, "/v2/nginx/manifests/latest", "DENIED"],
    ["ALLOW", { ALLOW: "docker.io/owner/*" }, "/v2/nginx/manifests/latest", "DENIED"],
    ["an unknown prefix", {}, "/v2/evil.example/x/manifests/latest", "NAME_UNKNOWN"],
    ["an unknown ns", {}, "/v2/x/manifests/latest?ns=evil.example", "NAME_UNKNOWN"],
  ])("refuses by %s before any upstream request", async (_, vars, path, code) => {
    expect((await refusal(path, { vars: varsFor(vars) })).code).toBe(code);
    expect(net.seen).toEqual([]);
  });

  it("refuses a token it never issued before any upstream request", async () => {
    const error = await refusal("/v2/nginx/manifests/latest", {
      headers: { authorization: "Bearer stolen-upstream-token" },
    });
    expect(error.status).toBe(401);
    expect(net.seen).toEqual([]);
  });

  it("answers an upstream 401 with the proxy's challenge for the repository", async () => {
    const error = await refusal("/v2/owner/private/manifests/latest?ns=docker.io");
    expect(error.status).toBe(401);
    expect(error.headers["www-authenticate"]).toBe(
      `Bearer realm="${PROXY}/v2/auth?ns=docker.io",service="registry.docker.io",scope="repository:owner/private:pull"`,
    );
  });

  it("stores into the platform's bucket under CACHE_NAMESPACE", async () => {
    await serve(`/v2/nginx/blobs/${nginx.blobDigest}`, { withBucket: true });
    const object = await bucket.head(`${namespace}/docker.io/blobs/${nginx.blobDigest}`);
    expect(object?.size).toBe(nginx.blob.length);
  });

  it("stores nothing with CACHE_MAX_OBJECT_MB = 0", async () => {
    const vars = varsFor({ CACHE_MAX_OBJECT_MB: "0" });
    await serve(`/v2/nginx/blobs/${nginx.blobDigest}`, { vars, withBucket: true });
    expect(pending).toEqual([]);
    expect((await serve(`/v2/nginx/blobs/${nginx.blobDigest}`, { vars })).trace.cache).toBe("MISS");
    expect(await bucket.head(`${namespace}/docker.io/blobs/${nginx.blobDigest}`)).toBeNull();
  });

  it("asks the upstream with HEAD for a HEAD", async () => {
    const { response } = await serve("/v2/nginx/manifests/latest", { method: "HEAD" });
    expect(response.headers.get("docker-content-digest")).toBe(nginx.manifestDigest);
    expect(net.to(HUB, /manifests/).map((s) => s.method)).toEqual(["HEAD"]);
  });
});
