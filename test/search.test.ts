// docker search through the proxy: Docker's v1 search API, answered from Docker Hub's.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Bindings } from "../src/index";
import { FakeNet } from "./helpers/fake-registry";
import { callWorker, envWith, errorOf, testEnv } from "./helpers/worker";

const INDEX = "index.docker.io";
const basic = (pair: string) => `Basic ${btoa(pair)}`;

let net: FakeNet;
let env: Bindings;

/** Docker Hub's answer, as the Docker daemon decodes it (registry.SearchResults). */
const HUB_RESULTS = {
  num_pages: 40,
  num_results: 1000,
  page_size: 2,
  query: "nginx",
  page: 1,
  results: [
    {
      name: "nginx",
      description: "Official build of Nginx.",
      star_count: 20000,
      is_official: true,
      is_automated: false,
    },
    {
      name: "bitnami/nginx",
      description: "Bitnami nginx",
      star_count: 190,
      is_official: false,
      is_automated: true,
    },
    { repo_name: "someone/nginx-proxy", short_description: "x", star_count: 3 },
    { description: "no name: dropped" },
  ],
};

beforeEach(() => {
  env = testEnv();
  net = new FakeNet();
  net.on(INDEX, () => Response.json(HUB_RESULTS));
});

afterEach(() => {
  vi.restoreAllMocks();
  expect(net.unexpected).toEqual([]);
});

const search = (
  query: string,
  init: RequestInit = {},
  overrides: Partial<Bindings> = {},
  host = "docker.example.com",
) => callWorker(`https://${host}/v1/search${query}`, init, envWith(env, overrides));

describe("docker search", () => {
  it("forwards q, n and page to Docker Hub and answers in Docker's format", async () => {
    const response = await search("?q=nginx&n=2&page=3");
    expect(response.status).toBe(200);
    expect(new URL(net.to(INDEX)[0]!.url).search).toBe("?q=nginx&n=2&page=3");
    const body = (await response.json()) as { results: Array<{ name: string }> } & Record<
      string,
      unknown
    >;
    expect(body).toMatchObject({
      num_pages: 40,
      num_results: 1000,
      page_size: 2,
      query: "nginx",
      page: 3,
    });
    expect(body.results).toEqual([
      HUB_RESULTS.results[0],
      HUB_RESULTS.results[1],
      {
        name: "someone/nginx-proxy",
        description: "",
        star_count: 3,
        is_official: false,
        is_automated: false,
      },
    ]);
  });

  it("defaults to Docker's 25 results on page 1, as the daemon asks", async () => {
    await search("?q=nginx");
    expect(new URL(net.to(INDEX)[0]!.url).search).toBe("?q=nginx&n=25&page=1");
  });

  it("leaves out what ALLOW and BLOCK would not serve", async () => {
    const response = await search(
      "?q=nginx",
      {},
      { ALLOW: "docker.io/library/*,docker.io/someone/*", BLOCK: "docker.io/someone/*" },
    );
    const body = (await response.json()) as { results: Array<{ name: string }> };
    expect(body.results.map((r) => r.name)).toEqual(["nginx"]);
  });

  it.each([
    ["?n=5", "q"],
    [`?q=${"a".repeat(256)}`, "q"],
    ["?q=x&n=0", "n"],
    ["?q=x&n=101", "n"],
    ["?q=x&n=1.5", "n"],
    ["?q=x&page=-1", "page"],
  ])("refuses %s with 400 PARAMETER_INVALID, asking nobody", async (query, parameter) => {
    const response = await search(query);
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("PARAMETER_INVALID");
    expect(error.message).toMatch(new RegExp(`^${parameter} `));
    expect(net.seen).toEqual([]);
  });

  it("answers other routes with a clear OCI error", async () => {
    const response = await search("?q=tool", {}, {}, "ghcr.example.com");
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toMatchObject({
      code: "NOT_FOUND",
      message: "only Docker Hub has docker search",
    });
    expect(net.seen).toEqual([]);
  });

  it("goes where UPSTREAMS moved Docker Hub", async () => {
    net.on("mirror.example.net", () => Response.json(HUB_RESULTS));
    const response = await search(
      "?q=nginx",
      {},
      { UPSTREAMS: '{"docker":"https://mirror.example.net"}' },
    );
    expect(response.status).toBe(200);
    expect(net.to("mirror.example.net")[0]?.url).toBe(
      "https://mirror.example.net/v1/search?q=nginx&n=25&page=1",
    );
  });

  it("answers 502 when Docker Hub's search fails, and never passes its page on", async () => {
    net.on(
      INDEX,
      () =>
        new Response("<html>oops</html>", {
          status: 503,
          headers: { "content-type": "text/html" },
        }),
    );
    const failed = await search("?q=nginx");
    expect(failed.status).toBe(502);
    expect(await failed.text()).not.toContain("oops");
    net.on(INDEX, () => new Response("not json"));
    expect((await search("?q=nginx")).status).toBe(502);
  });

  it("on a locked proxy, needs the login like a pull: a proxy token, or the login Docker sends as Basic", async () => {
    const locked = { PROXY_USERS: "alice:wonderland" };
    expect((await search("?q=nginx", {}, locked)).status).toBe(401);
    expect(
      (await search("?q=nginx", { headers: { authorization: basic("alice:wrong") } }, locked))
        .status,
    ).toBe(401);
    expect(net.seen).toEqual([]);
    expect(
      (await search("?q=nginx", { headers: { authorization: basic("alice:wonderland") } }, locked))
        .status,
    ).toBe(200);
    const login = await callWorker(
      "https://docker.example.com/v2/auth",
      { headers: { authorization: basic("alice:wonderland") } },
      envWith(env, locked),
    );
    const { token } = (await login.json()) as { token: string };
    expect(
      (await search("?q=nginx", { headers: { authorization: `Bearer ${token}` } }, locked)).status,
    ).toBe(200);
  });
});
