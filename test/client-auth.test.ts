import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ANONYMOUS_TOKEN,
  clientGrant,
  proxyChallenge,
  requireLogin,
  rewriteChallenge,
} from "../src/client-auth";
import type { ConfigVars } from "../src/config";
import { RegistryError } from "../src/errors";
import { isolateFor } from "../src/isolate";
import { issueProxyToken } from "../src/login";
import { resolveRepository, requestTarget, type RepositoryTarget } from "../src/routing";
import { sealToken } from "../src/sealed-token";
import { FakeNet } from "./helpers/fake-registry";

const PROXY = "https://docker.example.com";
const TOKEN_SECRET = "test-token-secret-0123456789";
/** A registry that only speaks Basic, added as a route of its own. */
const UPSTREAMS = JSON.stringify({
  plain: { url: "https://plain.example", registry: "plain.example" },
});

let net: FakeNet;
beforeEach(() => {
  net = new FakeNet();
  net.on(
    "registry-1.docker.io",
    () =>
      new Response("{}", {
        status: 401,
        headers: {
          "www-authenticate":
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
        },
      }),
  );
  net.on(
    "plain.example",
    () =>
      new Response("{}", { status: 401, headers: { "www-authenticate": 'Basic realm="plain"' } }),
  );
});
afterEach(() => {
  vi.restoreAllMocks();
  expect(net.unexpected).toEqual([]);
});

/** A fresh isolate (fresh env object) for these vars. */
const isolate = (vars: ConfigVars = {}) => isolateFor({ UPSTREAMS, ...vars });

function target(vars: ConfigVars, path: string, name: string): RepositoryTarget {
  return resolveRepository(isolate(vars).config, new URL(path, PROXY), name);
}

async function thrown(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

describe("proxyChallenge", () => {
  const config = isolate().config;
  const at = (href: string) => new URL(href);

  it("points the realm at this host's /v2/auth, on the scheme the client used", () => {
    expect(proxyChallenge(at(`${PROXY}/v2/?x=1#y`), undefined)).toBe(
      `Bearer realm="${PROXY}/v2/auth"`,
    );
    expect(proxyChallenge(at("http://127.0.0.1:8787/v2/"), undefined)).toBe(
      'Bearer realm="http://127.0.0.1:8787/v2/auth"',
    );
  });

  it.each([
    ["host", `${PROXY}/v2/`, "ghcr", ""],
    ["default", "https://proxy.workers.dev/v2/", "docker", ""],
    ["ns", `${PROXY}/v2/?ns=ghcr.io`, "ghcr", "?ns=ghcr.io"],
  ])(
    "adds ns to the realm only when the host would not pick the upstream (%s)",
    (via, href, route, ns) => {
      const url = at(href);
      const chosen =
        via === "ns"
          ? requestTarget(config, url)
          : { upstream: config.byRoute.get(route)!, via: via as "host" };
      expect(chosen.via).toBe(via);
      expect(proxyChallenge(url, chosen)).toBe(`Bearer realm="${url.origin}/v2/auth${ns}"`);
    },
  );

  it("adds ns for a path prefix, with the registry's canonical name", () => {
    const url = at(`${PROXY}/v2/index.docker.io/library/nginx/manifests/1`);
    const prefixed = resolveRepository(config, url, "index.docker.io/library/nginx");
    expect(prefixed.via).toBe("prefix");
    expect(proxyChallenge(url, prefixed)).toBe(`Bearer realm="${PROXY}/v2/auth?ns=docker.io"`);
  });

  it("writes service, scope and error in that order, skipping absent ones", () => {
    expect(
      proxyChallenge(at(`${PROXY}/v2/`), undefined, {
        error: "insufficient_scope",
        scope: "repository:library/nginx:pull",
        service: "registry.docker.io",
      }),
    ).toBe(
      `Bearer realm="${PROXY}/v2/auth",service="registry.docker.io",scope="repository:library/nginx:pull",error="insufficient_scope"`,
    );
    expect(proxyChallenge(at(`${PROXY}/v2/`), undefined, { scope: "s" })).toBe(
      `Bearer realm="${PROXY}/v2/auth",scope="s"`,
    );
  });
});

describe("rewriteChallenge", () => {
  const url = new URL(`${PROXY}/v2/ghcr.io/org/tool/manifests/1`);
  const prefixed = resolveRepository(isolate().config, url, "ghcr.io/org/tool");
  const proxyRealm = `realm="${PROXY}/v2/auth?ns=ghcr.io"`;
  const shared = { kind: "shared", credentials: [] } as const;
  const client = { kind: "client", authorization: "Bearer t" } as const;

  it("passes a Basic-only upstream's challenge as it is", () => {
    expect(rewriteChallenge(url, prefixed, 'Basic realm="Registry Realm"', shared)).toBe(
      'Basic realm="Registry Realm"',
    );
  });

  it.each([
    [
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/tool:pull",error="insufficient_scope"',
      `Bearer ${proxyRealm},service="ghcr.io",scope="repository:org/tool:pull",error="insufficient_scope"`,
    ],
    [
      'Basic realm="quay", Bearer realm="https://evil.example/token",service="quay.io"',
      `Bearer ${proxyRealm},service="quay.io",scope="repository:org/tool:pull"`,
    ],
    [null, `Bearer ${proxyRealm},scope="repository:org/tool:pull"`],
    ["", `Bearer ${proxyRealm},scope="repository:org/tool:pull"`],
    ["Negotiate", `Bearer ${proxyRealm},scope="repository:org/tool:pull"`],
  ])("makes %j the proxy's challenge for the repository", (upstream, rewritten) => {
    expect(rewriteChallenge(url, prefixed, upstream, client)).toBe(rewritten);
  });

  it("keeps an upstream's error only when it is about the client's own token", () => {
    const upstream = 'Bearer realm="https://ghcr.io/token",service="ghcr.io",error="invalid_token"';
    expect(rewriteChallenge(url, prefixed, upstream, client)).toContain('error="invalid_token"');
    expect(rewriteChallenge(url, prefixed, upstream, shared)).not.toContain("error=");
  });

  it("scopes to the upstream's repository name (library/ completed)", () => {
    const hub = resolveRepository(
      isolate().config,
      new URL(`${PROXY}/v2/nginx/tags/list`),
      "nginx",
    );
    expect(rewriteChallenge(new URL(`${PROXY}/v2/nginx/tags/list`), hub, null, shared)).toBe(
      `Bearer realm="${PROXY}/v2/auth",scope="repository:library/nginx:pull"`,
    );
  });
});

describe("requireLogin", () => {
  const vars = { PROXY_USERS: "alice:wonderland" };

  it("names the user of a valid proxy token", async () => {
    const locked = isolate(vars);
    const token = await issueProxyToken(locked.config, "alice");
    const request = new Request(`${PROXY}/v2/`, { headers: { authorization: `Bearer ${token}` } });
    expect(await requireLogin(locked, request, new URL(request.url))).toBe("alice");
  });

  it.each([
    [undefined],
    [`Basic ${btoa("alice:wonderland")}`],
    [`Bearer ${ANONYMOUS_TOKEN}`],
    ["Bearer cfrp2.forged.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
  ])(
    "gives everyone else the same bare challenge (%s), whatever the route",
    async (authorization) => {
      const locked = isolate(vars);
      const headers: Record<string, string> = authorization ? { authorization } : {};
      const request = new Request(`${PROXY}/v2/ghcr.io/org/tool/manifests/1?ns=quay.io`, {
        headers,
      });
      const error = await thrown(requireLogin(locked, request, new URL(request.url)));
      expect(error.status).toBe(401);
      expect(error.headers["www-authenticate"]).toBe(`Bearer realm="${PROXY}/v2/auth"`);
      expect(error.message).toMatch(/log in/);
      expect(net.seen).toEqual([]);
    },
  );
});

describe("clientGrant", () => {
  const path = `${PROXY}/v2/nginx/manifests/latest`;
  const grant = async (
    vars: ConfigVars,
    authorization: string | undefined,
    name = "nginx",
    at = path,
  ) => {
    const chosen = isolate(vars);
    const url = new URL(at);
    const request = new Request(url, { headers: authorization ? { authorization } : {} });
    return clientGrant(chosen, request, url, resolveRepository(chosen.config, url, name));
  };
  const seal = (registry: string, expiresAt = Date.now() + 60_000) =>
    sealToken(TOKEN_SECRET, { registry, token: "upstream-token", expiresAt }).then(
      (t) => `Bearer ${t}`,
    );

  it.each([
    ["no Authorization", undefined],
    ["the anonymous token", `Bearer ${ANONYMOUS_TOKEN}`],
  ])("pulls with the proxy's shared access for %s", async (_, authorization) => {
    expect(await grant({}, authorization)).toEqual({ kind: "shared", credentials: [] });
    expect(net.seen).toEqual([]);
  });

  it("hands the shared access the route's own UPSTREAM_CREDENTIALS", async () => {
    const vars = {
      UPSTREAM_CREDENTIALS: '{"docker":["owner:hub-token"],"ghcr":["gh:pat"]}',
      UPSTREAM_CREDENTIALS_PUBLIC: "true",
    };
    expect(await grant(vars, undefined)).toEqual({
      kind: "shared",
      credentials: [{ username: "owner", password: "hub-token" }],
    });
  });

  it("on a locked proxy, always pulls with the shared access (the gate checked the login)", async () => {
    const vars = {
      PROXY_USERS: "alice:wonderland",
      UPSTREAM_CREDENTIALS: '{"docker":["owner:t"]}',
    };
    for (const authorization of [undefined, `Basic ${btoa("x:y")}`, "Bearer whatever"]) {
      expect(await grant(vars, authorization)).toEqual({
        kind: "shared",
        credentials: [{ username: "owner", password: "t" }],
      });
    }
    expect(net.seen).toEqual([]);
  });

  it("forwards a token this deployment sealed for this registry", async () => {
    expect(await grant({ TOKEN_SECRET }, await seal("docker.io"))).toEqual({
      kind: "client",
      authorization: "Bearer upstream-token",
    });
    expect(net.seen).toEqual([]);
  });

  it("forwards Basic to a Basic-only upstream, after learning its scheme", async () => {
    const basic = `Basic ${btoa("u:p")}`;
    const at = `${PROXY}/v2/plain.example/org/tool/manifests/1`;
    expect(await grant({}, basic, "plain.example/org/tool", at)).toEqual({
      kind: "client",
      authorization: basic,
    });
    expect(net.seen.map((s) => s.url)).toEqual(["https://plain.example/v2/"]);
    expect(net.seen[0]!.headers.authorization).toBeUndefined();
  });

  it.each<[string, ConfigVars, () => Promise<string>]>([
    ["a token sealed for another registry", { TOKEN_SECRET }, () => seal("ghcr.io")],
    ["an expired sealed token", { TOKEN_SECRET }, () => seal("docker.io", Date.now() - 1)],
    ["a sealed token without TOKEN_SECRET", {}, () => seal("docker.io")],
    [
      "a sealed token under another secret",
      { TOKEN_SECRET: "another-secret-0123456789" },
      () => seal("docker.io"),
    ],
    ["a token the proxy never issued", { TOKEN_SECRET }, async () => "Bearer upstream-token"],
    ["Basic for a token-auth upstream", { TOKEN_SECRET }, async () => `Basic ${btoa("u:p")}`],
    ["an unknown scheme", {}, async () => "Negotiate abc"],
  ])("refuses %s with the proxy's challenge for the repository", async (_, vars, authorization) => {
    const error = await thrown(grant(vars, await authorization()));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.headers["www-authenticate"]).toBe(
      `Bearer realm="${PROXY}/v2/auth",scope="repository:library/nginx:pull"`,
    );
    expect(net.to("auth.docker.io")).toEqual([]);
  });

  it("keeps the route in the challenge it refuses with", async () => {
    const at = `${PROXY}/v2/org/tool/manifests/1?ns=ghcr.io`;
    const error = await thrown(grant({}, "Bearer junk", "org/tool", at));
    expect(error.headers["www-authenticate"]).toBe(
      `Bearer realm="${PROXY}/v2/auth?ns=ghcr.io",scope="repository:org/tool:pull"`,
    );
  });
});
