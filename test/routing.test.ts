import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config";
import { RegistryError } from "../src/errors";
import { hostTarget, requestTarget, resolveRepository } from "../src/routing";

const config = parseConfig({
  UPSTREAMS: '{"local":{"url":"http://127.0.0.1:5001","registry":"local.test"}}',
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    return (e as RegistryError).code;
  }
}

describe("hostTarget", () => {
  it("uses the first DNS label", () => {
    expect(hostTarget(config, "ghcr.example.com")).toMatchObject({
      via: "host",
      upstream: { route: "ghcr" },
    });
    expect(hostTarget(config, "K8S-GCR.Example.com").upstream.route).toBe("k8s-gcr");
    expect(hostTarget(config, "local.example.com").upstream.route).toBe("local");
  });

  it.each([
    "proxy.example.workers.dev",
    "example.com",
    "127.0.0.1",
    "[::1]",
    "xn--bcher-kva.example",
  ])("falls back to the default route for %s", (host) =>
    expect(hostTarget(config, host)).toMatchObject({
      via: "default",
      upstream: { route: "docker" },
    }),
  );
});

describe("resolveRepository", () => {
  const at = (ns: string | null, host = "docker.example.com") =>
    new URL(`https://${host}/v2/${ns === null ? "" : `?ns=${encodeURIComponent(ns)}`}`);

  it("completes library/ for Docker Hub names without a namespace", () => {
    expect(resolveRepository(config, at(null), "nginx")).toMatchObject({
      repository: "library/nginx",
      clientName: "nginx",
      via: "host",
    });
    expect(resolveRepository(config, at(null), "user/tool").repository).toBe("user/tool");
  });

  it("does not complete library/ on other registries", () => {
    expect(resolveRepository(config, at(null, "ghcr.example.com"), "tool").repository).toBe("tool");
  });

  it("routes by containerd's ns", () => {
    expect(resolveRepository(config, at("ghcr.io"), "org/tool")).toMatchObject({
      via: "ns",
      repository: "org/tool",
      upstream: { route: "ghcr" },
    });
    expect(resolveRepository(config, at("docker.io"), "alpine").repository).toBe("library/alpine");
    expect(resolveRepository(config, at("local.test"), "a").upstream.route).toBe("local");
  });

  it("routes by a registry-name path prefix, which beats ns and host", () => {
    expect(resolveRepository(config, at("quay.io"), "ghcr.io/org/tool")).toMatchObject({
      via: "prefix",
      repository: "org/tool",
      clientName: "ghcr.io/org/tool",
      upstream: { route: "ghcr" },
    });
    expect(resolveRepository(config, at(null), "docker.io/nginx").repository).toBe("library/nginx");
    expect(resolveRepository(config, at(null), "index.docker.io/library/nginx").repository).toBe(
      "library/nginx",
    );
  });

  it.each([
    ["evil.example.com/x", null],
    ["localhost/x", null],
    ["org/tool", "evil.example.com"],
    ["org/tool", "127.0.0.1:5001"],
  ])("refuses %s (ns %s): not a configured upstream", (name, ns) => {
    expect(codeOf(() => resolveRepository(config, at(ns), name))).toBe("NAME_UNKNOWN");
  });

  it("checks the upstream name after rewriting", () => {
    expect(codeOf(() => resolveRepository(config, at(null), `${"a".repeat(250)}`))).toBe(
      "NAME_INVALID",
    );
  });
});

describe("requestTarget", () => {
  it("takes containerd's ns over the host, and refuses an ns that names no upstream", () => {
    expect(
      requestTarget(config, new URL("https://docker.example.com/v2/?ns=GHCR.io")),
    ).toMatchObject({
      via: "ns",
      upstream: { route: "ghcr" },
    });
    expect(requestTarget(config, new URL("https://ghcr.example.com/v2/"))).toMatchObject({
      via: "host",
      upstream: { route: "ghcr" },
    });
    expect(
      codeOf(() => requestTarget(config, new URL("https://x.example/v2/?ns=evil.example"))),
    ).toBe("NAME_UNKNOWN");
  });
});
