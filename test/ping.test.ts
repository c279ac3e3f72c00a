import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ANONYMOUS_TOKEN } from "../src/client-auth";
import type { ConfigVars } from "../src/config";
import { RegistryError } from "../src/errors";
import { isolateFor } from "../src/isolate";
import { Trace } from "../src/log";
import { servePing } from "../src/ping";
import { sealToken } from "../src/sealed-token";
import { FakeNet } from "./helpers/fake-registry";

const PROXY = "https://docker.example.com";
const TOKEN_SECRET = "test-token-secret-0123456789";
const HUB = "registry-1.docker.io";
const HUB_CHALLENGE = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"';
const UPSTREAMS = JSON.stringify({
  plain: { url: "https://plain.example", registry: "plain.example" },
  open: { url: "https://open.example", registry: "open.example" },
});
const ALICE = `Basic ${btoa("alice:wonderland")}`;

let net: FakeNet;
/** What each upstream's `/v2/` says to a request with this Authorization. */
beforeEach(() => {
  net = new FakeNet();
  net.on(HUB, (request) =>
    request.headers.get("authorization") === "Bearer good-upstream-token"
      ? new Response("{}")
      : new Response("{}", { status: 401, headers: { "www-authenticate": HUB_CHALLENGE } }),
  );
  net.on(
    "ghcr.io",
    () =>
      new Response("{}", {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="https://ghcr.io/token",service="ghcr.io"' },
      }),
  );
  net.on("plain.example", (request) =>
    request.headers.get("authorization") === ALICE
      ? new Response("{}")
      : new Response("{}", { status: 401, headers: { "www-authenticate": 'Basic realm="plain"' } }),
  );
  net.on("open.example", () => new Response("{}"));
});
afterEach(() => {
  vi.restoreAllMocks();
  expect(net.unexpected).toEqual([]);
});

async function ping(vars: ConfigVars, href: string, authorization?: string) {
  const isolate = isolateFor({ UPSTREAMS, ...vars });
  const url = new URL(href);
  const request = new Request(url, { headers: authorization ? { authorization } : {} });
  const trace = new Trace();
  try {
    const response = await servePing(isolate, request, url, trace);
    return {
      status: response.status,
      challenge: null,
      body: await response.text(),
      trace,
      isolate,
    };
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    return {
      status: error.status,
      code: error.code,
      challenge: error.headers["www-authenticate"] ?? null,
      body: "",
      trace,
      isolate,
    };
  }
}

describe("servePing without credentials", () => {
  it("answers 200 on a locked proxy (the gate has passed) and asks no upstream", async () => {
    const answer = await ping({ PROXY_USERS: "alice:wonderland" }, `${PROXY}/v2/?ns=ghcr.io`);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe("{}");
    expect(net.seen).toEqual([]);
  });

  it("gives a Bearer upstream's service in the proxy's own challenge", async () => {
    const answer = await ping({}, `${PROXY}/v2/`);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe(`Bearer realm="${PROXY}/v2/auth",service="registry.docker.io"`);
    expect(answer.trace.target).toMatchObject({ via: "host", upstream: { route: "docker" } });
  });

  it("keeps an ns in the realm", async () => {
    const answer = await ping({}, `${PROXY}/v2/?ns=ghcr.io`);
    expect(answer.challenge).toBe(`Bearer realm="${PROXY}/v2/auth?ns=ghcr.io",service="ghcr.io"`);
    expect(answer.trace.target?.via).toBe("ns");
  });

  it("passes a Basic-only upstream's own challenge", async () => {
    const answer = await ping({}, "https://plain.example.com/v2/");
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe('Basic realm="plain"');
  });

  it("answers 200 for an upstream without auth", async () => {
    expect((await ping({}, "https://open.example.com/v2/")).status).toBe(200);
  });

  it("learns each upstream's scheme once", async () => {
    const isolate = isolateFor({});
    for (let i = 0; i < 3; i++) {
      const url = new URL(`${PROXY}/v2/`);
      await servePing(isolate, new Request(url), url, new Trace()).catch(() => undefined);
    }
    expect(net.to(HUB)).toHaveLength(1);
  });

  it("refuses an ns that names no upstream, contacting nobody", async () => {
    const answer = await ping({}, `${PROXY}/v2/?ns=evil.example`);
    expect(answer.code).toBe("NAME_UNKNOWN");
    expect(net.seen).toEqual([]);
  });
});

describe("servePing with credentials", () => {
  const seal = (registry: string, token = "good-upstream-token") =>
    sealToken(TOKEN_SECRET, { registry, token, expiresAt: Date.now() + 60_000 }).then(
      (t) => `Bearer ${t}`,
    );

  it("accepts the anonymous token without asking anyone", async () => {
    const answer = await ping({}, `${PROXY}/v2/`, `Bearer ${ANONYMOUS_TOKEN}`);
    expect(answer.status).toBe(200);
    expect(net.seen).toEqual([]);
  });

  it("lets the upstream judge a sealed token for it: good", async () => {
    const answer = await ping({ TOKEN_SECRET }, `${PROXY}/v2/`, await seal("docker.io"));
    expect(answer.status).toBe(200);
    const checks = net.to(HUB).filter((s) => s.headers.authorization);
    expect(checks.map((s) => s.headers.authorization)).toEqual(["Bearer good-upstream-token"]);
  });

  it("lets the upstream judge a sealed token for it: refused", async () => {
    const answer = await ping({ TOKEN_SECRET }, `${PROXY}/v2/`, await seal("docker.io", "stale"));
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe(`Bearer realm="${PROXY}/v2/auth",service="registry.docker.io"`);
  });

  it("refuses a token sealed for another registry without forwarding it", async () => {
    const answer = await ping({ TOKEN_SECRET }, `${PROXY}/v2/`, await seal("ghcr.io"));
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe(`Bearer realm="${PROXY}/v2/auth",service="registry.docker.io"`);
    expect(net.seen.filter((s) => s.headers.authorization)).toEqual([]);
  });

  it.each([
    ["Basic for a token-auth upstream", `Basic ${btoa("alice:wonderland")}`],
    ["a foreign bearer token", "Bearer good-upstream-token"],
  ])("refuses %s without forwarding it", async (_, authorization) => {
    const answer = await ping({ TOKEN_SECRET }, `${PROXY}/v2/`, authorization);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe(`Bearer realm="${PROXY}/v2/auth",service="registry.docker.io"`);
    expect(net.seen.filter((s) => s.headers.authorization)).toEqual([]);
  });

  it("lets a Basic-only upstream judge Basic credentials, passing its challenge on refusal", async () => {
    expect((await ping({}, "https://plain.example.com/v2/", ALICE)).status).toBe(200);
    const wrong = await ping({}, "https://plain.example.com/v2/", `Basic ${btoa("alice:x")}`);
    expect(wrong.status).toBe(401);
    expect(wrong.challenge).toBe('Basic realm="plain"');
  });

  it("turns an upstream failure while judging into 502", async () => {
    const isolate = isolateFor({ TOKEN_SECRET });
    const url = new URL(`${PROXY}/v2/`);
    await servePing(isolate, new Request(url), url, new Trace()).catch(() => undefined);
    net.on(HUB, () => new Response("<html>", { status: 503 }));
    const request = new Request(url, { headers: { authorization: await seal("docker.io") } });
    const error = await servePing(isolate, request, url, new Trace()).then(
      () => undefined,
      (e: unknown) => e as RegistryError,
    );
    expect(error).toMatchObject({ code: "UNAVAILABLE", status: 502 });
  });
});
