import { describe, expect, it } from "vitest";
import { BUILTIN_UPSTREAMS } from "../src/upstreams";

describe("BUILTIN_UPSTREAMS", () => {
  it("is the README's table, in display order", () => {
    expect(BUILTIN_UPSTREAMS.map((u) => [u.route, u.name, u.url])).toEqual([
      ["docker", "docker.io", "https://registry-1.docker.io"],
      ["quay", "quay.io", "https://quay.io"],
      ["gcr", "gcr.io", "https://gcr.io"],
      ["k8s-gcr", "k8s.gcr.io", "https://k8s.gcr.io"],
      ["k8s", "registry.k8s.io", "https://registry.k8s.io"],
      ["ghcr", "ghcr.io", "https://ghcr.io"],
      ["cloudsmith", "docker.cloudsmith.io", "https://docker.cloudsmith.io"],
      ["ecr", "public.ecr.aws", "https://public.ecr.aws"],
      ["mcr", "mcr.microsoft.com", "https://mcr.microsoft.com"],
      ["nvcr", "nvcr.io", "https://nvcr.io"],
      ["gitlab", "registry.gitlab.com", "https://registry.gitlab.com"],
      ["elastic", "docker.elastic.co", "https://docker.elastic.co"],
    ]);
  });

  it("gives Docker Hub alone its library/ quirk and its other host names", () => {
    const withQuirk = BUILTIN_UPSTREAMS.filter((u) => u.libraryPrefix).map((u) => u.route);
    expect(withQuirk).toEqual(["docker"]);
    expect(BUILTIN_UPSTREAMS[0]!.aliases).toEqual(["registry-1.docker.io", "index.docker.io"]);
    expect(BUILTIN_UPSTREAMS.slice(1).every((u) => u.aliases.length === 0)).toBe(true);
  });

  it("uses distinct route names and registry names, aliases included", () => {
    const routes = BUILTIN_UPSTREAMS.map((u) => u.route);
    const names = BUILTIN_UPSTREAMS.flatMap((u) => [u.name, ...u.aliases]);
    expect(new Set(routes).size).toBe(routes.length);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(BUILTIN_UPSTREAMS.map((u) => [u.route, u] as const))(
    "%s: a one-label route, a lower-case host name, an https base URL without a trailing slash",
    (_, upstream) => {
      expect(upstream.route).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/);
      expect(upstream.name).toMatch(/^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/);
      expect(upstream.name).toContain(".");
      const url = new URL(upstream.url);
      expect(url.protocol).toBe("https:");
      expect(`${url.origin}${url.pathname.replace(/\/$/, "")}`).toBe(upstream.url);
      expect(upstream.url.endsWith("/")).toBe(false);
    },
  );
});
