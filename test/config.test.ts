import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../src/config";

function problems(env: Parameters<typeof parseConfig>[0]): string[] {
  try {
    parseConfig(env);
    return [];
  } catch (e) {
    return (e as ConfigError).problems;
  }
}

describe("config", () => {
  it("works with no vars at all: a Docker Hub mirror", () => {
    const config = parseConfig({});
    expect(config.defaultUpstream.name).toBe("docker.io");
    expect(config.defaultUpstream.url).toBe("https://registry-1.docker.io");
    expect(config.timeoutMs).toBe(8000);
    expect([...config.byRoute.keys()]).toEqual([
      "docker",
      "quay",
      "gcr",
      "k8s-gcr",
      "k8s",
      "ghcr",
      "cloudsmith",
      "ecr",
      "mcr",
      "nvcr",
      "gitlab",
      "elastic",
    ]);
  });

  it("moves a built-in route and keeps its identity and quirks", () => {
    const config = parseConfig({ UPSTREAMS: '{"docker":"http://127.0.0.1:5000/"}' });
    const docker = config.byRoute.get("docker")!;
    expect(docker).toMatchObject({
      url: "http://127.0.0.1:5000",
      name: "docker.io",
      libraryPrefix: true,
    });
    expect(config.byName.get("docker.io")).toBe(docker);
    expect(config.byName.get("index.docker.io")).toBe(docker);
  });

  it("adds a route from a URL string (registry name = its host) or an object", () => {
    const config = parseConfig({
      UPSTREAMS: JSON.stringify({
        local: "http://127.0.0.1:5001",
        harbor: { url: "https://harbor.example.net/base", registry: "harbor.example.net" },
      }),
      DEFAULT_ROUTE: "harbor",
    });
    expect(config.byRoute.get("local")).toMatchObject({
      name: "127.0.0.1:5001",
      libraryPrefix: false,
    });
    expect(config.byName.get("harbor.example.net")?.url).toBe("https://harbor.example.net/base");
    expect(config.defaultUpstream.route).toBe("harbor");
  });

  it.each([
    ["{not json", /not valid JSON/],
    ["[1]", /expected a JSON object/],
    ['{"Bad_Name":"https://x"}', /one DNS label/],
    ['{"x":42}', /expected a URL string/],
    ['{"x":"ftp://x"}', /not an http\(s\) URL/],
    ['{"x":"https://u:p@x"}', /credentials do not belong/],
    ['{"x":"https://x/?a=1"}', /query or fragment/],
    ['{"x":"not a url"}', /not an http\(s\) URL/],
    ['{"docker":{"url":"https://x","registry":"evil.io"}}', /keeps its registry name/],
    ['{"x":{"url":"https://x","registry":"Not A Host"}}', /registry host name/],
    ['{"x":{"url":"https://x","registry":"ghcr.io"}}', /two routes use one registry name/],
  ])("reports UPSTREAMS %s", (raw, message) => {
    expect(problems({ UPSTREAMS: raw }).join("; ")).toMatch(message);
  });

  it("reports an unknown DEFAULT_ROUTE without echoing it or the routes", () => {
    expect(problems({ DEFAULT_ROUTE: "nope" })).toEqual(["DEFAULT_ROUTE: names no route"]);
  });

  it.each(["abc", "5", "1.5", "999999"])("reports UPSTREAM_TIMEOUT_MS=%j", (value) => {
    expect(problems({ UPSTREAM_TIMEOUT_MS: value })[0]).toMatch(/UPSTREAM_TIMEOUT_MS/);
  });

  it("collects every problem into one error", () => {
    expect(
      problems({ UPSTREAMS: '{"x":"ftp://a","y":"ftp://b"}', DEFAULT_ROUTE: "z" }),
    ).toHaveLength(3);
  });
});

describe("upstream credentials", () => {
  it("parses pairs per route", () => {
    const parsed = parseConfig({
      PROXY_USERS: "a:b",
      UPSTREAM_CREDENTIALS: '{"docker":["u1:t1","u2:t:with:colons"],"ghcr":"me:pat"}',
    });
    expect(parsed.upstreamCredentials.get("docker")).toEqual([
      { username: "u1", password: "t1" },
      { username: "u2", password: "t:with:colons" },
    ]);
    expect(parsed.upstreamCredentials.get("ghcr")).toEqual([{ username: "me", password: "pat" }]);
  });

  it("refuses to start with credentials but no access control, unless told so", () => {
    expect(() => parseConfig({ UPSTREAM_CREDENTIALS: '{"docker":["u:t"]}' })).toThrow(
      /Set PROXY_USERS/,
    );
    expect(
      parseConfig({
        UPSTREAM_CREDENTIALS: '{"docker":["u:t"]}',
        UPSTREAM_CREDENTIALS_PUBLIC: "true",
      }).upstreamCredentials.size,
    ).toBe(1);
  });

  it.each([
    ['{"nope":["u:t"]}', /UPSTREAM_CREDENTIALS: entry 1 is not keyed by a route name/],
    ['{"docker":["no-colon"]}', /list of "user:token"/],
    ['{"docker":[]}', /list of "user:token"/],
    ["[1]", /JSON object/],
  ])("reports %s", (raw, message) => {
    expect(() => parseConfig({ PROXY_USERS: "a:b", UPSTREAM_CREDENTIALS: raw })).toThrow(message);
  });

  it("never quotes a secret in a configuration error", () => {
    try {
      parseConfig({
        PROXY_USERS: "alice:s3cret,alice:s3cret2,broken",
        UPSTREAM_CREDENTIALS: '{"docker":["u:t0ken", 5]}',
      });
      expect.unreachable();
    } catch (e) {
      expect(String((e as Error).message)).not.toMatch(/s3cret|t0ken/);
    }
  });
});
