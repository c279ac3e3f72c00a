import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config";
import { RegistryError } from "../src/errors";
import { hostRoute, parseEndpoint, resolveRepository } from "../src/routing";

const config = parseConfig({
  UPSTREAMS: '{"local":{"url":"http://127.0.0.1:5001","registry":"local.test"}}',
});
const D = `sha256:${"d".repeat(64)}`;

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    return (e as RegistryError).code;
  }
}

describe("parseEndpoint", () => {
  it.each([
    ["/", { kind: "help" }],
    ["/v2", { kind: "ping" }],
    ["/v2/", { kind: "ping" }],
    ["/v2/auth", { kind: "auth" }],
    ["/v2/nginx/manifests/latest", { kind: "manifest", name: "nginx", reference: "latest" }],
    [`/v2/a/b/manifests/${D}`, { kind: "manifest", name: "a/b", reference: D }],
    [`/v2/a/blobs/${D}`, { kind: "blob", name: "a", digest: D }],
    ["/v2/a/b/tags/list", { kind: "tags", name: "a/b" }],
    [`/v2/a/referrers/${D}`, { kind: "referrers", name: "a", digest: D }],
    // A repository may itself be called "manifests": the last match wins.
    ["/v2/x/manifests/manifests/v1", { kind: "manifest", name: "x/manifests", reference: "v1" }],
    [
      "/v2/ghcr.io/org/tool/manifests/v1",
      { kind: "manifest", name: "ghcr.io/org/tool", reference: "v1" },
    ],
  ])("maps %s", (path, endpoint) => expect(parseEndpoint(path)).toEqual(endpoint));

  it.each([
    ["/v2/_catalog", "NOT_FOUND"],
    ["/v2/a/unknown/x", "NOT_FOUND"],
    ["/favicon.ico", "NOT_FOUND"],
    ["/v2/a/blobs/uploads/", "UNSUPPORTED"],
    ["/v2/a/blobs/uploads/123", "UNSUPPORTED"],
    ["/v2/A/manifests/latest", "NAME_INVALID"],
    ["/v2/a%2fb/manifests/latest", "NAME_INVALID"],
    ["/v2/a/manifests/bad%20tag", "NAME_INVALID"],
    ["/v2/a/manifests/sha256:123", "DIGEST_INVALID"],
    ["/v2/a/blobs/latest", "DIGEST_INVALID"],
    ["/v2/a/referrers/latest", "DIGEST_INVALID"],
  ])("refuses %s with %s", (path, code) => expect(codeOf(() => parseEndpoint(path))).toBe(code));
});

describe("hostRoute", () => {
  it("uses the first DNS label", () => {
    expect(hostRoute(config, "ghcr.example.com")).toMatchObject({
      source: "host",
      registry: { route: "ghcr" },
    });
    expect(hostRoute(config, "K8S-GCR.Example.com").registry.route).toBe("k8s-gcr");
    expect(hostRoute(config, "local.example.com").registry.route).toBe("local");
  });

  it.each([
    "proxy.example.workers.dev",
    "example.com",
    "127.0.0.1",
    "[::1]",
    "xn--bcher-kva.example",
  ])("falls back to the default route for %s", (host) =>
    expect(hostRoute(config, host)).toMatchObject({
      source: "default",
      registry: { route: "docker" },
    }),
  );
});

describe("resolveRepository", () => {
  const docker = hostRoute(config, "docker.example.com");

  it("completes library/ for Docker Hub names without a namespace", () => {
    expect(resolveRepository(config, docker, null, "nginx")).toMatchObject({
      repository: "library/nginx",
      clientName: "nginx",
      source: "host",
    });
    expect(resolveRepository(config, docker, null, "user/tool").repository).toBe("user/tool");
  });

  it("does not complete library/ on other registries", () => {
    expect(
      resolveRepository(config, hostRoute(config, "ghcr.example.com"), null, "tool").repository,
    ).toBe("tool");
  });

  it("routes by containerd's ns", () => {
    expect(resolveRepository(config, docker, "ghcr.io", "org/tool")).toMatchObject({
      source: "ns",
      repository: "org/tool",
      registry: { route: "ghcr" },
    });
    expect(resolveRepository(config, docker, "docker.io", "alpine").repository).toBe(
      "library/alpine",
    );
    expect(resolveRepository(config, docker, "local.test", "a").registry.route).toBe("local");
  });

  it("routes by a registry-name path prefix, which beats ns and host", () => {
    expect(resolveRepository(config, docker, "quay.io", "ghcr.io/org/tool")).toMatchObject({
      source: "prefix",
      repository: "org/tool",
      clientName: "ghcr.io/org/tool",
      registry: { route: "ghcr" },
    });
    expect(resolveRepository(config, docker, null, "docker.io/nginx").repository).toBe(
      "library/nginx",
    );
    expect(
      resolveRepository(config, docker, null, "index.docker.io/library/nginx").repository,
    ).toBe("library/nginx");
  });

  it.each([
    ["evil.example.com/x", null],
    ["localhost/x", null],
    ["org/tool", "evil.example.com"],
    ["org/tool", "127.0.0.1:5001"],
  ])("refuses %s (ns %s): not a configured upstream", (name, ns) => {
    expect(codeOf(() => resolveRepository(config, docker, ns, name))).toBe("NAME_UNKNOWN");
  });

  it("checks the upstream name after rewriting", () => {
    expect(codeOf(() => resolveRepository(config, docker, null, `${"a".repeat(250)}`))).toBe(
      "NAME_INVALID",
    );
  });
});
