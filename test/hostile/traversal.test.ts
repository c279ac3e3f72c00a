/**
 * Path traversal: raw, percent-encoded, double-encoded, backslashes, `//`, `;` parameters, NUL,
 * overlong UTF-8; inside names, tags and digests. The URL parser resolves `..`, `%2e%2e` and
 * backslashes before the Worker sees the path, so those land on other paths of this proxy, never
 * on anything else; whatever survives encoded is outside the name/tag/digest grammar.
 */

import { category, type Case } from "./check";
import { BLOB } from "./world";

const TRAVERSAL: Case[] = [
  { name: "raw ../ out of /v2", url: "/v2/../etc/passwd", code: "NOT_FOUND", status: 404 },
  { name: "%2e%2e/ out of /v2", url: "/v2/%2e%2e/etc/passwd", code: "NOT_FOUND" },
  {
    name: "%2E%2E/%2e%2e/ (upper and lower)",
    url: "/v2/%2E%2E/%2e%2e/etc/passwd",
    code: "NOT_FOUND",
  },
  { name: ".%2e/ mixed", url: "/v2/.%2e/etc/passwd", code: "NOT_FOUND" },
  {
    name: "double-encoded %252e%252e in a name",
    url: "/v2/%252e%252e/etc/passwd/manifests/latest",
    code: "NAME_INVALID",
  },
  {
    name: "double-encoded %252e%252e%252f",
    url: "/v2/%252e%252e%252f/manifests/latest",
    code: "NAME_INVALID",
  },
  {
    name: "..%2f..%2f inside a name",
    url: "/v2/..%2f..%2fetc%2fpasswd/manifests/latest",
    code: "NAME_INVALID",
  },
  {
    name: "..%2f after a valid component",
    url: "/v2/nginx/..%2f..%2f/manifests/latest",
    code: "NAME_INVALID",
  },
  {
    name: "%2f-encoded slashes in a name",
    url: "/v2/%2fetc%2fpasswd/manifests/latest",
    code: "NAME_INVALID",
  },
  {
    name: "%2f-encoded prefix ghcr.io%2forg%2ftool",
    url: "/v2/ghcr.io%2forg%2ftool/manifests/latest",
    code: "NAME_INVALID",
  },
  {
    name: "raw backslashes ..\\..\\ (URL parser turns them into /)",
    url: "/v2/..\\..\\etc\\passwd",
    code: "NOT_FOUND",
  },
  {
    name: "%5c-encoded backslashes in a name",
    url: "/v2/nginx%5c..%5c..%5cetc/manifests/latest",
    code: "NAME_INVALID",
  },
  {
    name: "%2e%2e%5c mixed encodings",
    url: "/v2/%2e%2e%5c%2e%2e%5cetc/manifests/latest",
    code: "NAME_INVALID",
  },
  { name: "leading // before v2", url: "//v2/nginx/manifests/latest", code: "NOT_FOUND" },
  {
    name: "// after v2 (empty first component)",
    url: "/v2//nginx/manifests/latest",
    code: "NAME_INVALID",
  },
  { name: "// inside a name", url: "/v2/library//nginx/manifests/latest", code: "NAME_INVALID" },
  { name: "// before the tag", url: "/v2/nginx/manifests//latest", code: "NOT_FOUND" },
  { name: ";param in a name", url: "/v2/nginx;evil=1/manifests/latest", code: "NAME_INVALID" },
  {
    name: ";param after a tag",
    url: "/v2/nginx/manifests/latest;ns=evil.com",
    code: "MANIFEST_UNKNOWN",
  },
  {
    name: "%3b-encoded ;param after a tag",
    url: "/v2/nginx/manifests/latest%3bns=evil.com",
    code: "MANIFEST_UNKNOWN",
  },
  { name: ";param after a digest", url: `/v2/nginx/blobs/${BLOB};x=1`, code: "DIGEST_INVALID" },
  { name: "NUL %00 in a name", url: "/v2/nginx%00/manifests/latest", code: "NAME_INVALID" },
  { name: "NUL %00 in a tag", url: "/v2/nginx/manifests/latest%00.json", code: "MANIFEST_UNKNOWN" },
  { name: "NUL %00 in a digest", url: `/v2/nginx/blobs/${BLOB}%00`, code: "DIGEST_INVALID" },
  {
    name: "overlong UTF-8 %c0%ae%c0%ae in a name",
    url: "/v2/%c0%ae%c0%ae/etc/passwd/manifests/latest",
    code: "NAME_INVALID",
  },
  {
    name: "overlong UTF-8 %c0%ae as a tag",
    url: "/v2/nginx/manifests/%c0%ae%c0%ae",
    code: "MANIFEST_UNKNOWN",
  },
  {
    name: "3-byte overlong %e0%80%ae",
    url: "/v2/%e0%80%ae%e0%80%ae/x/manifests/latest",
    code: "NAME_INVALID",
  },
  {
    name: "IIS-style %u002e%u002e",
    url: "/v2/%u002e%u002e/x/manifests/latest",
    code: "NAME_INVALID",
  },
  {
    name: "... is no dot segment but no name either",
    url: "/v2/.../manifests/latest",
    code: "NAME_INVALID",
  },
  { name: "tag .. resolves to /v2/nginx/", url: "/v2/nginx/manifests/..", code: "NOT_FOUND" },
  {
    name: "tag %2e%2e resolves to /v2/nginx/",
    url: "/v2/nginx/manifests/%2e%2e",
    code: "NOT_FOUND",
  },
  { name: "tag ..%2fsecret", url: "/v2/nginx/manifests/..%2fsecret", code: "MANIFEST_UNKNOWN" },
  {
    name: "tag latest%2f..%2f..%2fetc%2fpasswd",
    url: "/v2/nginx/manifests/latest%2f..%2f..%2f..%2fetc%2fpasswd",
    code: "MANIFEST_UNKNOWN",
  },
  {
    name: "digest manifest ref sha256:..%2f..",
    url: "/v2/nginx/manifests/sha256:..%2f..",
    code: "DIGEST_INVALID",
  },
  {
    name: "blob ..%2f..%2fsha256:…",
    url: `/v2/nginx/blobs/..%2f..%2f${BLOB}`,
    code: "DIGEST_INVALID",
  },
  {
    name: "blob sha256:..%2f..%2f",
    url: "/v2/nginx/blobs/sha256:..%2f..%2f",
    code: "DIGEST_INVALID",
  },
  { name: "referrers ..%2fx", url: "/v2/nginx/referrers/..%2fx", code: "DIGEST_INVALID" },
  {
    name: "uploads%2f..%2f is not the upload path but no digest",
    url: "/v2/nginx/blobs/uploads%2f..%2f",
    code: "DIGEST_INVALID",
  },
  {
    name: "tags/list/../../../_catalog resolves to /v2/_catalog",
    url: "/v2/nginx/tags/list/../../../_catalog",
    code: "NOT_FOUND",
  },
  {
    name: "ghcr.io/org/../../evil.com resolves to an unknown registry prefix",
    url: "/v2/ghcr.io/org/../../evil.com/x/manifests/latest",
    code: "NAME_UNKNOWN",
  },
  {
    // The URL parser resolves the dot segment: the client asked for nginx on Docker Hub.
    name: "evil/../nginx resolves to a plain pull",
    url: "/v2/evil/../nginx/manifests/latest",
    ok: "resolved",
    why: "dot segments are resolved before the Worker: this is GET /v2/nginx/manifests/latest",
  },
  {
    name: "manifests/latest/../../../ghcr.io/… resolves to a configured prefix",
    url: "/v2/nginx/manifests/latest/../../../ghcr.io/org/tool/manifests/latest",
    ok: "resolved",
    why: "resolves to /v2/ghcr.io/org/tool/manifests/latest, and ghcr.io is a configured upstream",
  },
  {
    name: "%2e/ single-dot segment",
    url: "/v2/%2e/nginx/manifests/latest",
    ok: "resolved",
    why: "a single-dot segment is dropped by the URL parser: GET /v2/nginx/manifests/latest",
  },
  {
    name: "uploads/../../ resolves away from the upload path",
    url: "/v2/nginx/blobs/uploads/../../manifests/latest",
    ok: "resolved",
    why: "resolves to GET /v2/nginx/manifests/latest, a pull",
  },
  {
    name: "traversal in the query string of a manifest",
    url: "/v2/nginx/manifests/latest?../../etc/passwd",
    ok: "ignored",
    why: "manifest requests forward no query parameter; the path is a plain pull",
  },
  {
    name: "traversal in the fragment",
    url: "/v2/nginx/manifests/latest#/../../etc/passwd",
    ok: "ignored",
    why: "fragments never reach the server",
  },
];

export default category(import.meta.url, "path traversal", TRAVERSAL);
