import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseConfig } from "../src/config";

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
    expect(config.defaultRegistry.registry).toBe("docker.io");
    expect(config.defaultRegistry.url).toBe("https://registry-1.docker.io");
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
      registry: "docker.io",
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
      registry: "127.0.0.1:5001",
      libraryPrefix: false,
    });
    expect(config.byName.get("harbor.example.net")?.url).toBe("https://harbor.example.net/base");
    expect(config.defaultRegistry.route).toBe("harbor");
  });

  it.each([
    ["{not json", /not valid JSON/],
    ["[1]", /must be a JSON object/],
    ['{"Bad_Name":"https://x"}', /one DNS label/],
    ['{"x":42}', /expected a URL string/],
    ['{"x":"ftp://x"}', /http\(s\) URL/],
    ['{"x":"https://u:p@x"}', /credentials do not belong/],
    ['{"x":"https://x/?a=1"}', /query or fragment/],
    ['{"x":"not a url"}', /is not a URL/],
    ['{"docker":{"url":"https://x","registry":"evil.io"}}', /always "docker.io"/],
    ['{"x":{"url":"https://x","registry":"Not A Host"}}', /registry host name/],
    ['{"x":{"url":"https://x","registry":"ghcr.io"}}', /both use registry name "ghcr.io"/],
  ])("reports UPSTREAMS %s", (raw, message) => {
    expect(problems({ UPSTREAMS: raw }).join("; ")).toMatch(message);
  });

  it("reports an unknown DEFAULT_ROUTE with the list of routes", () => {
    expect(problems({ DEFAULT_ROUTE: "nope" })[0]).toMatch(
      /"nope" is not a route \(routes: docker, quay/,
    );
  });

  it.each(["abc", "5", "1.5", "999999"])("reports UPSTREAM_TIMEOUT_MS=%j", (value) => {
    expect(problems({ UPSTREAM_TIMEOUT_MS: value })[0]).toMatch(/UPSTREAM_TIMEOUT_MS/);
  });

  it("collects every problem into one error", () => {
    expect(
      problems({ UPSTREAMS: '{"x":"ftp://a","y":"ftp://b"}', DEFAULT_ROUTE: "z" }),
    ).toHaveLength(3);
  });

  it("parses once per env object", () => {
    const env = { UPSTREAMS: "" };
    expect(loadConfig(env)).toBe(loadConfig(env));
    expect(loadConfig({ UPSTREAMS: "" })).not.toBe(loadConfig(env));
  });
});
