import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RegistryError } from "../src/errors";
import { fetchUpstream, forwardableHeaders, type UpstreamInit } from "../src/fetch-upstream";
import { FakeNet } from "./helpers/fake-registry";

const REGISTRY = "registry.example";
const CDN = "cdn.example";

let net: FakeNet;
beforeEach(() => {
  net = new FakeNet();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const redirect = (location: string, status = 307) =>
  new Response(null, { status, headers: { location } });

/** Headers a registry client sends, credential included. */
const clientHeaders = () =>
  new Headers({
    accept: "application/vnd.oci.image.manifest.v1+json",
    "user-agent": "containerd/2.0",
    authorization: "Bearer upstream-token",
    range: "bytes=10-",
    "if-none-match": '"sha256:abc"',
  });

const init = (overrides: Partial<UpstreamInit> = {}): UpstreamInit => ({
  method: "GET",
  headers: clientHeaders(),
  timeoutMs: 1000,
  ...overrides,
});

async function failure(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

describe("forwardableHeaders", () => {
  it("keeps what a registry needs and drops everything else", () => {
    const source = new Headers({
      accept: "application/json",
      "user-agent": "docker/27",
      range: "bytes=5-",
      "if-none-match": '"x"',
      "if-match": '"y"',
      "if-modified-since": "Mon, 20 Apr 2026 12:00:00 GMT",
      "if-unmodified-since": "Mon, 20 Apr 2026 12:00:00 GMT",
      "if-range": '"z"',
      authorization: "Basic c2VjcmV0OnNlY3JldA==",
      cookie: "session=1",
      host: "proxy.example",
      "cf-connecting-ip": "203.0.113.1",
      "cf-ray": "abc",
      "x-forwarded-for": "203.0.113.1",
      "proxy-authorization": "Basic x",
    });
    expect(Object.fromEntries(forwardableHeaders(source))).toEqual({
      accept: "application/json",
      "user-agent": "docker/27",
      range: "bytes=5-",
      "if-none-match": '"x"',
      "if-match": '"y"',
      "if-modified-since": "Mon, 20 Apr 2026 12:00:00 GMT",
      "if-unmodified-since": "Mon, 20 Apr 2026 12:00:00 GMT",
      "if-range": '"z"',
    });
  });

  it.each([
    ["bytes=0-1,4-5", null],
    ["bytes=-100", null],
    ["bytes=007-9", "bytes=7-9"],
  ])("passes Range %j as %j", (range, forwarded) => {
    expect(forwardableHeaders(new Headers({ range })).get("range")).toBe(forwarded);
  });
});

describe("fetchUpstream", () => {
  it("returns the upstream's answer untouched, asking for manual redirects", async () => {
    net.on(REGISTRY, () => new Response("body", { status: 404, headers: { "x-a": "1" } }));
    const response = await fetchUpstream(`https://${REGISTRY}/v2/`, init({ method: "HEAD" }));
    expect(response.status).toBe(404);
    expect(response.headers.get("x-a")).toBe("1");
    expect(await response.text()).toBe("body");
    const [, requestInit] = vi.mocked(fetch).mock.calls[0]!;
    expect(requestInit).toMatchObject({ method: "HEAD", redirect: "manual" });
    expect(net.seen[0]!.headers.authorization).toBe("Bearer upstream-token");
  });

  it.each([301, 302, 303, 307, 308])(
    "follows a %i to another origin with everything but Authorization",
    async (status) => {
      net.on(REGISTRY, () => redirect(`https://${CDN}/blob?sig=1`, status));
      net.on(CDN, () => new Response("bytes", { status: 206 }));
      const response = await fetchUpstream(`https://${REGISTRY}/v2/a/blobs/x`, init());
      expect(response.status).toBe(206);
      expect(await response.text()).toBe("bytes");
      expect(net.to(CDN)).toHaveLength(1);
      expect(net.to(CDN)[0]!.url).toBe(`https://${CDN}/blob?sig=1`);
      // What the client asked for goes along (Artifact Registry negotiates Accept); no credential.
      expect(net.to(CDN)[0]!.headers).toEqual({
        accept: "application/vnd.oci.image.manifest.v1+json",
        "user-agent": "containerd/2.0",
        range: "bytes=10-",
        "if-none-match": '"sha256:abc"',
      });
    },
  );

  it.each([
    [
      "a path on the same host",
      "/v2/a/blobs/elsewhere",
      `https://${REGISTRY}/v2/a/blobs/elsewhere`,
    ],
    ["a relative path", "elsewhere", `https://${REGISTRY}/v2/a/blobs/elsewhere`],
    ["an absolute same-origin URL", `https://${REGISTRY}/other`, `https://${REGISTRY}/other`],
  ])("keeps every header on a hop to %s", async (_, location, target) => {
    net.on(REGISTRY, (_request, url) =>
      url.pathname === "/v2/a/blobs/x" ? redirect(location) : new Response("ok"),
    );
    const response = await fetchUpstream(`https://${REGISTRY}/v2/a/blobs/x`, init());
    expect(await response.text()).toBe("ok");
    expect(net.seen.map((s) => s.url)).toEqual([`https://${REGISTRY}/v2/a/blobs/x`, target]);
    expect(net.seen[1]!.headers).toEqual(Object.fromEntries(clientHeaders()));
  });

  it.each([
    ["another scheme", `http://${REGISTRY}/x`],
    ["another port", `https://${REGISTRY}:8443/x`],
    ["a protocol-relative URL", `//${CDN}/x`],
  ])("treats %s as another origin", async (_, location) => {
    const target = new URL(location, `https://${REGISTRY}/`);
    net.on(REGISTRY, (_request, url) =>
      url.href === target.href ? new Response("ok") : redirect(location),
    );
    net.on(CDN, () => new Response("ok"));
    net.on(`${REGISTRY}:8443`, () => new Response("ok"));
    await fetchUpstream(`https://${REGISTRY}/v2/`, init());
    expect(net.seen).toHaveLength(2);
    expect(net.seen[1]!.headers.authorization).toBeUndefined();
    expect(net.seen[1]!.headers.accept).toBe("application/vnd.oci.image.manifest.v1+json");
  });

  it("never sends Authorization back after a hop away, even to the first origin", async () => {
    net.on(REGISTRY, (_request, url) =>
      url.pathname === "/back" ? new Response("ok") : redirect(`https://${CDN}/x`),
    );
    net.on(CDN, () => redirect(`https://${REGISTRY}/back`));
    await fetchUpstream(`https://${REGISTRY}/v2/`, init());
    expect(net.seen.map((s) => s.headers.authorization)).toEqual([
      "Bearer upstream-token",
      undefined,
      undefined,
    ]);
  });

  it("follows five redirects, and refuses a sixth", async () => {
    const chain = (length: number) =>
      net.on(REGISTRY, (_request, url) => {
        const n = Number(url.searchParams.get("n") ?? 0);
        return n < length ? redirect(`/hop?n=${n + 1}`) : new Response(`end ${n}`);
      });
    chain(5);
    expect(await (await fetchUpstream(`https://${REGISTRY}/hop`, init())).text()).toBe("end 5");
    expect(net.seen).toHaveLength(6);

    net.seen.length = 0;
    chain(6);
    const error = await failure(fetchUpstream(`https://${REGISTRY}/hop`, init()));
    expect(error.status).toBe(502);
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toMatch(/too many/);
    expect(net.seen).toHaveLength(6);
  });

  it("stops a redirect loop", async () => {
    net.on(REGISTRY, () => redirect("/loop"));
    const error = await failure(fetchUpstream(`https://${REGISTRY}/loop`, init()));
    expect(error.message).toMatch(/too many/);
    expect(error.detail).toEqual({ host: REGISTRY });
  });

  it.each([
    "ftp://files.example/blob",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:text/plain,x",
    "http://[bad",
  ])("refuses a redirect to %j and contacts nobody else", async (location) => {
    net.on(REGISTRY, () => redirect(location));
    const error = await failure(fetchUpstream(`https://${REGISTRY}/v2/`, init()));
    expect(error.status).toBe(502);
    expect(error.code).toBe("UNAVAILABLE");
    expect(net.seen).toHaveLength(1);
  });

  it.each([
    [302, null],
    [304, '"etag"'],
    [300, "https://cdn.example/x"],
  ])("returns a %i that is not a redirect it follows", async (status, location) => {
    net.on(REGISTRY, () => new Response(null, { status, headers: location ? { location } : {} }));
    expect((await fetchUpstream(`https://${REGISTRY}/v2/`, init())).status).toBe(status);
    expect(net.seen).toHaveLength(1);
  });

  it("answers 502 when the upstream refuses the connection", async () => {
    const error = await failure(fetchUpstream("https://nowhere.example/v2/", init()));
    expect(error.status).toBe(502);
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toBe("upstream is unreachable");
    expect(error.detail).toEqual({ host: "nowhere.example" });
  });

  it("answers 504 when no headers come in time, naming the host it waited for", async () => {
    vi.mocked(fetch).mockImplementation(
      (_input, requestInit) =>
        new Promise((_resolve, reject) => {
          const signal = requestInit!.signal!;
          signal.addEventListener("abort", () => reject(signal.reason));
        }),
    );
    const started = Date.now();
    const error = await failure(fetchUpstream(`https://${REGISTRY}/v2/`, init({ timeoutMs: 50 })));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.status).toBe(504);
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toBe("upstream did not answer within 50 ms");
    expect(error.detail).toEqual({ host: REGISTRY });
  });

  it("counts the timeout over all hops together", async () => {
    let calls = 0;
    vi.mocked(fetch).mockImplementation(async (input, requestInit) => {
      calls++;
      if (calls === 1) {
        await new Promise((resolve) => setTimeout(resolve, 40));
        return redirect(`https://${CDN}/x`);
      }
      return new Promise((_resolve, reject) => {
        const signal = requestInit!.signal!;
        signal.addEventListener("abort", () => reject(signal.reason));
      });
    });
    const error = await failure(fetchUpstream(`https://${REGISTRY}/v2/`, init({ timeoutMs: 60 })));
    expect(error.status).toBe(504);
    expect(error.detail).toEqual({ host: CDN });
  });
});

describe("fetchUpstream: a redirected host's own challenge", () => {
  const challenge = `Bearer realm="https://auth.${CDN}/token",service="${CDN}",scope="x"`;

  function protectedCdn(accepted = "Bearer hop-token") {
    net.on(REGISTRY, () => redirect(`https://${CDN}/blob`));
    net.on(CDN, (request) =>
      request.headers.get("authorization") === accepted
        ? new Response("content")
        : new Response("denied", { status: 401, headers: { "www-authenticate": challenge } }),
    );
  }

  it("asks hopAuthorization once, with the challenge and the URL, and retries with its answer", async () => {
    protectedCdn();
    const hopAuthorization = vi.fn(async () => "Bearer hop-token");
    const response = await fetchUpstream(
      `https://${REGISTRY}/v2/a/blobs/x`,
      init({ hopAuthorization }),
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("content");
    expect(hopAuthorization).toHaveBeenCalledTimes(1);
    const [given, url] = hopAuthorization.mock.calls[0]! as unknown as [string, URL];
    expect(given).toBe(challenge);
    expect(url.href).toBe(`https://${CDN}/blob`);
    expect(net.to(CDN).map((s) => s.headers.authorization)).toEqual([
      undefined,
      "Bearer hop-token",
    ]);
    expect(net.to(CDN)[1]!.headers.range).toBe("bytes=10-");
  });

  it("gives the 401 back when hopAuthorization has nothing, or its token is refused too", async () => {
    protectedCdn();
    const none = vi.fn(async () => undefined);
    expect(
      (await fetchUpstream(`https://${REGISTRY}/v2/`, init({ hopAuthorization: none }))).status,
    ).toBe(401);
    expect(none).toHaveBeenCalledTimes(1);

    net.seen.length = 0;
    const wrong = vi.fn(async () => "Bearer wrong");
    const response = await fetchUpstream(
      `https://${REGISTRY}/v2/`,
      init({ hopAuthorization: wrong }),
    );
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(challenge);
    expect(wrong).toHaveBeenCalledTimes(1);
    expect(net.to(CDN)).toHaveLength(2);
  });

  it("never asks for the first host's 401, nor after a same-origin hop", async () => {
    net.on(REGISTRY, (_request, url) =>
      url.pathname === "/first"
        ? redirect("/second")
        : new Response(null, { status: 401, headers: { "www-authenticate": challenge } }),
    );
    const hopAuthorization = vi.fn(async () => "Bearer hop-token");
    expect(
      (await fetchUpstream(`https://${REGISTRY}/v2/`, init({ hopAuthorization }))).status,
    ).toBe(401);
    expect(
      (await fetchUpstream(`https://${REGISTRY}/first`, init({ hopAuthorization }))).status,
    ).toBe(401);
    expect(hopAuthorization).not.toHaveBeenCalled();
  });

  it("does not carry one hop's token to the next host", async () => {
    const NEXT = "download.example";
    net.on(REGISTRY, () => redirect(`https://${CDN}/blob`));
    net.on(CDN, (request) =>
      request.headers.get("authorization") === "Bearer hop-token"
        ? redirect(`https://${NEXT}/file`)
        : new Response(null, { status: 401, headers: { "www-authenticate": challenge } }),
    );
    net.on(NEXT, () => new Response("file"));
    const hopAuthorization = vi.fn(async () => "Bearer hop-token");
    const response = await fetchUpstream(`https://${REGISTRY}/v2/`, init({ hopAuthorization }));
    expect(await response.text()).toBe("file");
    expect(net.to(NEXT)[0]!.headers.authorization).toBeUndefined();
    expect(hopAuthorization).toHaveBeenCalledTimes(1);
  });
});
