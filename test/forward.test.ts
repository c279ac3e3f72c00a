import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseBasic } from "../src/basic-auth";
import type { ConfigVars } from "../src/config";
import { parseEndpoint, type RepositoryEndpoint } from "../src/endpoint";
import { RegistryError } from "../src/errors";
import { forwarder, requestedDigest, type Grant } from "../src/forward";
import { isolateFor } from "../src/isolate";
import { Trace } from "../src/log";
import { resolveRepository } from "../src/routing";
import { FakeNet } from "./helpers/fake-registry";

const PROXY = "https://docker.example.com";
const HUB = "registry-1.docker.io";
const HUB_AUTH = "auth.docker.io";
const CDN = "production.cloudflare.docker.com";
const DIGEST = `sha256:${"a".repeat(64)}`;

let net: FakeNet;
/** The Hub's answer to every repository request (its ping and token server are fixed). */
let registry: (request: Request, url: URL) => Response | Promise<Response>;

beforeEach(() => {
  net = new FakeNet();
  registry = () => new Response("{}");
  net.on(HUB, (request, url) =>
    url.pathname === "/v2/"
      ? new Response("{}", {
          status: 401,
          headers: {
            "www-authenticate": `Bearer realm="https://${HUB_AUTH}/token",service="registry.docker.io"`,
          },
        })
      : registry(request, url),
  );
  net.on(HUB_AUTH, (request) => {
    const user = parseBasic(request.headers.get("authorization"))?.username ?? "anon";
    return Response.json({ token: `tok-${user}-${net.to(HUB_AUTH).length}`, expires_in: 300 });
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  expect(net.unexpected).toEqual([]);
});

/** The forward function for one client request to `href`, as repository.ts builds it. */
function forwardFor(
  href: string,
  options: { vars?: ConfigVars; headers?: HeadersInit; grant?: Grant } = {},
) {
  const isolate = isolateFor({ UPSTREAM_CREDENTIALS_PUBLIC: "true", ...options.vars });
  const url = new URL(href, PROXY);
  const endpoint = parseEndpoint(url.pathname) as RepositoryEndpoint;
  const target = resolveRepository(isolate.config, url, endpoint.name);
  const grant: Grant = options.grant ?? {
    kind: "shared",
    credentials: isolate.config.upstreamCredentials.get(target.upstream.route) ?? [],
  };
  const trace = new Trace();
  const forward = forwarder(
    isolate,
    {
      url,
      target,
      headers: new Headers(options.headers),
      grant,
      challenge: (upstream) => `proxy challenge for ${upstream}`,
    },
    trace,
  );
  return { call: (method: "GET" | "HEAD" = "GET") => forward(endpoint, method), trace, isolate };
}

/** Requests the Hub saw for repositories (not its ping). */
const pulls = () => net.to(HUB).filter((s) => new URL(s.url).pathname !== "/v2/");

async function thrown(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

describe("the upstream request", () => {
  it.each([
    ["/v2/nginx/manifests/latest?n=1&ns=docker.io", "/v2/library/nginx/manifests/latest"],
    [`/v2/nginx/blobs/${DIGEST}?last=x`, `/v2/library/nginx/blobs/${DIGEST}`],
    [
      "/v2/nginx/tags/list?n=10&last=1.25&ns=docker.io&evil=https://x",
      "/v2/library/nginx/tags/list?n=10&last=1.25",
    ],
    [
      `/v2/org/tool/referrers/${DIGEST}?artifactType=application%2Fvnd.example%2Bjson&n=1`,
      `/v2/org/tool/referrers/${DIGEST}?artifactType=application%2Fvnd.example%2Bjson`,
    ],
    ["/v2/docker.io/library/nginx/tags/list?n=5", "/v2/library/nginx/tags/list?n=5"],
  ])("%s goes to %s, with the spec's query parameters only", async (href, upstream) => {
    await forwardFor(href).call();
    expect(pulls().map((s) => s.url)).toEqual([`https://${HUB}${upstream}`]);
  });

  it("carries the proxy's token and the forwardable client headers, never the client's own", async () => {
    await forwardFor("/v2/nginx/manifests/latest", {
      headers: {
        accept: "application/vnd.oci.image.index.v1+json",
        authorization: "Bearer cf-registry-proxy.anonymous",
        cookie: "a=b",
        "cf-connecting-ip": "203.0.113.9",
        "user-agent": "containerd/2.0",
      },
    }).call();
    const [pull] = pulls();
    expect(pull!.headers).toEqual({
      accept: "application/vnd.oci.image.index.v1+json",
      "user-agent": "containerd/2.0",
      authorization: "Bearer tok-anon-1",
    });
    const token = new URL(net.to(HUB_AUTH)[0]!.url);
    expect(token.searchParams.getAll("scope")).toEqual(["repository:library/nginx:pull"]);
  });

  it("sends a client grant's own Authorization, and asks no realm", async () => {
    await forwardFor("/v2/nginx/manifests/latest", {
      grant: { kind: "client", authorization: "Bearer client-upstream-token" },
    }).call();
    expect(pulls()[0]!.headers.authorization).toBe("Bearer client-upstream-token");
    expect(net.to(HUB_AUTH)).toEqual([]);
    expect(net.to(HUB)).toHaveLength(1); // not even the ping
  });

  it("fetches a token with the route's credential for the owner's pulls", async () => {
    await forwardFor("/v2/nginx/manifests/latest", {
      vars: { UPSTREAM_CREDENTIALS: '{"docker":["owner:hub-token"]}' },
    }).call("HEAD");
    expect(pulls()[0]).toMatchObject({
      method: "HEAD",
      headers: { authorization: "Bearer tok-owner-1" },
    });
  });
});

describe("the client response", () => {
  it("passes only the allowed upstream headers", async () => {
    registry = () =>
      new Response("manifest", {
        headers: {
          "content-type": "application/vnd.oci.image.manifest.v1+json",
          "content-length": "8",
          "docker-content-digest": DIGEST,
          etag: `"${DIGEST}"`,
          "last-modified": "Mon, 20 Apr 2026 12:00:00 GMT",
          "accept-ranges": "bytes",
          "oci-filters-applied": "artifactType",
          "ratelimit-limit": "100;w=21600",
          "ratelimit-remaining": "99;w=21600",
          "docker-ratelimit-source": "203.0.113.9",
          "set-cookie": "session=secret",
          "strict-transport-security": "max-age=1",
          "x-amz-request-id": "abc",
          "cf-ray": "123",
          server: "nginx",
          via: "1.1 varnish",
          "www-authenticate": "Bearer x",
          "cache-control": "private",
        },
      });
    const response = await forwardFor("/v2/nginx/manifests/latest").call();
    expect(Object.fromEntries(response.headers)).toEqual({
      "content-type": "application/vnd.oci.image.manifest.v1+json",
      "content-length": "8",
      "docker-content-digest": DIGEST,
      etag: `"${DIGEST}"`,
      "last-modified": "Mon, 20 Apr 2026 12:00:00 GMT",
      "accept-ranges": "bytes",
      "oci-filters-applied": "artifactType",
      "ratelimit-limit": "100;w=21600",
      "ratelimit-remaining": "99;w=21600",
      "docker-ratelimit-source": "203.0.113.9",
    });
    expect(await response.text()).toBe("manifest");
  });

  it("passes a range answer and streams its body", async () => {
    registry = () =>
      new Response("cd", {
        status: 206,
        headers: { "content-range": "bytes 2-3/10", "content-length": "2" },
      });
    const response = await forwardFor(`/v2/nginx/blobs/${DIGEST}`, {
      headers: { range: "bytes=2-3" },
    }).call();
    expect(pulls()[0]!.headers.range).toBe("bytes=2-3");
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe("bytes 2-3/10");
    expect(await response.text()).toBe("cd");
  });

  it("drops Content-Length from an encoded body", async () => {
    registry = () =>
      new Response("x", { headers: { "content-encoding": "gzip", "content-length": "1" } });
    const response = await forwardFor("/v2/nginx/tags/list").call();
    expect(response.headers.get("content-encoding")).toBe("gzip");
    expect(response.headers.has("content-length")).toBe(false);
  });

  it.each([
    [`/v2/nginx/blobs/${DIGEST}`, DIGEST],
    [`/v2/nginx/manifests/${DIGEST}`, DIGEST],
    ["/v2/nginx/manifests/latest", null],
    ["/v2/nginx/tags/list", null],
    [`/v2/nginx/referrers/${DIGEST}`, null],
  ])("gives %s a Docker-Content-Digest of %s when the upstream sent none", async (href, digest) => {
    registry = () => new Response("x");
    expect((await forwardFor(href).call()).headers.get("docker-content-digest")).toBe(digest);
  });

  it("adds the digest to a blob served by a CDN after a redirect", async () => {
    registry = () =>
      new Response(null, { status: 307, headers: { location: `https://${CDN}/b?sig=s` } });
    net.on(
      CDN,
      () => new Response("blob", { headers: { "content-type": "application/octet-stream" } }),
    );
    const response = await forwardFor(`/v2/nginx/blobs/${DIGEST}`).call();
    expect(response.headers.get("docker-content-digest")).toBe(DIGEST);
    expect(await response.text()).toBe("blob");
    expect(net.to(CDN)[0]!.headers.authorization).toBeUndefined();
  });

  it("keeps the upstream's own digest header", async () => {
    const other = `sha256:${"b".repeat(64)}`;
    registry = () => new Response("x", { headers: { "docker-content-digest": other } });
    const response = await forwardFor(`/v2/nginx/manifests/${DIGEST}`).call();
    expect(response.headers.get("docker-content-digest")).toBe(other);
  });
});

describe("Link rewriting", () => {
  it.each([
    [
      "a relative link",
      "/v2/nginx/tags/list?n=1",
      '</v2/library/nginx/tags/list?last=a&n=1>; rel="next"',
      '</v2/nginx/tags/list?last=a&n=1>; rel="next"',
    ],
    [
      "an absolute link",
      "/v2/nginx/tags/list?n=1",
      `<https://${HUB}/v2/library/nginx/tags/list?last=a&n=1>; rel="next"`,
      '</v2/nginx/tags/list?last=a&n=1>; rel="next"',
    ],
    [
      "a link to another host",
      "/v2/nginx/tags/list",
      '<https://evil.example/steal?last=a>; rel="next"',
      '</v2/nginx/tags/list?last=a>; rel="next"',
    ],
    [
      "the client's ns",
      "/v2/library/nginx/tags/list?ns=docker.io",
      '</v2/library/nginx/tags/list?last=a&n=1>; rel="next"',
      '</v2/library/nginx/tags/list?last=a&n=1&ns=docker.io>; rel="next"',
    ],
    [
      "a path prefix",
      "/v2/docker.io/library/nginx/tags/list",
      '</v2/library/nginx/tags/list?last=a>; rel="next"',
      '</v2/docker.io/library/nginx/tags/list?last=a>; rel="next"',
    ],
  ])("points %s at the proxy path the client used", async (_, href, upstream, rewritten) => {
    registry = () => Response.json({ tags: [] }, { headers: { link: upstream } });
    expect((await forwardFor(href).call()).headers.get("link")).toBe(rewritten);
  });
});

describe("a blob HEAD the upstream refuses with a valid token (public.ecr.aws)", () => {
  it("is answered from a Range 0-0 GET with the whole length", async () => {
    registry = (request) =>
      request.method === "HEAD"
        ? new Response(null, { status: 401, headers: { "www-authenticate": "Bearer x" } })
        : new Response("a", {
            status: 206,
            headers: {
              "content-range": "bytes 0-0/1234",
              "content-length": "1",
              "content-type": "application/octet-stream",
            },
          });
    const response = await forwardFor(`/v2/nginx/blobs/${DIGEST}`, {
      headers: { range: "bytes=100-" },
    }).call("HEAD");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe("1234");
    expect(response.headers.has("content-range")).toBe(false);
    expect(response.headers.get("docker-content-digest")).toBe(DIGEST);
    expect(response.body).toBeNull();
    expect(pulls().map((s) => `${s.method} ${s.headers.range ?? ""}`)).toEqual([
      "HEAD bytes=100-",
      "GET bytes=0-0",
    ]);
  });

  it("keeps a 200's length when the upstream ignores the Range", async () => {
    registry = (request) =>
      request.method === "HEAD"
        ? new Response(null, { status: 401 })
        : new Response("abcdef", { headers: { "content-length": "6" } });
    const response = await forwardFor(`/v2/nginx/blobs/${DIGEST}`).call("HEAD");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe("6");
  });

  it("is not tried for a manifest, nor without a token", async () => {
    registry = () =>
      new Response(null, { status: 401, headers: { "www-authenticate": "Bearer m" } });
    await thrown(forwardFor("/v2/nginx/manifests/latest").call("HEAD"));
    expect(pulls().map((s) => s.method)).toEqual(["HEAD"]);

    net.on("registry.k8s.io", (_request, url) =>
      url.pathname === "/v2/" ? new Response("{}") : new Response(null, { status: 401 }),
    );
    await thrown(forwardFor(`https://k8s.example.com/v2/pause/blobs/${DIGEST}`).call("HEAD"));
    expect(net.to("registry.k8s.io").map((s) => s.method)).toEqual(["GET", "HEAD"]); // ping, HEAD
  });
});

describe("errors", () => {
  it("turns a 401 into the client's challenge, and forgets the shared token", async () => {
    registry = () =>
      new Response(null, {
        status: 401,
        headers: { "www-authenticate": 'Bearer error="invalid_token"' },
      });
    const { call } = forwardFor("/v2/nginx/manifests/latest");
    const error = await thrown(call());
    expect(error).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
    expect(error.headers["www-authenticate"]).toBe(
      'proxy challenge for Bearer error="invalid_token"',
    );
    await thrown(call());
    expect(net.to(HUB_AUTH)).toHaveLength(2);
  });

  it("keeps a shared token the upstream accepts", async () => {
    const { call } = forwardFor("/v2/nginx/manifests/latest");
    await call();
    await call("HEAD");
    expect(net.to(HUB_AUTH)).toHaveLength(1);
  });

  it.each([
    ["/v2/nginx/manifests/latest", "MANIFEST_UNKNOWN"],
    [`/v2/nginx/manifests/${DIGEST}`, "MANIFEST_UNKNOWN"],
    [`/v2/nginx/blobs/${DIGEST}`, "BLOB_UNKNOWN"],
    ["/v2/nginx/tags/list", "NAME_UNKNOWN"],
    [`/v2/nginx/referrers/${DIGEST}`, "MANIFEST_UNKNOWN"],
  ])("turns a bare 404 for %s into %s", async (href, code) => {
    registry = () => new Response("404 page not found", { status: 404 });
    expect(await thrown(forwardFor(href).call())).toMatchObject({ code, status: 404 });
  });

  it("turns a 5xx into 502 UNAVAILABLE", async () => {
    registry = () =>
      new Response("<html>", { status: 503, headers: { "content-type": "text/html" } });
    expect(await thrown(forwardFor("/v2/nginx/manifests/latest").call())).toMatchObject({
      code: "UNAVAILABLE",
      status: 502,
    });
  });

  it("records each call in the trace", async () => {
    registry = () => new Response("x", { headers: { "ratelimit-remaining": "42;w=21600" } });
    const { call, trace } = forwardFor("/v2/nginx/manifests/latest");
    await call("HEAD");
    await call();
    expect(trace.upstreamCalls).toBe(2);
    expect(trace.upstreamStatus).toBe(200);
    expect(trace.rateLimitRemaining).toBe(42);
    expect(trace.credential).toBeUndefined();
  });
});

describe("rotation of the owner's credentials", () => {
  const three = { UPSTREAM_CREDENTIALS: '{"docker":["u0:t0","u1:t1","u2:t2"]}' };
  /** The Hub rate limits these users' tokens. */
  const limit = (...users: string[]) => {
    registry = (request) => {
      const user = /^Bearer tok-(\w+)-/.exec(request.headers.get("authorization") ?? "")?.[1];
      return users.includes(user ?? "")
        ? new Response("slow down", { status: 429, headers: { "retry-after": "60" } })
        : new Response("ok");
    };
  };
  const users = () => pulls().map((s) => /^Bearer tok-(\w+)-/.exec(s.headers.authorization!)![1]);

  it("moves past rate-limited pairs to one that works, and says which in the trace", async () => {
    limit("u0", "u1");
    const { call, trace } = forwardFor("/v2/nginx/manifests/latest", { vars: three });
    const response = await call();
    expect(await response.text()).toBe("ok");
    expect(users()).toEqual(["u0", "u1", "u2"]);
    expect(trace.credential).toBe(2);
    expect(trace.upstreamCalls).toBe(1);
  });

  it("tries each pair once, then gives the client the 429", async () => {
    limit("u0", "u1", "u2");
    const error = await thrown(forwardFor("/v2/nginx/manifests/latest", { vars: three }).call());
    expect(error).toMatchObject({ code: "TOOMANYREQUESTS", status: 429 });
    expect(error.headers["retry-after"]).toBe("60");
    expect(users()).toEqual(["u0", "u1", "u2"]);
  });

  it("does not rotate anonymous pulls", async () => {
    registry = () => new Response("", { status: 429 });
    await thrown(forwardFor("/v2/nginx/manifests/latest").call());
    expect(pulls()).toHaveLength(1);
  });

  it("does not retry a client grant", async () => {
    registry = () => new Response("", { status: 429 });
    await thrown(
      forwardFor("/v2/nginx/manifests/latest", {
        vars: three,
        grant: { kind: "client", authorization: "Bearer mine" },
      }).call(),
    );
    expect(pulls()).toHaveLength(1);
  });

  it("keeps pulling with the pair that worked for the rest of the client request", async () => {
    // The cache layer calls forward twice for one client request (a HEAD, then a GET).
    limit("u0");
    const { call } = forwardFor("/v2/nginx/manifests/latest", {
      vars: { UPSTREAM_CREDENTIALS: '{"docker":["u0:t0","u1:t1"]}' },
    });
    expect((await call("HEAD")).status).toBe(200);
    const second = await call().then(
      (r) => r.status,
      (e: RegistryError) => e.status,
    );
    expect(second).toBe(200);
    expect(users().at(-1)).toBe("u1");
  });
});

describe("a redirect target with its own challenge (registry.k8s.io → Artifact Registry)", () => {
  it("gets an anonymous token from that host's realm", async () => {
    const AR = "europe-docker.pkg.dev";
    net.on("registry.k8s.io", (_request, url) =>
      url.pathname === "/v2/"
        ? new Response("{}")
        : new Response(null, {
            status: 307,
            headers: { location: `https://${AR}/v2/p/blobs/${DIGEST}` },
          }),
    );
    net.on(AR, (request, url) => {
      if (url.pathname === "/token") return Response.json({ token: "ar-token" });
      return request.headers.get("authorization") === "Bearer ar-token"
        ? new Response("layer")
        : new Response(null, {
            status: 401,
            headers: { "www-authenticate": `Bearer realm="https://${AR}/token",service="${AR}"` },
          });
    });
    const response = await forwardFor(`https://k8s.example.com/v2/pause/blobs/${DIGEST}`).call();
    expect(await response.text()).toBe("layer");
    expect(net.to(AR, /^\/token$/)[0]!.headers.authorization).toBeUndefined();
  });
});

describe("requestedDigest", () => {
  it.each<[RepositoryEndpoint, string | undefined]>([
    [{ kind: "blob", name: "a", digest: DIGEST }, DIGEST],
    [{ kind: "manifest", name: "a", reference: DIGEST }, DIGEST],
    [{ kind: "manifest", name: "a", reference: "latest" }, undefined],
    [{ kind: "tags", name: "a" }, undefined],
    [{ kind: "referrers", name: "a", digest: DIGEST }, undefined],
  ])("%j names %s", (endpoint, digest) => {
    expect(requestedDigest(endpoint)).toBe(digest);
  });
});
