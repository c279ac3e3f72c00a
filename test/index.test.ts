// Integration: the whole Worker inside workerd, against fake upstreams that count every request.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ANONYMOUS_TOKEN } from "../src/client-auth";
import { escapeHtml } from "../src/help";
import type { Bindings } from "../src/index";
import { callWorker, envWith, errorOf, testEnv } from "./helpers/worker";
import { FakeNet, fakeRegistry, makeImage, type FakeImage } from "./helpers/fake-registry";

const HUB = "registry-1.docker.io";
const HUB_AUTH = "auth.docker.io";
const CDN = "production.cloudflare.docker.com";
const GHCR = "ghcr.io";
const K8S = "registry.k8s.io";

let net: FakeNet;
let nginx: FakeImage;
let privateImage: FakeImage;
let tool: FakeImage;

beforeEach(async () => {
  env = testEnv();
  net = new FakeNet();
  nginx = await makeImage("nginx");
  privateImage = await makeImage("private");
  tool = await makeImage("tool");
  fakeRegistry(net, {
    host: HUB,
    authHost: HUB_AUTH,
    service: "registry.docker.io",
    cdnHost: CDN,
    repositories: { "library/nginx": nginx, "alice/private": privateImage },
    privateRepositories: ["alice/private"],
  });
  fakeRegistry(net, { host: GHCR, authHost: GHCR, repositories: { "org/tool": tool } });
  fakeRegistry(net, { host: K8S, repositories: { pause: tool } });
});

afterEach(() => {
  vi.restoreAllMocks();
  // Whatever a test did, the proxy never talked to a host that is not a configured upstream.
  expect(net.unexpected).toEqual([]);
});

let env: Bindings;
/** Lets clients bring their own registry credentials through the open proxy (sealed tokens). */
const TOKEN_SECRET = "test-token-secret-0123456789";

function call(
  url: string,
  init: RequestInit = {},
  overrides: Partial<Bindings> = {},
): Promise<Response> {
  return callWorker(url, init, envWith(env, overrides));
}

/** Runs the client side of the token dance: the proxy's challenge, then its /v2/auth. */
async function tokenFor(challenge: string, scope: string, init: RequestInit = {}): Promise<string> {
  const realm = /realm="([^"]+)"/.exec(challenge)![1]!;
  const service = /service="([^"]+)"/.exec(challenge)?.[1];
  const url = new URL(realm);
  if (service) url.searchParams.set("service", service);
  url.searchParams.append("scope", scope);
  const response = await call(url.href, init);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { token: string; access_token: string };
  expect(body.access_token).toBe(body.token);
  return body.token;
}

describe("ping", () => {
  it("answers with the upstream's challenge rewritten to the proxy, learned once", async () => {
    for (let i = 0; i < 3; i++) {
      const response = await call("https://docker.example.com/v2/");
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe(
        'Bearer realm="https://docker.example.com/v2/auth",service="registry.docker.io"',
      );
      expect(response.headers.get("docker-distribution-api-version")).toBe("registry/2.0");
      expect((await errorOf(response)).code).toBe("UNAUTHORIZED");
    }
    expect(net.to(HUB, /^\/v2\/$/)).toHaveLength(1);
  });

  it("keeps the client's scheme (wrangler dev is http)", async () => {
    const response = await call("http://127.0.0.1:8787/v2/");
    expect(response.headers.get("www-authenticate")).toMatch(
      /^Bearer realm="http:\/\/127\.0\.0\.1:8787\/v2\/auth"/,
    );
  });

  it("answers 200 for an upstream without auth (registry.k8s.io)", async () => {
    const response = await call("https://k8s.example.com/v2/");
    expect(response.status).toBe(200);
  });

  it("carries ns into the realm so the route survives the token round trip", async () => {
    const response = await call("https://docker.example.com/v2/?ns=ghcr.io");
    expect(response.headers.get("www-authenticate")).toBe(
      'Bearer realm="https://docker.example.com/v2/auth?ns=ghcr.io",service="ghcr.io"',
    );
    expect(response.headers.get("oci-namespace")).toBe("ghcr.io");
  });

  it("forwards a ping with a token it sealed for this registry, so the upstream judges it", async () => {
    env = testEnv({ TOKEN_SECRET });
    const token = await tokenFor(
      'Bearer realm="https://docker.example.com/v2/auth"',
      "repository:alice/private:pull",
      { headers: { authorization: `Basic ${btoa("alice:wonderland")}` } },
    );
    expect(token).toMatch(/^cfrp3\./);
    const response = await call("https://docker.example.com/v2/", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    expect(net.to(HUB, /^\/v2\/$/).at(-1)?.headers.authorization).toBe(
      "Bearer token:alice:repository:alice/private:pull",
    );
  });

  it.each([
    "Bearer junk",
    "Bearer cfrp~ghcr.io~junk",
    "Bearer cfrp~docker.io~junk",
    `Basic ${btoa("alice:wonderland")}`,
  ])(
    "never forwards %s, a token this proxy did not issue for this registry",
    async (authorization) => {
      const response = await call("https://docker.example.com/v2/", { headers: { authorization } });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(
        /^Bearer realm="https:\/\/docker.example.com\/v2\/auth"/,
      );
      expect(net.seen.every((s) => s.headers.authorization === undefined)).toBe(true);
    },
  );
});

describe("anonymous Docker Hub pull by short name", () => {
  it("completes library/, follows the CDN redirect and streams the blob", async () => {
    const ping = await call("https://docker.example.com/v2/");
    const token = await tokenFor(ping.headers.get("www-authenticate")!, "repository:nginx:pull");
    // Anonymous clients get the proxy's token; the upstream's comes on first use.
    expect(token).toBe(ANONYMOUS_TOKEN);
    expect(net.to(HUB_AUTH)).toHaveLength(0);
    const auth = { authorization: `Bearer ${token}` };

    const head = await call("https://docker.example.com/v2/nginx/manifests/latest", {
      method: "HEAD",
      headers: auth,
    });
    expect(head.status).toBe(200);
    expect(head.headers.get("docker-content-digest")).toBe(nginx.manifestDigest);
    expect(head.headers.get("content-length")).toBe(String(nginx.manifest.length));
    expect(await head.text()).toBe("");
    expect(net.to(HUB_AUTH)[0]?.url).toBe(
      `https://${HUB_AUTH}/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull`,
    );

    const manifest = await call(
      `https://docker.example.com/v2/nginx/manifests/${nginx.manifestDigest}`,
      {
        headers: { ...auth, accept: "application/vnd.oci.image.manifest.v1+json" },
      },
    );
    expect(await manifest.text()).toBe(nginx.manifest);
    expect(net.to(HUB, /manifests/).at(-1)?.headers.accept).toBe(
      "application/vnd.oci.image.manifest.v1+json",
    );

    const blob = await call(`https://docker.example.com/v2/nginx/blobs/${nginx.blobDigest}`, {
      headers: auth,
    });
    expect(blob.status).toBe(200);
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(nginx.blob);
    expect(blob.headers.get("docker-content-digest")).toBe(nginx.blobDigest);
    expect(blob.headers.get("content-length")).toBe(String(nginx.blob.length));

    // The registry got the upstream token; the CDN got nothing of the client's or the proxy's.
    expect(
      net.to(HUB, /nginx/).every((s) => s.headers.authorization?.startsWith("Bearer token:anon:")),
    ).toBe(true);
    const [cdn] = net.to(CDN);
    expect(cdn?.headers).not.toHaveProperty("authorization");
    expect(cdn?.headers).not.toHaveProperty("accept");
    expect(cdn?.url).toContain("sig=secret");
  });

  it("fetches one upstream token for ten pulls of a repository", async () => {
    for (let i = 0; i < 10; i++) {
      const manifest = await call("https://docker.example.com/v2/nginx/manifests/latest");
      expect(manifest.status).toBe(200);
      const blob = await call(`https://docker.example.com/v2/nginx/blobs/${nginx.blobDigest}`);
      expect(blob.status).toBe(200);
      await blob.arrayBuffer();
    }
    expect(net.to(HUB_AUTH)).toHaveLength(1);
    expect(net.to(HUB, /^\/v2\/$/)).toHaveLength(1);
  });

  it("serves anonymous requests that skipped the token dance (containerd, curl) directly", async () => {
    const response = await call("https://docker.example.com/v2/library/nginx/manifests/latest");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(nginx.manifest);
  });

  it("resumes a blob with Range across the redirect (206)", async () => {
    const token = await tokenFor(
      'Bearer realm="https://docker.example.com/v2/auth"',
      "repository:library/nginx:pull",
    );
    const response = await call(
      `https://docker.example.com/v2/library/nginx/blobs/${nginx.blobDigest}`,
      {
        headers: { authorization: `Bearer ${token}`, range: "bytes=100-" },
      },
    );
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(
      `bytes 100-${nginx.blob.length - 1}/${nginx.blob.length}`,
    );
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(nginx.blob.slice(100));
    expect(net.to(CDN)[0]?.headers.range).toBe("bytes=100-");
  });

  it("answers an upstream 401 with the proxy's challenge, scope completed, and retries afresh", async () => {
    for (let i = 0; i < 2; i++) {
      const response = await call("https://docker.example.com/v2/private/manifests/latest", {
        headers: { authorization: `Bearer ${ANONYMOUS_TOKEN}` },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe(
        'Bearer realm="https://docker.example.com/v2/auth",service="registry.docker.io",scope="repository:library/private:pull"',
      );
    }
    // A refused anonymous token is not reused.
    expect(net.to(HUB_AUTH)).toHaveLength(2);
  });

  it("passes tag listing through with the Link header pointing back at the proxy", async () => {
    const token = await tokenFor(
      'Bearer realm="https://docker.example.com/v2/auth"',
      "repository:nginx:pull",
    );
    const response = await call("https://docker.example.com/v2/nginx/tags/list?n=1", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await response.json()).toEqual({ name: "library/nginx", tags: ["latest"] });
    expect(response.headers.get("link")).toBe('</v2/nginx/tags/list?last=latest&n=1>; rel="next"');
    expect(net.to(HUB, /tags/)[0]?.url).toBe(`https://${HUB}/v2/library/nginx/tags/list?n=1`);
  });
});

describe("private repositories", () => {
  const basic = `Basic ${btoa("alice:wonderland")}`;
  beforeEach(() => {
    env = testEnv({ TOKEN_SECRET });
  });

  it("sends the client's Basic credentials to the upstream realm only", async () => {
    const token = await tokenFor(
      'Bearer realm="https://docker.example.com/v2/auth"',
      "repository:alice/private:pull",
      {
        headers: { authorization: basic },
      },
    );
    const response = await call("https://docker.example.com/v2/alice/private/manifests/latest", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    expect(net.to(HUB_AUTH)[0]?.headers.authorization).toBe(basic);
    expect(net.to(HUB).every((s) => s.headers.authorization !== basic)).toBe(true);
    expect(net.to(HUB, /manifests/)[0]?.headers.authorization).toBe(
      "Bearer token:alice:repository:alice/private:pull",
    );
  });

  it("never forwards Basic credentials to a registry that uses tokens, on a ping or a pull", async () => {
    for (const path of [
      "/v2/",
      "/v2/alice/private/manifests/latest",
      `/v2/nginx/blobs/${nginx.blobDigest}`,
    ]) {
      const response = await call(`https://docker.example.com${path}`, {
        headers: { authorization: basic },
      });
      expect(response.status, path).toBe(401);
      expect(response.headers.get("www-authenticate"), path).toMatch(
        /^Bearer realm="https:\/\/docker.example.com\/v2\/auth"/,
      );
    }
    expect(net.seen.filter((s) => s.headers.authorization === basic)).toEqual([]);
  });

  it("without TOKEN_SECRET, hands out the anonymous token whatever the credentials", async () => {
    env = testEnv();
    const token = await tokenFor(
      'Bearer realm="https://docker.example.com/v2/auth"',
      "repository:alice/private:pull",
      { headers: { authorization: basic } },
    );
    expect(token).toBe(ANONYMOUS_TOKEN);
    expect(net.to(HUB_AUTH)).toHaveLength(0);
  });

  it("forwards only tokens it sealed, for the registry they were sealed for, until they expire", async () => {
    const token = await tokenFor(
      'Bearer realm="https://docker.example.com/v2/auth"',
      "repository:alice/private:pull",
      { headers: { authorization: basic } },
    );
    const tampered = token.slice(0, -2) + (token.endsWith("A") ? "BB" : "AA");
    const otherSecret = envWith(env, { TOKEN_SECRET: "another-deployment-secret" });
    for (const [authorization, which] of [
      [`Bearer ${tampered}`, env],
      [`Bearer ${token}`, otherSecret],
    ] as const) {
      const response = await callWorker(
        "https://docker.example.com/v2/alice/private/manifests/latest",
        { headers: { authorization } },
        which,
      );
      expect(response.status).toBe(401);
    }
    const ghcr = await call("https://docker.example.com/v2/ghcr.io/org/tool/manifests/latest", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ghcr.status).toBe(401);
    expect(net.seen.filter((s) => s.headers.authorization?.includes("token:alice"))).toEqual([]);
  });

  it("turns containerd's OAuth2 POST form into a token request with Basic credentials", async () => {
    const response = await call("https://docker.example.com/v2/auth", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=password&username=alice&password=wonderland&client_id=containerd-client&service=registry.docker.io&scope=repository%3Aalice%2Fprivate%3Apull",
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string };
    expect(body.access_token).toMatch(/^cfrp3\./);
    expect(net.to(HUB_AUTH)[0]?.headers.authorization).toBe(basic);
    const pulled = await call("https://docker.example.com/v2/alice/private/manifests/latest", {
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    expect(pulled.status).toBe(200);
  });

  it("answers an unknown grant with 400 so containerd falls back to GET", async () => {
    const response = await call("https://docker.example.com/v2/auth", {
      method: "POST",
      body: "grant_type=refresh_token&refresh_token=x",
    });
    expect(response.status).toBe(400);
    expect(net.to(HUB_AUTH)).toHaveLength(0);
  });

  it("reports wrong credentials as UNAUTHORIZED with the upstream's message", async () => {
    const response = await call(
      "https://docker.example.com/v2/auth?scope=repository:alice/private:pull",
      {
        headers: { authorization: `Basic ${btoa("alice:wrong")}` },
      },
    );
    expect(response.status).toBe(401);
    expect(await errorOf(response)).toMatchObject({
      code: "UNAUTHORIZED",
      detail: "incorrect username or password",
    });
  });
});

describe("routing modes", () => {
  beforeEach(() => {
    env = testEnv({ TOKEN_SECRET });
  });
  it("routes containerd's ns=ghcr.io through the token flow to ghcr", async () => {
    const url = "https://docker.example.com/v2/org/tool/manifests/latest?ns=ghcr.io";
    const ping = await call("https://docker.example.com/v2/?ns=ghcr.io");
    const challenge = ping.headers.get("www-authenticate")!;
    expect(challenge).toBe(
      'Bearer realm="https://docker.example.com/v2/auth?ns=ghcr.io",service="ghcr.io"',
    );
    // containerd sends its credentials as an OAuth2 form to the realm, which still carries ns.
    const realm = /realm="([^"]+)"/.exec(challenge)![1]!;
    const tokenResponse = await call(realm, {
      method: "POST",
      body: "grant_type=password&username=alice&password=wonderland&service=ghcr.io&scope=repository%3Aorg%2Ftool%3Apull",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    const { access_token } = (await tokenResponse.json()) as { access_token: string };
    // The upstream's token, sealed with the registry it may be sent to.
    expect(access_token).toMatch(/^cfrp3\./);
    expect(net.to(GHCR, /token/)).toHaveLength(1);

    const response = await call(url, { headers: { authorization: `Bearer ${access_token}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("oci-namespace")).toBe("ghcr.io");
    expect(await response.text()).toBe(tool.manifest);
    expect(net.to(GHCR, /manifests/)[0]?.headers.authorization).toBe(
      "Bearer token:alice:repository:org/tool:pull",
    );
    expect(net.to(HUB, /org\/tool/)).toHaveLength(0);

    const anonymous = await call(url);
    expect(await anonymous.text()).toBe(tool.manifest);
  });

  it("routes a /v2/ghcr.io/... path prefix, in the path and in the scope", async () => {
    const url = "https://proxy.example.workers.dev/v2/ghcr.io/org/tool/manifests/latest";
    // Docker takes the realm from its /v2/ ping (the default route) and sends the prefixed scope.
    const token = await tokenFor(
      'Bearer realm="https://proxy.example.workers.dev/v2/auth",service="registry.docker.io"',
      "repository:ghcr.io/org/tool:pull",
      { headers: { authorization: `Basic ${btoa("alice:wonderland")}` } },
    );
    expect(new URL(net.to(GHCR, /token/)[0]!.url).searchParams.getAll("scope")).toEqual([
      "repository:org/tool:pull",
    ]);
    const response = await call(url, { headers: { authorization: `Bearer ${token}` } });
    expect(await response.text()).toBe(tool.manifest);
  });

  it("routes by the host's first label", async () => {
    const token = await tokenFor(
      'Bearer realm="https://ghcr.example.com/v2/auth"',
      "repository:org/tool:pull",
    );
    const response = await call("https://ghcr.example.com/v2/org/tool/manifests/latest", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
  });

  it("hands out a placeholder token for upstreams without auth and never forwards it", async () => {
    const token = await tokenFor(
      'Bearer realm="https://proxy.example.com/v2/auth"',
      "repository:registry.k8s.io/pause:pull",
    );
    const response = await call(
      "https://proxy.example.com/v2/registry.k8s.io/pause/manifests/latest",
      {
        headers: { authorization: `Bearer ${token}` },
      },
    );
    expect(response.status).toBe(200);
    expect(net.to(K8S, /manifests/)[0]?.headers).not.toHaveProperty("authorization");
  });

  it("challenges a prefixed private pull with ns on the realm", async () => {
    fakeRegistry(net, {
      host: GHCR,
      authHost: GHCR,
      repositories: { "org/tool": tool },
      privateRepositories: ["org/tool"],
    });
    const response = await call(
      "https://proxy.example.workers.dev/v2/ghcr.io/org/tool/manifests/latest",
    );
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(
      'Bearer realm="https://proxy.example.workers.dev/v2/auth?ns=ghcr.io",service="ghcr.io",scope="repository:org/tool:pull"',
    );
  });

  it("keeps library/ completion and ns=docker.io when UPSTREAMS moves Docker Hub", async () => {
    net.on("127.0.0.1:5000", (request, url) => {
      const hub = new URL(url.pathname + url.search, `https://${HUB}`);
      return fetch(new Request(hub, request));
    });
    const env = { UPSTREAMS: '{"docker":"http://127.0.0.1:5000"}' };
    const response = await call(
      "http://127.0.0.1:8787/v2/nginx/manifests/latest?ns=docker.io",
      {},
      env,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("oci-namespace")).toBe("docker.io");
    expect(net.to("127.0.0.1:5000", /manifests/)[0]?.url).toBe(
      "http://127.0.0.1:5000/v2/library/nginx/manifests/latest",
    );
  });

  it("refuses an ns or prefix that is not a configured upstream without contacting anyone", async () => {
    for (const url of [
      "https://docker.example.com/v2/org/tool/manifests/latest?ns=evil.example.com",
      "https://docker.example.com/v2/evil.example.com/org/tool/manifests/latest",
      "https://docker.example.com/v2/?ns=evil.example.com",
      "https://docker.example.com/v2/auth?ns=evil.example.com&scope=repository:a:pull",
      "https://docker.example.com/v2/auth?scope=repository:evil.example.com/a:pull",
    ]) {
      const response = await call(url);
      expect(response.status, url).toBe(404);
      expect((await errorOf(response)).code).toBe("NAME_UNKNOWN");
    }
    expect(net.seen).toHaveLength(0);
  });

  it("refuses one token request that spans two upstreams", async () => {
    const response = await call(
      "https://docker.example.com/v2/auth?scope=repository:nginx:pull&scope=repository:ghcr.io/org/tool:pull",
    );
    expect(response.status).toBe(403);
    expect((await errorOf(response)).code).toBe("DENIED");
  });
});

describe("errors", () => {
  it.each(["PUT", "POST", "PATCH", "DELETE", "OPTIONS"])(
    "refuses %s with 405 UNSUPPORTED",
    async (method) => {
      const response = await call("https://docker.example.com/v2/nginx/manifests/latest", {
        method,
      });
      expect(response.status).toBe(405);
      expect((await errorOf(response)).code).toBe("UNSUPPORTED");
      expect(net.seen).toHaveLength(0);
    },
  );

  it.each([
    ["/v2/Nginx/manifests/latest", 400, "NAME_INVALID"],
    ["/v2/nginx/manifests/-bad", 404, "MANIFEST_UNKNOWN"],
    ["/v2/nginx/manifests/.INVALID_MANIFEST_NAME", 404, "MANIFEST_UNKNOWN"],
    ["/v2/nginx/blobs/sha256:short", 400, "DIGEST_INVALID"],
    ["/v2/_catalog", 404, "NOT_FOUND"],
    ["/robots.txt", 404, "NOT_FOUND"],
    ["/v2/nginx/blobs/uploads/", 405, "UNSUPPORTED"],
  ])("answers %s with %i %s in OCI format, contacting no one", async (path, status, code) => {
    const response = await call(`https://docker.example.com${path}`);
    expect(response.status).toBe(status);
    expect((await errorOf(response)).code).toBe(code);
    expect(net.seen).toHaveLength(0);
  });

  it("sends HEAD errors without a body", async () => {
    const response = await call("https://docker.example.com/v2/_catalog", { method: "HEAD" });
    expect(response.status).toBe(404);
    expect(await response.text()).toBe("");
  });

  it("passes the upstream's OCI 404", async () => {
    const token = await tokenFor(
      'Bearer realm="https://docker.example.com/v2/auth"',
      "repository:nginx:pull",
    );
    const response = await call("https://docker.example.com/v2/nginx/manifests/missing", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toMatchObject({
      code: "MANIFEST_UNKNOWN",
      message: "manifest unknown",
    });
  });

  it("turns a CDN's XML error page into BLOB_UNKNOWN", async () => {
    net.on(
      CDN,
      () =>
        new Response("<Error><Code>NoSuchKey</Code></Error>", {
          status: 404,
          headers: { "content-type": "application/xml" },
        }),
    );
    const token = await tokenFor(
      'Bearer realm="https://docker.example.com/v2/auth"',
      "repository:nginx:pull",
    );
    const response = await call(`https://docker.example.com/v2/nginx/blobs/${nginx.blobDigest}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(404);
    expect((await errorOf(response)).code).toBe("BLOB_UNKNOWN");
  });

  it("passes 429 as TOOMANYREQUESTS with Retry-After and rate-limit headers", async () => {
    // Docker Hub counts (and limits) manifest GETs; its ping stays open.
    net.on(HUB, (_, url) =>
      url.pathname === "/v2/"
        ? new Response("{}")
        : new Response("<html>slow down</html>", {
            status: 429,
            headers: {
              "retry-after": "60",
              "ratelimit-remaining": "0;w=21600",
              "content-type": "text/html",
            },
          }),
    );
    const response = await call("https://docker.example.com/v2/nginx/manifests/latest");
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("60");
    expect(response.headers.get("ratelimit-remaining")).toBe("0;w=21600");
    expect(await errorOf(response)).toMatchObject({
      code: "TOOMANYREQUESTS",
      detail: { status: 429, contentType: "text/html" },
    });
  });

  it("answers 502 when the upstream fails and 504 when it is too slow", async () => {
    net.on(
      HUB,
      () =>
        new Response("<html>bad gateway</html>", {
          status: 503,
          headers: { "content-type": "text/html" },
        }),
    );
    const failed = await call("https://docker.example.com/v2/nginx/manifests/latest");
    expect(failed.status).toBe(502);
    expect((await errorOf(failed)).code).toBe("UNAVAILABLE");

    net.on(
      HUB,
      (request) =>
        new Promise((_, reject) =>
          request.signal.addEventListener("abort", () => reject(new Error("aborted"))),
        ),
    );
    const started = Date.now();
    const slow = await call(
      "https://docker.example.com/v2/nginx/manifests/latest",
      {},
      { UPSTREAM_TIMEOUT_MS: "200" },
    );
    expect(slow.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await errorOf(slow)).toMatchObject({ code: "UNAVAILABLE", detail: { host: HUB } });
  });

  it("answers 502 when the upstream refuses the connection", async () => {
    const env = { UPSTREAMS: '{"dead":"http://127.0.0.1:9"}' };
    net.on("127.0.0.1:9", () => Promise.reject(new TypeError("connection refused")));
    const response = await call("https://dead.example.com/v2/x/manifests/latest", {}, env);
    expect(response.status).toBe(502);
    expect(await errorOf(response)).toMatchObject({
      code: "UNAVAILABLE",
      message: "upstream is unreachable",
    });
  });

  it("stops following a redirect loop", async () => {
    net.on(
      CDN,
      (request) => new Response(null, { status: 302, headers: { location: request.url } }),
    );
    const token = await tokenFor(
      'Bearer realm="https://docker.example.com/v2/auth"',
      "repository:nginx:pull",
    );
    const response = await call(`https://docker.example.com/v2/nginx/blobs/${nginx.blobDigest}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(502);
    expect(net.to(CDN).length).toBe(5);
  });

  it("reports a broken configuration clearly", async () => {
    const response = await call("https://docker.example.com/v2/", {}, { UPSTREAMS: "{oops" });
    expect(response.status).toBe(500);
    expect(await errorOf(response)).toMatchObject({
      message: "the proxy is misconfigured",
      detail: [expect.stringMatching(/UPSTREAMS: not valid JSON/)],
    });
  });
});

describe("help page", () => {
  it("shows the daemon.json mirror, prefixed pulls and client configs for this host", async () => {
    const response = await call("https://docker.example.com/");
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain(
      "&quot;registry-mirrors&quot;: [\n    &quot;https://docker.example.com&quot;",
    );
    expect(html).toContain("docker pull docker.example.com/ghcr.io/org/image:tag");
    expect(html).toContain("docker pull docker.example.com/nginx:latest");
    expect(html).toContain("docker pull ghcr.example.com/org/image:tag");
    expect(html).toContain("hosts.toml");
    expect(html).toContain("registries.conf");
    expect(html).not.toContain("Log in first");
    expect(net.seen).toHaveLength(0);
  });

  it("tells users to log in when the proxy requires it, escaping the host it shows", async () => {
    const html = await (
      await call("https://docker.example.com/", {}, { PROXY_USERS: "a:b" })
    ).text();
    expect(html).toContain("docker login docker.example.com");
    expect(escapeHtml(`<img src=x onerror="alert('1')">&`)).toBe(
      "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;",
    );
  });
});
