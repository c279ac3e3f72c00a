/**
 * Repository names and tags outside the distribution-spec grammar: refused with NAME_INVALID
 * before any upstream is asked. Valid-but-unknown names go to the configured upstream only.
 */

import { category, type Case } from "./check";
import { BLOB, MANIFEST } from "./world";

const NAME_255 = `${"a".repeat(127)}/${"b".repeat(127)}`;
const NAMES: Case[] = [
  ...(
    [
      ["uppercase", "Nginx"],
      ["uppercase second component", "library/NGINX"],
      ["uppercase registry prefix", "GHCR.IO/org/tool"],
      ["leading -", "-nginx"],
      ["leading .", ".nginx"],
      ["leading _", "_nginx"],
      ["trailing -", "nginx-"],
      ["trailing .", "nginx."],
      ["trailing _", "nginx_"],
      ["three underscores ___", "a___b"],
      ["double dot ..", "a..b"],
      ["mixed separators ._", "a._b"],
      ["mixed separators .-", "a.-b"],
      ["empty component a//b", "a//b"],
      ["trailing slash", "nginx/"],
      ["encoded space", "ng%20inx"],
      ["leading encoded space", "%20nginx"],
      ["encoded tab", "ng%09inx"],
      ["+ as space", "ng+inx"],
      ["raw space (encoded by the URL parser)", "ng inx"],
      ["Latin-1 letter ï", "ngïnx"],
      ["Cyrillic homoglyph х", "ngiх"],
      ["fullwidth letters", "ｎｇｉｎｘ"],
      ["zero-width space", "ng%e2%80%8binx"],
      ["right-to-left override", "%e2%80%aexnign"],
      ["emoji", "nginx🐳"],
      ["control %01", "ng%01inx"],
      ["DEL %7f", "nginx%7f"],
      ["CRLF %0d%0a", "nginx%0d%0aX-Injected:%201"],
      ["ANSI escape %1b[31m", "%1b[31mnginx"],
      ["raw control char (encoded by the URL parser)", "ng\u0001inx"],
      ["colon nginx:latest", "nginx:latest"],
      ["at sign nginx@sha256", `nginx@${BLOB}`],
      ["wildcard *", "nginx*"],
      ["encoded ?", "nginx%3f"],
      ["brackets", "[nginx]"],
      ["quote", "ngi%22nx"],
      ["256 characters", `${"a".repeat(128)}/${"b".repeat(127)}`],
      ["255 characters, one component: library/ makes it 263", "a".repeat(255)],
      ["10 000 characters", `${"a".repeat(5000)}/${"b".repeat(4999)}`],
      ["200 components", Array(200).fill("a").join("/")],
    ] as const
  ).map(
    ([label, name]): Case => ({
      name: `name: ${label}`,
      url: `/v2/${name}/manifests/latest`,
      code: "NAME_INVALID",
      status: 400,
    }),
  ),
  { name: "name: uppercase on tags/list", url: "/v2/NGINX/tags/list", code: "NAME_INVALID" },
  { name: "name: uppercase on a blob", url: `/v2/NGINX/blobs/${BLOB}`, code: "NAME_INVALID" },
  {
    name: "name: uppercase on referrers",
    url: `/v2/NGINX/referrers/${MANIFEST}`,
    code: "NAME_INVALID",
  },
  {
    name: "name: HEAD with an invalid name has no body",
    url: "/v2/Nginx/manifests/latest",
    init: { method: "HEAD" },
    code: "NAME_INVALID",
    status: 400,
  },
  {
    name: "name: 255 characters, valid, unknown: asks Docker Hub only",
    url: `/v2/${NAME_255}/manifests/latest`,
    upstream: true,
    status: 401,
  },
  {
    name: "name: two underscores a__b is valid, unknown",
    url: "/v2/a__b/manifests/latest",
    upstream: true,
  },
  {
    name: "name: many dashes a---b is valid, unknown",
    url: "/v2/a---b/manifests/latest",
    upstream: true,
  },
  ...(
    [
      ["129 characters", "a".repeat(129)],
      ["10 000 characters", "a".repeat(10000)],
      ["leading -", "-latest"],
      ["leading .", ".latest"],
      ["!", "latest!"],
      ["encoded space", "lat%20est"],
      ["NUL", "latest%00"],
      ["Unicode ⓛ", "ⓛatest"],
      ["encoded slash", "v1%2f..%2fv2"],
      ["tilde", "latest~1"],
      ["plus", "1.0+build"],
    ] as const
  ).map(
    ([label, tag]): Case => ({
      name: `tag: ${label}`,
      url: `/v2/nginx/manifests/${tag}`,
      // Neither a tag nor a digest names no manifest (OCI conformance: 404).
      code: "MANIFEST_UNKNOWN",
      status: 404,
    }),
  ),
  {
    name: "tag: HEAD with a 129-character tag has no body",
    url: `/v2/nginx/manifests/${"a".repeat(129)}`,
    init: { method: "HEAD" },
    code: "MANIFEST_UNKNOWN",
  },
  {
    name: "tag: CRLF header injection (its colon makes it a digest)",
    url: "/v2/nginx/manifests/latest%0d%0aSet-Cookie:%20x=1",
    code: "DIGEST_INVALID",
  },
  {
    name: "tag: trailing colon is read as a digest",
    url: "/v2/nginx/manifests/latest:",
    code: "DIGEST_INVALID",
  },
  {
    name: "tag: leading colon is read as a digest",
    url: "/v2/nginx/manifests/:latest",
    code: "DIGEST_INVALID",
  },
  {
    name: "tag: latest@sha256:… is read as a digest",
    url: `/v2/nginx/manifests/latest@${BLOB}`,
    code: "DIGEST_INVALID",
  },
  { name: "tag: empty", url: "/v2/nginx/manifests/", code: "NOT_FOUND" },
  {
    name: "tag: 128 characters is valid, unknown upstream",
    url: `/v2/nginx/manifests/${"a".repeat(128)}`,
    upstream: true,
    code: "MANIFEST_UNKNOWN",
    status: 404,
  },
];

export default category(import.meta.url, "names and tags outside the grammar", NAMES);
