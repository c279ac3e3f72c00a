// Access control, the owner's upstream credentials, and credential hygiene, through the whole Worker.
import { env as testBindings } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ANONYMOUS_TOKEN } from "../src/client-auth";
import type { Bindings } from "../src/index";
import { FakeNet, fakeRegistry, makeImage, type FakeImage } from "./helpers/fake-registry";
import { callWorker, envWith, errorOf, testEnv } from "./helpers/worker";

const HUB = "registry-1.docker.io";
const HUB_AUTH = "auth.docker.io";
const CDN = "production.cloudflare.docker.com";
const GHCR = "ghcr.io";
const PROXY = "https://docker.example.com";
const basic = (pair: string) => `Basic ${btoa(pair)}`;

let net: FakeNet;
let env: Bindings;
let nginx: FakeImage;
let secret: FakeImage;

beforeEach(async () => {
  net = new FakeNet();
  env = testEnv({
    CACHE_BUCKET: (testBindings as unknown as { CACHE_BUCKET: R2Bucket }).CACHE_BUCKET,
  });
  nginx = await makeImage(`nginx-${env.CACHE_NAMESPACE}`);
  secret = await makeImage(`secret-${env.CACHE_NAMESPACE}`);
  fakeRegistry(net, {
    host: HUB,
    authHost: HUB_AUTH,
    service: "registry.docker.io",
    cdnHost: CDN,
    repositories: { "library/nginx": nginx, "owner/private": secret },
    privateRepositories: ["owner/private"],
    users: { owner: "hub-token-1", spare: "hub-token-2", alice: "wonderland" },
  });
  fakeRegistry(net, { host: GHCR, authHost: GHCR, repositories: { "org/tool": nginx } });
});

/** Lets clients bring their own registry credentials through the open proxy (sealed tokens). */
const TOKEN_SECRET = "test-token-secret-0123456789";

afterEach(() => {
  vi.restoreAllMocks();
  expect(net.unexpected).toEqual([]);
});

const call = (path: string, init: RequestInit = {}, overrides: Partial<Bindings> = {}) =>
  callWorker(`${PROXY}${path}`, init, envWith(env, overrides));

/** The one answer a locked proxy gives every request without a valid login. */
const LOCKED_CHALLENGE = 'Bearer realm="https://docker.example.com/v2/auth"';

describe("PROXY_USERS", () => {
  const users = { PROXY_USERS: "alice:wonderland,bob:builder" };
  const login = async (pair: string) => {
    const response = await call(
      "/v2/auth?service=registry.docker.io&scope=repository:nginx:pull",
      {
        headers: { authorization: basic(pair) },
      },
      users,
    );
    return {
      response,
      token: response.ok ? ((await response.json()) as { token: string }).token : "",
    };
  };

  it("makes docker login work: challenge, token for a user, 200 with it", async () => {
    const ping = await call("/v2/", {}, users);
    expect(ping.status).toBe(401);
    expect(ping.headers.get("www-authenticate")).toMatch(
      /^Bearer realm="https:\/\/docker.example.com\/v2\/auth"/,
    );
    const { response, token } = await login("bob:builder");
    expect(response.status).toBe(200);
    expect(token).toMatch(/^cfrp2\./);
    const checked = await call("/v2/", { headers: { authorization: `Bearer ${token}` } }, users);
    expect(checked.status).toBe(200);
  });

  it("pulls for a logged-in user and refuses everyone else before any upstream request", async () => {
    const { token } = await login("alice:wonderland");
    const pulled = await call(
      "/v2/nginx/manifests/latest",
      { headers: { authorization: `Bearer ${token}` } },
      users,
    );
    expect(pulled.status).toBe(200);
    expect(await pulled.text()).toBe(nginx.manifest);

    const before = net.seen.length;
    for (const authorization of [
      undefined,
      "Bearer cf-registry-proxy.anonymous",
      `Bearer ${token.slice(0, -4)}AAAA`,
      basic("alice:wonderland"),
      "Bearer cfrp~docker.io~token:anon:repository:library/nginx:pull",
    ]) {
      const refused = await call(
        "/v2/nginx/manifests/latest",
        { headers: authorization ? { authorization } : {} },
        users,
      );
      expect(refused.status, authorization).toBe(401);
      expect((await errorOf(refused)).code).toBe("UNAUTHORIZED");
      expect(refused.headers.get("www-authenticate")).toBe(LOCKED_CHALLENGE);
    }
    expect(net.seen.length).toBe(before);
  });

  it.each(["alice:wrong", "mallory:wonderland", "alice"])("refuses the login %s", async (pair) => {
    const { response } = await login(pair);
    expect(response.status).toBe(401);
    expect((await errorOf(response)).code).toBe("UNAUTHORIZED");
    expect(net.to(HUB_AUTH)).toHaveLength(0);
  });

  it("accepts containerd's OAuth2 form as a login", async () => {
    const response = await call(
      "/v2/auth",
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=password&username=bob&password=builder&scope=repository%3Anginx%3Apull",
      },
      users,
    );
    expect(((await response.json()) as { access_token: string }).access_token).toMatch(/^cfrp2\./);
  });
});

describe("ALLOW and BLOCK", () => {
  const lists = {
    ALLOW: "docker.io/library/*,ghcr.io/org/*",
    BLOCK: "docker.io/library/nginx-evil",
  };

  it.each([
    ["by host", `/v2/someone/tool/manifests/latest`],
    ["by ns", `/v2/other/tool/manifests/latest?ns=ghcr.io`],
    ["by path prefix", `/v2/ghcr.io/other/tool/manifests/latest`],
    ["when blocked", `/v2/nginx-evil/manifests/latest`],
    ["in a token scope", `/v2/auth?scope=repository:ghcr.io/other/tool:pull`],
  ])("refuses a name %s with DENIED before any upstream request", async (_, path) => {
    const response = await call(path, {}, lists);
    expect(response.status).toBe(403);
    expect(await errorOf(response)).toMatchObject({
      code: "DENIED",
      message: expect.stringMatching(/allow list|blocked/),
    });
    expect(net.seen).toHaveLength(0);
  });

  it("serves what the lists allow", async () => {
    expect((await call("/v2/nginx/manifests/latest", {}, lists)).status).toBe(200);
    expect((await call("/v2/org/tool/manifests/latest?ns=ghcr.io", {}, lists)).status).toBe(200);
  });
});

describe("UPSTREAM_CREDENTIALS", () => {
  const owner = {
    PROXY_USERS: "alice:wonderland",
    UPSTREAM_CREDENTIALS: JSON.stringify({ docker: ["owner:hub-token-1", "spare:hub-token-2"] }),
  };
  const loggedIn = async () => {
    const response = await call(
      "/v2/auth",
      { headers: { authorization: basic("alice:wonderland") } },
      owner,
    );
    return { authorization: `Bearer ${((await response.json()) as { token: string }).token}` };
  };

  it("pulls with the owner's account for logged-in users, the owner's private images included", async () => {
    const headers = await loggedIn();
    const response = await call("/v2/owner/private/manifests/latest", { headers }, owner);
    expect(response.status).toBe(200);
    const credentials = net.to(HUB_AUTH).map((s) => s.headers.authorization);
    expect(
      credentials.every(
        (c) => c === basic("owner:hub-token-1") || c === basic("spare:hub-token-2"),
      ),
    ).toBe(true);
    // Proxy users' passwords never reach the upstream.
    expect(net.seen.some((s) => s.headers.authorization === basic("alice:wonderland"))).toBe(false);
  });

  it("rotates to another pair when one is rate limited", async () => {
    const headers = await loggedIn();
    const pulled = new Set<string>();
    net.on(HUB, (request, url) => {
      if (url.pathname === "/v2/")
        return new Response("{}", {
          status: 401,
          headers: {
            "www-authenticate": `Bearer realm="https://${HUB_AUTH}/token",service="registry.docker.io"`,
          },
        });
      const user =
        /^Bearer token:(\w+):/.exec(request.headers.get("authorization") ?? "")?.[1] ?? "none";
      pulled.add(user);
      if (user === "owner")
        return new Response("slow down", { status: 429, headers: { "retry-after": "3600" } });
      return new Response(nginx.manifest, {
        headers: {
          "docker-content-digest": nginx.manifestDigest,
          "content-type": "application/vnd.oci.image.manifest.v1+json",
          "content-length": String(nginx.manifest.length),
        },
      });
    });
    for (let i = 0; i < 4; i++) {
      const response = await call("/v2/nginx/manifests/latest", { headers }, owner);
      expect(response.status).toBe(200);
    }
    expect([...pulled].sort()).toEqual(["owner", "spare"]);
    // Once rested, the limited pair is not asked again.
    const manifestRequests = net
      .to(HUB, /manifests/)
      .map((s) => /token:(\w+)/.exec(s.headers.authorization ?? "")?.[1]);
    expect(manifestRequests.filter((u) => u === "owner")).toHaveLength(1);
  });

  it("keeps what it pulled with the owner's account apart from public content", async () => {
    const headers = await loggedIn();
    await call(`/v2/owner/private/blobs/${secret.blobDigest}`, { headers }, owner);
    expect(
      (await call(`/v2/owner/private/blobs/${secret.blobDigest}`, { headers }, owner)).headers.get(
        "x-cache",
      ),
    ).toBe("HIT");
    // The same deployment without the owner's account (or with access control removed) cannot read it.
    const open = await call(`/v2/owner/private/blobs/${secret.blobDigest}`);
    expect(open.status).toBe(401);
  });
});

describe("credential hygiene", () => {
  beforeEach(() => {
    env = { ...env, TOKEN_SECRET };
  });

  it("never sends a token to an upstream other than the one that issued it", async () => {
    const auth = await call("/v2/auth?scope=repository:ghcr.io/org/tool:pull", {
      headers: { authorization: basic("alice:wonderland") },
    });
    const { token } = (await auth.json()) as { token: string };
    expect(token).toMatch(/^cfrp3\./);
    const misdirected = await call("/v2/nginx/manifests/latest", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(misdirected.status).toBe(401);
    expect(net.to(HUB).some((s) => s.headers.authorization?.includes("token:alice"))).toBe(false);
    // Where it belongs, it works.
    const used = await call("/v2/ghcr.io/org/tool/manifests/latest", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(used.status).toBe(200);
  });

  it("never uses one client's upstream token for another client", async () => {
    const asAlice = await call("/v2/auth?scope=repository:owner/private:pull", {
      headers: { authorization: basic("alice:wonderland") },
    });
    const aliceToken = ((await asAlice.json()) as { token: string }).token;
    const asOwner = await call("/v2/auth?scope=repository:owner/private:pull", {
      headers: { authorization: basic("owner:hub-token-1") },
    });
    const ownerToken = ((await asOwner.json()) as { token: string }).token;
    expect(ownerToken).not.toBe(aliceToken);
    expect(net.to(HUB_AUTH)).toHaveLength(2);
    // An anonymous client does not get either of them.
    const anonymous = await call("/v2/owner/private/manifests/latest");
    expect(anonymous.status).toBe(401);
    expect(net.to(HUB, /manifests/).at(-1)?.headers.authorization).toMatch(/^Bearer token:anon:/);
  });

  it("never writes a credential or token to a log line", async () => {
    const lines: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation(
        (...args: unknown[]) => void lines.push(args.map(String).join(" ")),
      );
    }
    // Everything that can log: failing storage, failing upstreams, a broken config.
    vi.spyOn(caches.default, "match").mockRejectedValue(new Error("no cache"));
    const headers = { authorization: basic("alice:wonderland") };
    const auth = await call("/v2/auth?scope=repository:owner/private:pull", { headers });
    const { token } = (await auth.json()) as { token: string };
    await call(`/v2/owner/private/manifests/latest`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await call(`/v2/owner/private/blobs/${secret.blobDigest}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    net.on(HUB, () => Promise.reject(new TypeError("connection reset")));
    await call(`/v2/owner/private/manifests/latest`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await call("/v2/", {}, { UPSTREAMS: "{broken", PROXY_USERS: "alice:wonderland" });

    expect(lines.length).toBeGreaterThan(0);
    const secrets = [
      "wonderland",
      btoa("alice:wonderland"),
      token,
      "token:alice",
      "hub-token",
      TOKEN_SECRET,
    ];
    for (const line of lines) for (const s of secrets) expect(line).not.toContain(s);
  });
});

describe("a locked proxy before the login", () => {
  const locked = {
    PROXY_USERS: "alice:wonderland",
    ALLOW: "docker.io/library/*",
    UPSTREAMS: JSON.stringify({
      internal: { url: "https://registry.corp.internal", registry: "registry.corp.internal" },
    }),
  };

  it("answers every request with the same 401, before any policy decision or upstream request", async () => {
    const challenges = new Set<string | null>();
    const bodies = new Set<string>();
    for (const [path, init] of [
      ["/v2/", {}],
      ["/v2/?ns=ghcr.io", {}],
      ["/v2/?ns=evil.example.com", {}],
      ["/v2/nginx/manifests/latest", {}],
      ["/v2/someone/else/manifests/latest", {}],
      [`/v2/ghcr.io/org/tool/blobs/sha256:${"0".repeat(64)}`, {}],
      ["/v2/registry.corp.internal/team/app/manifests/v1", {}],
      ["/v2/evil.example.com/x/manifests/v1", {}],
      ["/v2/Not_A_Name/manifests/latest", {}],
      ["/v2/nginx/manifests/latest", { method: "PUT" }],
      ["/v2/_catalog", {}],
      ["/v2/nginx/manifests/latest", { headers: { authorization: `Bearer ${ANONYMOUS_TOKEN}` } }],
      ["/v2/nginx/manifests/latest", { headers: { authorization: basic("alice:wonderland") } }],
    ] as const) {
      const response = await call(path, init, locked);
      expect(response.status, path).toBe(401);
      challenges.add(response.headers.get("www-authenticate"));
      bodies.add(await response.text());
    }
    expect([...challenges]).toEqual([LOCKED_CHALLENGE]);
    expect(bodies.size).toBe(1);
    expect(net.seen).toEqual([]);
  });

  it("decides the policy only after the login", async () => {
    const login = await call(
      "/v2/auth",
      { headers: { authorization: basic("alice:wonderland") } },
      locked,
    );
    const { token } = (await login.json()) as { token: string };
    const headers = { authorization: `Bearer ${token}` };
    expect((await call("/v2/nginx/manifests/latest", { headers }, locked)).status).toBe(200);
    const refused = await call("/v2/someone/else/manifests/latest", { headers }, locked);
    expect(refused.status).toBe(403);
    expect((await errorOf(refused)).code).toBe("DENIED");
  });

  it("shows how to log in on its help page, and nothing of UPSTREAMS", async () => {
    const page = await (await call("/", {}, locked)).text();
    expect(page).toContain("docker login docker.example.com");
    expect(page).not.toMatch(/corp\.internal|internal/);
  });
});

describe("owner credentials under a rate limit", () => {
  const owner = {
    PROXY_USERS: "alice:wonderland",
    UPSTREAM_CREDENTIALS: JSON.stringify({ docker: ["owner:hub-token-1", "spare:hub-token-2"] }),
  };

  it.each(["0.000000001", "0", "-1", "1e-9", "Wed, 21 Oct 2015 07:28:00 GMT", "soon"])(
    "tries each pair at most once per client request, whatever Retry-After says (%s)",
    async (retryAfter) => {
      const login = await call(
        "/v2/auth",
        { headers: { authorization: basic("alice:wonderland") } },
        owner,
      );
      const headers = {
        authorization: `Bearer ${((await login.json()) as { token: string }).token}`,
      };
      net.on(HUB, (request, url) =>
        url.pathname === "/v2/"
          ? new Response("{}", {
              status: 401,
              headers: {
                "www-authenticate": `Bearer realm="https://${HUB_AUTH}/token",service="registry.docker.io"`,
              },
            })
          : new Response("slow down", { status: 429, headers: { "retry-after": retryAfter } }),
      );
      const response = await call("/v2/nginx/manifests/latest", { headers }, owner);
      expect(response.status).toBe(429);
      expect(net.to(HUB, /manifests/)).toHaveLength(2);
      // The next request finds both pairs resting: it tries one, once.
      await call("/v2/nginx/manifests/latest", { headers }, owner);
      expect(net.to(HUB, /manifests/)).toHaveLength(3);
    },
  );
});

describe("nothing private in errors and pages", () => {
  it("names the variable and the kind of problem, never a value", async () => {
    const response = await call(
      "/v2/",
      {},
      {
        UPSTREAM_CREDENTIALS: '{"hubuser:dckr_pat_SECRET": ["x"]}',
        PROXY_USERS: "alice:wonderland,alice:hunter2,nocolon",
        UPSTREAMS:
          '{"internal":"ftp://registry.corp.internal:5000/x","Bad Route":"https://secret-host.corp"}',
        DEFAULT_ROUTE: "internal-secret-route",
        ALLOW: "docker.io/SECRET<glob>",
      },
    );
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text).errors[0].detail.length).toBeGreaterThanOrEqual(5);
    for (const secret of [
      "dckr_pat",
      "hubuser",
      "hunter2",
      "wonderland",
      "alice",
      "nocolon",
      "corp",
      "internal",
      "Bad Route",
      "SECRET",
    ]) {
      expect(text, secret).not.toContain(secret);
    }
  });

  it("marks every answer nosniff with a restrictive CSP, upstream HTML included", async () => {
    net.on(HUB, (request, url) =>
      url.pathname === "/v2/"
        ? new Response("{}")
        : new Response("<script>alert(1)</script>", { headers: { "content-type": "text/html" } }),
    );
    for (const path of ["/v2/nginx/tags/list", "/v2/", "/v2/nope/../x", "/"]) {
      const response = await call(path);
      expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(response.headers.get("content-security-policy"), path).toMatch(/default-src 'none'/);
    }
    const html = await call("/v2/nginx/tags/list");
    expect(html.headers.get("content-type")).toBe("text/html");
    expect(html.headers.get("content-security-policy")).toContain("sandbox");
  });
});
