import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ANONYMOUS_TOKEN } from "../src/client-auth";
import type { ConfigVars } from "../src/config";
import { RegistryError } from "../src/errors";
import { isolateFor, type Isolate } from "../src/isolate";
import { Trace } from "../src/log";
import { verifyProxyToken } from "../src/login";
import { unsealToken } from "../src/sealed-token";
import { serveToken } from "../src/token-endpoint";
import { FakeNet } from "./helpers/fake-registry";

const PROXY = "https://docker.example.com";
const TOKEN_SECRET = "test-token-secret-0123456789";
const HUB = "registry-1.docker.io";
const HUB_AUTH = "auth.docker.io";
const UPSTREAMS = JSON.stringify({
  plain: { url: "https://plain.example", registry: "plain.example" },
});
const ALICE = `Basic ${btoa("alice:wonderland")}`;

let net: FakeNet;
beforeEach(() => {
  net = new FakeNet();
  const bearer = (realm: string, service: string) => () =>
    new Response("{}", {
      status: 401,
      headers: { "www-authenticate": `Bearer realm="${realm}",service="${service}"` },
    });
  net.on(HUB, bearer(`https://${HUB_AUTH}/token`, "registry.docker.io"));
  net.on("ghcr.io", (request, url) =>
    url.pathname === "/token"
      ? Response.json({ token: "ghcr-token", expires_in: 300 })
      : bearer("https://ghcr.io/token", "ghcr.io")(),
  );
  net.on(HUB_AUTH, (request) =>
    request.headers.get("authorization") === ALICE
      ? Response.json({ token: `hub-token-${net.to(HUB_AUTH).length}`, expires_in: 300 })
      : Response.json({ details: "incorrect username or password" }, { status: 401 }),
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

interface TokenBody {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

async function token(
  isolate: Isolate,
  href: string,
  init: RequestInit = {},
): Promise<{ response: Response; body: TokenBody; trace: Trace }> {
  const url = new URL(href, PROXY);
  const trace = new Trace();
  const response = await serveToken(isolate, new Request(url, init), url, trace);
  return { response, body: (await response.json()) as TokenBody, trace };
}

async function refusal(isolate: Isolate, href: string, init: RequestInit = {}) {
  const url = new URL(href, PROXY);
  const error = await serveToken(isolate, new Request(url, init), url, new Trace()).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

const open = (vars: ConfigVars = {}) => isolateFor({ UPSTREAMS, ...vars });
const form = (fields: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});

describe("serveToken on a locked proxy", () => {
  const locked = () => open({ PROXY_USERS: "alice:wonderland,bob:builder" });

  it("buys a proxy token with a login, asking no upstream", async () => {
    const isolate = locked();
    const { response, body } = await token(isolate, "/v2/auth?scope=repository:nginx:pull", {
      headers: { authorization: ALICE },
    });
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(body.token).toMatch(/^cfrp2\./);
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(900);
    expect(Number.isNaN(Date.parse(body.issued_at))).toBe(false);
    expect(await verifyProxyToken(isolate.config, `Bearer ${body.token}`)).toBe("alice");
    expect(net.seen).toEqual([]);
  });

  it("takes containerd's OAuth2 password form", async () => {
    const isolate = locked();
    const { body } = await token(
      isolate,
      "/v2/auth",
      form({
        grant_type: "password",
        username: "bob",
        password: "builder",
        scope: "repository:x:pull",
      }),
    );
    expect(await verifyProxyToken(isolate.config, `Bearer ${body.token}`)).toBe("bob");
  });

  it.each([
    ["no credentials", {}],
    ["a wrong password", { headers: { authorization: `Basic ${btoa("alice:nope")}` } }],
    ["an unknown user", { headers: { authorization: `Basic ${btoa("carol:x")}` } }],
    ["a bearer token", { headers: { authorization: `Bearer ${ANONYMOUS_TOKEN}` } }],
    ["a wrong form", form({ grant_type: "password", username: "bob", password: "x" })],
  ])("answers %s with a Basic challenge, before looking at scopes", async (_, init) => {
    const error = await refusal(locked(), "/v2/auth?scope=repository:evil.example/x:pull", init);
    expect(error.status).toBe(401);
    expect(error.headers["www-authenticate"]).toBe('Basic realm="cf-registry-proxy"');
    expect(net.seen).toEqual([]);
  });
});

describe("serveToken on an open proxy", () => {
  it("gives anonymous clients the anonymous token, for an hour", async () => {
    const { body, trace } = await token(
      open(),
      "/v2/auth?service=registry.docker.io&scope=repository:nginx:pull",
    );
    expect(body).toMatchObject({
      token: ANONYMOUS_TOKEN,
      access_token: ANONYMOUS_TOKEN,
      expires_in: 3600,
    });
    expect(trace.target?.upstream.route).toBe("docker");
    expect(net.to(HUB_AUTH)).toEqual([]);
  });

  it.each([
    ["without TOKEN_SECRET", {}, "/v2/auth?scope=repository:nginx:pull"],
    [
      "for a Basic-only upstream",
      { TOKEN_SECRET },
      "/v2/auth?scope=repository:plain.example/x:pull",
    ],
  ])("gives the anonymous token to a client with credentials %s", async (_, vars, href) => {
    const { body } = await token(open(vars), href, { headers: { authorization: ALICE } });
    expect(body.token).toBe(ANONYMOUS_TOKEN);
    expect(net.to(HUB_AUTH)).toEqual([]);
  });

  it("seals the upstream's token for a client with credentials, asked of the upstream's realm", async () => {
    const isolate = open({ TOKEN_SECRET });
    const { body } = await token(
      isolate,
      "/v2/auth?service=evil&realm=https://evil.example/&scope=repository:nginx:pull,push&scope=registry:catalog:*&account=alice",
      { headers: { authorization: ALICE } },
    );
    const sealed = await unsealToken(TOKEN_SECRET, `Bearer ${body.token}`);
    expect(sealed).toMatchObject({ registry: "docker.io", token: "hub-token-1" });
    expect(body.expires_in).toBeGreaterThan(290);
    expect(body.expires_in).toBeLessThanOrEqual(300);
    const [asked] = net.to(HUB_AUTH);
    const url = new URL(asked!.url);
    expect(url.searchParams.get("service")).toBe("registry.docker.io");
    expect(url.searchParams.getAll("scope")).toEqual(["repository:library/nginx:pull"]);
    expect(url.searchParams.get("account")).toBe("alice");
    expect(asked!.headers.authorization).toBe(ALICE);
  });

  it("gives a reused upstream token out with the lifetime it has left", async () => {
    const isolate = open({ TOKEN_SECRET });
    const init = { headers: { authorization: ALICE } };
    const now = Date.now();
    await token(isolate, "/v2/auth?scope=repository:nginx:pull", init);
    vi.spyOn(Date, "now").mockReturnValue(now + 200_000);
    const { body } = await token(isolate, "/v2/auth?scope=repository:nginx:pull", init);
    expect(net.to(HUB_AUTH)).toHaveLength(1);
    expect(body.expires_in).toBeGreaterThan(90);
    expect(body.expires_in).toBeLessThanOrEqual(100);
  });

  it("passes the realm's refusal of the credentials on as 401", async () => {
    const error = await refusal(open({ TOKEN_SECRET }), "/v2/auth?scope=repository:nginx:pull", {
      headers: { authorization: `Basic ${btoa("alice:wrong")}` },
    });
    expect(error).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
  });

  it("turns containerd's password form into Basic for the realm", async () => {
    const isolate = open({ TOKEN_SECRET });
    const { body } = await token(
      isolate,
      "/v2/auth",
      form({
        grant_type: "password",
        username: "alice",
        password: "wonderland",
        scope: "repository:nginx:pull repository:redis:pull",
      }),
    );
    expect((await unsealToken(TOKEN_SECRET, `Bearer ${body.token}`))?.token).toBe("hub-token-1");
    const url = new URL(net.to(HUB_AUTH)[0]!.url);
    expect(url.searchParams.getAll("scope")).toEqual([
      "repository:library/nginx:pull",
      "repository:library/redis:pull",
    ]);
  });

  it("gives a form without a user the anonymous token", async () => {
    const { body } = await token(
      open({ TOKEN_SECRET }),
      "/v2/auth",
      form({ grant_type: "password" }),
    );
    expect(body.token).toBe(ANONYMOUS_TOKEN);
  });

  it.each([
    [
      "another grant type",
      form({ grant_type: "refresh_token", refresh_token: "x" }),
      "PARAMETER_INVALID",
      400,
    ],
    ["no grant type", form({ username: "alice" }), "PARAMETER_INVALID", 400],
    [
      "a form over 64 KiB",
      form({ grant_type: "password", pad: "x".repeat(65 * 1024) }),
      "REQUEST_TOO_LARGE",
      413,
    ],
  ])("refuses %s", async (_, init, code, status) => {
    const error = await refusal(open(), "/v2/auth", init);
    expect(error).toMatchObject({ code, status });
  });

  it("picks the upstream from a path prefix in the scope, and removes the prefix", async () => {
    const isolate = open({ TOKEN_SECRET });
    const { trace } = await token(isolate, "/v2/auth?scope=repository:ghcr.io/org/tool:pull", {
      headers: { authorization: ALICE },
    });
    expect(trace.target).toMatchObject({ via: "prefix", upstream: { route: "ghcr" } });
    const url = new URL(net.to("ghcr.io", /^\/token$/)[0]!.url);
    expect(url.searchParams.getAll("scope")).toEqual(["repository:org/tool:pull"]);
  });

  it("picks the upstream from the realm's ns", async () => {
    const { trace } = await token(open(), "/v2/auth?ns=ghcr.io&scope=repository:org/tool:pull");
    expect(trace.target).toMatchObject({ via: "ns", upstream: { route: "ghcr" } });
    expect(net.to(HUB)).toEqual([]);
  });

  it("picks the host's upstream when no repository scope names one", async () => {
    const { body, trace } = await token(
      open(),
      "https://ghcr.example.com/v2/auth?scope=registry:catalog:*",
    );
    expect(body.token).toBe(ANONYMOUS_TOKEN);
    expect(trace.target).toMatchObject({ via: "host", upstream: { route: "ghcr" } });
  });

  it.each([
    [
      "a scope spanning two upstreams",
      "/v2/auth?scope=repository:nginx:pull&scope=repository:ghcr.io/o/t:pull",
      "DENIED",
    ],
    [
      "an ns naming no upstream",
      "/v2/auth?ns=evil.example&scope=repository:x:pull",
      "NAME_UNKNOWN",
    ],
    [
      "a prefix naming no upstream",
      "/v2/auth?scope=repository:evil.example/x:pull",
      "NAME_UNKNOWN",
    ],
    ["an invalid name", "/v2/auth?scope=repository:UPPER/case:pull", "NAME_INVALID"],
  ])("refuses %s before asking any realm", async (_, href, code) => {
    const error = await refusal(open(), href, { headers: { authorization: ALICE } });
    expect(error.code).toBe(code);
    expect(net.seen).toEqual([]);
  });

  it("checks every scope against ALLOW and BLOCK", async () => {
    const isolate = open({ ALLOW: "docker.io/library/*", BLOCK: "docker.io/library/redis" });
    expect((await token(isolate, "/v2/auth?scope=repository:nginx:pull")).body.token).toBe(
      ANONYMOUS_TOKEN,
    );
    for (const href of [
      "/v2/auth?scope=repository:nginx:pull&scope=repository:redis:pull",
      "/v2/auth?scope=repository:someone/else:pull",
    ]) {
      expect((await refusal(isolate, href)).code).toBe("DENIED");
    }
  });
});
