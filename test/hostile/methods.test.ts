/**
 * Methods a pull-only proxy does not serve, on every endpoint: 405 UNSUPPORTED with Allow,
 * nobody contacted. (CONNECT, TRACK and non-token methods cannot even be built: see below.)
 */

import { describe, expect, it } from "vitest";
import { category, isTestFile, type Case } from "./check";
import { BLOB, MANIFEST, nginx } from "./world";

const ENDPOINTS: Array<[string, string]> = [
  ["help page /", "/"],
  ["ping /v2/", "/v2/"],
  ["token /v2/auth", "/v2/auth"],
  ["manifest", "/v2/nginx/manifests/latest"],
  ["blob", `/v2/nginx/blobs/${BLOB}`],
  ["tags/list", "/v2/nginx/tags/list"],
  ["referrers", `/v2/nginx/referrers/${MANIFEST}`],
  ["upload", "/v2/nginx/blobs/uploads/"],
];
const METHODS = [
  "PUT",
  "POST",
  "PATCH",
  "DELETE",
  "OPTIONS",
  "TRACE",
  "PROPFIND",
  "PURGE",
  "patch",
  "Delete",
];

const METHOD_CASES: Case[] = [
  ...ENDPOINTS.flatMap(([label, path]) =>
    METHODS.map((method): Case => {
      const base = { name: `${method} ${label}`, url: path, init: { method } };
      if (path === "/v2/auth" && method === "POST") {
        return { ...base, status: 400, code: "PARAMETER_INVALID" }; // the token form, empty: no grant_type
      }
      if (path.includes("/uploads/")) return { ...base, status: 405, code: "UNSUPPORTED" };
      return {
        ...base,
        status: 405,
        code: "UNSUPPORTED",
        allow: path === "/v2/auth" ? "GET, HEAD, POST" : "GET, HEAD",
      };
    }),
  ),
  {
    name: "PUT a manifest with a body",
    url: "/v2/nginx/manifests/latest",
    init: {
      method: "PUT",
      body: nginx.manifest,
      headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
    },
    status: 405,
    code: "UNSUPPORTED",
  },
  {
    name: "POST a blob upload",
    url: "/v2/nginx/blobs/uploads/?digest=sha256:abc",
    init: { method: "POST", body: "x" },
    status: 405,
    code: "UNSUPPORTED",
  },
  {
    name: "PATCH an upload session",
    url: "/v2/nginx/blobs/uploads/0a1b2c",
    init: { method: "PATCH", body: "x" },
    status: 405,
    code: "UNSUPPORTED",
  },
  {
    name: "DELETE a blob",
    url: `/v2/nginx/blobs/${BLOB}`,
    init: { method: "DELETE" },
    status: 405,
  },
  {
    name: "POST to a cross-repo mount",
    url: `/v2/nginx/blobs/uploads/?mount=${BLOB}&from=library/alpine`,
    init: { method: "POST" },
    status: 405,
  },
  {
    name: "X-HTTP-Method-Override: DELETE on a GET",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { "x-http-method-override": "DELETE" } },
    ok: "method",
    why: "the override header is ignored: this is a GET, a pull",
  },
  {
    name: "lowercase get",
    url: "/v2/nginx/manifests/latest",
    init: { method: "get" },
    ok: "method",
    why: "the fetch spec normalises get to GET: a pull",
  },
  {
    name: "lowercase head",
    url: "/v2/nginx/manifests/latest",
    init: { method: "head" },
    ok: "method",
    why: "normalised to HEAD: a pull, without a body",
  },
  {
    name: "HEAD on the k8s ping (upstream without auth)",
    url: "https://k8s.example.com/v2/",
    init: { method: "HEAD" },
    ok: "head",
    why: "HEAD /v2/ is a ping",
  },
  {
    name: "HEAD on the token endpoint",
    url: "/v2/auth?scope=repository:nginx:pull",
    init: { method: "HEAD" },
    ok: "head",
    why: "Allow advertises HEAD on /v2/auth",
  },
  {
    name: "HEAD on the help page",
    url: "/",
    init: { method: "HEAD" },
    ok: "head",
    why: "HEAD / is the help page's headers",
  },
];

export default category(import.meta.url, "unsupported methods", METHOD_CASES);

// Not cases: what the runtime refuses before the Worker sees it.
if (isTestFile(import.meta.url)) {
  describe("requests the runtime refuses before the Worker", () => {
    // If workerd ever lets these through, they belong in the method table above.
    it.each(["CONNECT", "TRACK", "M-SEARCH"])("cannot build a %s request", (method) => {
      expect(() => new Request("https://docker.example.com/v2/", { method })).toThrow(TypeError);
    });
    it("cannot build a header with CR LF", () => {
      const headers = { range: "bytes=0-1\r\nx-injected: 1" };
      expect(() => new Request("https://docker.example.com/v2/", { headers })).toThrow(TypeError);
    });
  });
}
