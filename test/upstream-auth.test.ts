import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { formatBasic } from "../src/basic-auth";
import { RegistryError } from "../src/errors";
import { UpstreamAuth, type AuthScheme } from "../src/upstream-auth";
import type { Upstream } from "../src/upstreams";
import { FakeNet } from "./helpers/fake-registry";

const REGISTRY = "reg.example";
const AUTH = "auth.example";
const REALM = `https://${AUTH}/token`;
const upstream: Upstream = {
  route: "test",
  name: REGISTRY,
  url: `https://${REGISTRY}`,
  aliases: [],
  libraryPrefix: false,
};
const BEARER: Extract<AuthScheme, { kind: "bearer" }> = {
  kind: "bearer",
  realm: REALM,
  service: REGISTRY,
};
const OWNER = { username: "owner", password: "hub-token" };
const OTHER = { username: "other", password: "hub-token-2" };
const T0 = Date.UTC(2026, 3, 20, 12, 0, 0);

let net: FakeNet;
let auth: UpstreamAuth;
let clock: number;
/** What the token server answers next; `n` counts its requests. */
let tokenBody: (n: number) => Response;

beforeEach(() => {
  net = new FakeNet();
  auth = new UpstreamAuth(1000);
  clock = T0;
  vi.spyOn(Date, "now").mockImplementation(() => clock);
  tokenBody = (n) => Response.json({ token: `t${n}`, expires_in: 300 });
  net.on(AUTH, () => tokenBody(net.to(AUTH).length));
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Serves the registry's `/v2/` with this answer. */
function ping(answer: () => Response) {
  net.on(REGISTRY, (_request, url) => {
    expect(url.pathname).toBe("/v2/");
    return answer();
  });
}
const challenge =
  (header: string, status = 401) =>
  () =>
    new Response("{}", { status, headers: { "www-authenticate": header } });

async function failure(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

describe("scheme", () => {
  it.each<[string, () => Response, AuthScheme]>([
    ["200", () => new Response("{}"), { kind: "none" }],
    [
      "Bearer",
      challenge(`Bearer realm="${REALM}",service="${REGISTRY}"`),
      { kind: "bearer", realm: REALM, service: REGISTRY },
    ],
    [
      "Bearer without service",
      challenge(`Bearer realm="${REALM}"`),
      { kind: "bearer", realm: REALM, service: undefined },
    ],
    [
      "Bearer with an empty service",
      challenge(`Bearer realm="${REALM}",service=""`),
      { kind: "bearer", realm: REALM, service: undefined },
    ],
    [
      "Basic and Bearer (quay.io)",
      challenge(`Basic realm="quay", Bearer realm="${REALM}",service="quay.io"`),
      { kind: "bearer", realm: REALM, service: "quay.io" },
    ],
    [
      "Basic",
      challenge('Basic realm="Registry Realm"'),
      { kind: "basic", header: 'Basic realm="Registry Realm"' },
    ],
    [
      "a Bearer with a bad realm next to Basic",
      challenge('Bearer realm="ftp://x/",Basic realm="r"'),
      { kind: "basic", header: 'Bearer realm="ftp://x/",Basic realm="r"' },
    ],
  ])("learns %s", async (_, answer, scheme) => {
    ping(answer);
    expect(await auth.scheme(upstream)).toEqual(scheme);
    expect(net.seen.map((s) => `${s.method} ${s.url}`)).toEqual([`GET https://${REGISTRY}/v2/`]);
    expect(net.seen[0]!.headers.authorization).toBeUndefined();
  });

  it.each([
    ['Bearer realm="ftp://auth.example/token"'],
    ['Bearer realm="javascript:alert(1)"'],
    ['Bearer realm="/token"'],
    ['Bearer service="x"'],
    ["Negotiate"],
  ])("refuses a challenge whose realm is not an http(s) URL: %s", async (header) => {
    ping(challenge(header));
    const error = await failure(auth.scheme(upstream));
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.status).toBe(502);
    expect(net.to(AUTH)).toEqual([]);
  });

  it.each([
    [429, "TOOMANYREQUESTS", 429],
    [500, "UNAVAILABLE", 502],
    [503, "UNAVAILABLE", 502],
    [404, "UNAVAILABLE", 502],
    [401, "UNAVAILABLE", 502], // a 401 without a challenge
    [302, "UNAVAILABLE", 502], // a redirect without Location
  ])("turns a ping answered %i into %s", async (status, code, wire) => {
    ping(() => new Response("<html>", { status, headers: { "retry-after": "7" } }));
    const error = await failure(auth.scheme(upstream));
    expect(error.code).toBe(code);
    expect(error.status).toBe(wire);
  });

  it("asks once per upstream, and again after ten minutes", async () => {
    ping(challenge(`Bearer realm="${REALM}"`));
    for (let i = 0; i < 5; i++) await auth.scheme(upstream);
    expect(net.to(REGISTRY)).toHaveLength(1);
    clock += 10 * 60 * 1000 - 1;
    await auth.scheme(upstream);
    expect(net.to(REGISTRY)).toHaveLength(1);
    clock += 2;
    await auth.scheme(upstream);
    expect(net.to(REGISTRY)).toHaveLength(2);
  });

  it("keeps no failed ping", async () => {
    let fail = true;
    ping(() => (fail ? new Response("", { status: 503 }) : new Response("{}")));
    await failure(auth.scheme(upstream));
    fail = false;
    expect(await auth.scheme(upstream)).toEqual({ kind: "none" });
    expect(net.to(REGISTRY)).toHaveLength(2);
  });

  it("learns per upstream URL", async () => {
    ping(() => new Response("{}"));
    net.on("mirror.example", challenge('Basic realm="m"'));
    expect((await auth.scheme(upstream)).kind).toBe("none");
    expect((await auth.scheme({ ...upstream, url: "https://mirror.example" })).kind).toBe("basic");
  });
});

describe("token", () => {
  it("asks the realm with service, sorted distinct scopes, account and credentials", async () => {
    const authorization = formatBasic(OWNER);
    const token = await auth.token(
      { ...BEARER, realm: `${REALM}?client=proxy` },
      {
        scopes: ["repository:b:pull", "repository:a:pull", "repository:b:pull"],
        authorization,
        account: "owner",
      },
    );
    expect(token.token).toBe("t1");
    const [seen] = net.to(AUTH);
    const url = new URL(seen!.url);
    expect(url.origin + url.pathname).toBe(REALM);
    expect(url.searchParams.get("client")).toBe("proxy");
    expect(url.searchParams.get("service")).toBe(REGISTRY);
    expect(url.searchParams.getAll("scope")).toEqual(["repository:a:pull", "repository:b:pull"]);
    expect(url.searchParams.get("account")).toBe("owner");
    expect(seen!.headers.authorization).toBe(authorization);
  });

  it("asks anonymously without credentials, service, scopes or account", async () => {
    await auth.token({ ...BEARER, service: undefined }, { scopes: [], authorization: null });
    const [seen] = net.to(AUTH);
    expect(seen!.url).toBe(REALM);
    expect(seen!.headers.authorization).toBeUndefined();
  });

  it.each([
    [{ token: "a" }, "a"],
    [{ access_token: "b" }, "b"],
    [{ token: "a", access_token: "b" }, "a"],
    [{ token: "", access_token: "b" }, "b"],
  ])("reads the token of %j", async (body, token) => {
    tokenBody = () => Response.json(body);
    const got = await auth.token(BEARER, { scopes: [], authorization: null });
    expect(got.token).toBe(token);
    expect(got.body).toEqual(body);
  });

  it.each([
    [{ token: "a", expires_in: 300 }, 300],
    [{ token: "a" }, 60],
    [{ token: "a", expires_in: "300" }, 60],
    [{ token: "a", expires_in: 0 }, 60],
    [{ token: "a", expires_in: -5 }, 60],
    [{ token: "a", expires_in: 3600, issued_at: "2020-01-01T00:00:00Z" }, 3600],
  ])("gives %j a lifetime of %i s", async (body, seconds) => {
    tokenBody = () => Response.json(body);
    const got = await auth.token(BEARER, { scopes: [], authorization: null });
    expect(got.expiresAt).toBe(T0 + seconds * 1000);
  });

  it.each([
    ["no JSON", () => new Response("<html>")],
    ["no token", () => Response.json({ expires_in: 300 })],
    ["JSON null", () => new Response("null", { headers: { "content-type": "application/json" } })],
    ["a JSON array", () => Response.json([])],
    ["a token that is not a string", () => Response.json({ token: 42 })],
    ["a body over 64 KiB", () => Response.json({ token: "a", pad: "x".repeat(65 * 1024) })],
  ])("refuses %s as 502", async (_, answer) => {
    tokenBody = answer;
    const error = await failure(auth.token(BEARER, { scopes: [], authorization: null }));
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.status).toBe(502);
  });

  it.each([
    [401, "UNAUTHORIZED", 401],
    [403, "UNAUTHORIZED", 401],
    [429, "TOOMANYREQUESTS", 429],
    [500, "UNAVAILABLE", 502],
    [404, "UNKNOWN", 404],
  ])("turns a realm's %i into %s", async (status, code, wire) => {
    tokenBody = () => Response.json({ details: "incorrect username or password" }, { status });
    const error = await failure(
      auth.token(BEARER, { scopes: [], authorization: formatBasic(OWNER) }),
    );
    expect(error.code).toBe(code);
    expect(error.status).toBe(wire);
  });

  it("keeps no token it could not get", async () => {
    tokenBody = (n) =>
      n === 1 ? new Response("", { status: 503 }) : Response.json({ token: "ok" });
    await failure(auth.token(BEARER, { scopes: [], authorization: null }));
    expect((await auth.token(BEARER, { scopes: [], authorization: null })).token).toBe("ok");
  });
});

describe("token cache", () => {
  const anonymous = { scopes: ["repository:a:pull"], authorization: null };

  it("reuses one token for the same realm, service, scope set and credentials", async () => {
    const first = await auth.token(BEARER, {
      scopes: ["repository:a:pull", "repository:b:pull"],
      authorization: null,
    });
    for (let i = 0; i < 10; i++) {
      const again = await auth.token(BEARER, {
        scopes: ["repository:b:pull", "repository:a:pull", "repository:b:pull"],
        authorization: null,
      });
      expect(again).toBe(first);
    }
    expect(net.to(AUTH)).toHaveLength(1);
  });

  it.each<
    [
      string,
      Extract<AuthScheme, { kind: "bearer" }>,
      { scopes: string[]; authorization: string | null },
    ]
  >([
    ["another realm", { ...BEARER, realm: `${REALM}2` }, anonymous],
    ["another service", { ...BEARER, service: "other" }, anonymous],
    ["no service", { ...BEARER, service: undefined }, anonymous],
    ["another scope", BEARER, { scopes: ["repository:b:pull"], authorization: null }],
    [
      "more scopes",
      BEARER,
      { scopes: ["repository:a:pull", "repository:b:pull"], authorization: null },
    ],
    ["credentials", BEARER, { scopes: ["repository:a:pull"], authorization: formatBasic(OWNER) }],
  ])("fetches anew for %s", async (_, scheme, request) => {
    await auth.token(BEARER, anonymous);
    const other = await auth.token(scheme, request);
    expect(other.token).toBe("t2");
    expect(net.to(AUTH)).toHaveLength(2);
  });

  it("keeps a credential's token for that credential alone", async () => {
    const owner = await auth.token(BEARER, { ...anonymous, authorization: formatBasic(OWNER) });
    const other = await auth.token(BEARER, { ...anonymous, authorization: formatBasic(OTHER) });
    const none = await auth.token(BEARER, anonymous);
    expect([owner.token, other.token, none.token]).toEqual(["t1", "t2", "t3"]);
    expect(
      (await auth.token(BEARER, { ...anonymous, authorization: formatBasic(OWNER) })).token,
    ).toBe("t1");
    expect(net.to(AUTH)).toHaveLength(3);
  });

  it("reuses a token until only minRemainingMs (10 s by default) is left", async () => {
    await auth.token(BEARER, anonymous); // 300 s
    clock = T0 + 289_999;
    expect((await auth.token(BEARER, anonymous)).token).toBe("t1");
    clock = T0 + 290_000;
    expect((await auth.token(BEARER, anonymous)).token).toBe("t2");
  });

  it("honours a larger minRemainingMs, such as a client's", async () => {
    await auth.token(BEARER, anonymous, 75_000);
    clock = T0 + 200_000; // 100 s left
    expect((await auth.token(BEARER, anonymous, 75_000)).token).toBe("t1");
    clock = T0 + 230_000; // 70 s left
    expect((await auth.token(BEARER, anonymous, 75_000)).token).toBe("t2");
  });

  it("never reuses a token that lives shorter than minRemainingMs", async () => {
    tokenBody = (n) => Response.json({ token: `t${n}` }); // 60 s
    await auth.token(BEARER, anonymous, 75_000);
    await auth.token(BEARER, anonymous, 75_000);
    expect(net.to(AUTH)).toHaveLength(2);
  });

  it("keeps at most 1000 tokens, dropping the oldest first", async () => {
    for (let i = 0; i <= 1000; i++) {
      await auth.token(BEARER, { scopes: [`repository:r${i}:pull`], authorization: null });
    }
    expect(net.to(AUTH)).toHaveLength(1001);
    await auth.token(BEARER, { scopes: ["repository:r1000:pull"], authorization: null });
    await auth.token(BEARER, { scopes: ["repository:r1:pull"], authorization: null });
    expect(net.to(AUTH)).toHaveLength(1001);
    await auth.token(BEARER, { scopes: ["repository:r0:pull"], authorization: null });
    expect(net.to(AUTH)).toHaveLength(1002);
  });
});

describe("authorization", () => {
  it("is nothing for an upstream without auth, and asks no realm", async () => {
    ping(() => new Response("{}"));
    expect(await auth.authorization(upstream, "a", OWNER)).toEqual({ header: null, reused: false });
    expect(net.to(AUTH)).toEqual([]);
  });

  it("is the owner's Basic for a Basic-only upstream, or nothing", async () => {
    ping(challenge('Basic realm="r"'));
    expect((await auth.authorization(upstream, "a", OWNER)).header).toBe(formatBasic(OWNER));
    expect((await auth.authorization(upstream, "a", undefined)).header).toBeNull();
    expect(net.to(AUTH)).toEqual([]);
  });

  it("is the realm's token for the repository's pull scope, asked with the owner's credential", async () => {
    ping(challenge(`Bearer realm="${REALM}",service="${REGISTRY}"`));
    expect(await auth.authorization(upstream, "org/tool", OWNER)).toEqual({
      header: "Bearer t1",
      reused: false,
    });
    // Asked again, it is the same token, and says it was kept.
    expect(await auth.authorization(upstream, "org/tool", OWNER)).toEqual({
      header: "Bearer t1",
      reused: true,
    });
    expect((await auth.authorization(upstream, "org/tool", undefined)).header).toBe("Bearer t2");
    const [first, second] = net.to(AUTH);
    expect(new URL(first!.url).searchParams.getAll("scope")).toEqual(["repository:org/tool:pull"]);
    expect(first!.headers.authorization).toBe(formatBasic(OWNER));
    expect(second!.headers.authorization).toBeUndefined();
    expect(net.to(REGISTRY)).toHaveLength(1);
  });
});

describe("forget", () => {
  beforeEach(() => ping(challenge(`Bearer realm="${REALM}",service="${REGISTRY}"`)));

  it("drops the token of that repository and credential only", async () => {
    await auth.authorization(upstream, "a", OWNER); // t1
    await auth.authorization(upstream, "a", undefined); // t2
    await auth.authorization(upstream, "b", OWNER); // t3
    await auth.forget(upstream, "a", OWNER);
    expect((await auth.authorization(upstream, "a", OWNER)).header).toBe("Bearer t4");
    expect((await auth.authorization(upstream, "a", undefined)).header).toBe("Bearer t2");
    expect((await auth.authorization(upstream, "b", OWNER)).header).toBe("Bearer t3");
  });

  it("does nothing for an upstream it has not learned, or one without tokens", async () => {
    await auth.forget({ ...upstream, url: "https://unknown.example" }, "a", undefined);
    net.on("open.example", () => new Response("{}"));
    const open = { ...upstream, url: "https://open.example" };
    await auth.scheme(open);
    await auth.forget(open, "a", undefined);
    expect(net.to(AUTH)).toEqual([]);
  });
});

describe("hopAuthorization", () => {
  const HOP = "hop-auth.example";
  beforeEach(() => {
    net.on(HOP, () => Response.json({ token: `hop${net.to(HOP).length}`, expires_in: 300 }));
  });

  it("fetches an anonymous token with the challenge's own realm, service and scope", async () => {
    const header = `Bearer realm="https://${HOP}/token",service="artifactregistry",scope="repository:p/r:pull"`;
    expect(await auth.hopAuthorization(header)).toBe("Bearer hop1");
    expect(await auth.hopAuthorization(header)).toBe("Bearer hop1");
    const [seen] = net.to(HOP);
    expect(seen!.url).toBe(
      `https://${HOP}/token?service=artifactregistry&scope=repository%3Ap%2Fr%3Apull`,
    );
    expect(seen!.headers.authorization).toBeUndefined();
    expect(net.seen).toHaveLength(1);
  });

  it("asks without a scope when the challenge names none", async () => {
    expect(await auth.hopAuthorization(`Bearer realm="https://${HOP}/token"`)).toBe("Bearer hop1");
    expect(net.to(HOP)[0]!.url).toBe(`https://${HOP}/token`);
  });

  it.each([
    null,
    "",
    'Basic realm="x"',
    'Bearer service="x"',
    'Bearer realm="ftp://hop-auth.example/token"',
    'Bearer realm="file:///etc/passwd"',
    'Bearer realm="/token"',
  ])("has nothing for %j and contacts nobody", async (header) => {
    expect(await auth.hopAuthorization(header)).toBeUndefined();
    expect(net.seen).toEqual([]);
  });

  it("is a plain function, usable detached from the instance", async () => {
    const { hopAuthorization } = auth;
    expect(await hopAuthorization(`Bearer realm="https://${HOP}/token"`)).toBe("Bearer hop1");
  });
});
