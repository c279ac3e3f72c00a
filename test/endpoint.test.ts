import { describe, expect, it } from "vitest";
import { allowedMethods, checkMethod, parseEndpoint } from "../src/endpoint";
import { RegistryError } from "../src/errors";

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
    ["/v2/auth", { kind: "token" }],
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
    // Neither a tag nor a digest names no manifest: 404, as registries answer (OCI conformance).
    ["/v2/a/manifests/bad%20tag", "MANIFEST_UNKNOWN"],
    ["/v2/a/manifests/.INVALID_MANIFEST_NAME", "MANIFEST_UNKNOWN"],
    ["/v2/a/manifests/sha256:123", "DIGEST_INVALID"],
    ["/v2/a/blobs/latest", "DIGEST_INVALID"],
    ["/v2/a/referrers/latest", "DIGEST_INVALID"],
  ])("refuses %s with %s", (path, code) => expect(codeOf(() => parseEndpoint(path))).toBe(code));
});

describe("methods", () => {
  it("takes GET and HEAD everywhere, and POST only on the token endpoint", () => {
    expect(allowedMethods({ kind: "token" })).toEqual(["GET", "HEAD", "POST"]);
    expect(allowedMethods({ kind: "ping" })).toEqual(["GET", "HEAD"]);
    expect(codeOf(() => checkMethod({ kind: "token" }, "POST"))).toBe("ok");
    expect(codeOf(() => checkMethod({ kind: "blob", name: "a", digest: D }, "HEAD"))).toBe("ok");
  });

  it.each(["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"])(
    "refuses %s on a repository endpoint with 405 and the Allow header",
    (method) => {
      try {
        checkMethod({ kind: "manifest", name: "a", reference: "v1" }, method);
        expect.unreachable();
      } catch (e) {
        expect((e as RegistryError).status).toBe(405);
        expect((e as RegistryError).headers.allow).toBe("GET, HEAD");
      }
    },
  );
});
