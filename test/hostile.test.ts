// Hostile-input corpus: hundreds of malformed or malicious requests against the whole Worker,
// inside workerd, with a fake upstream world that counts every request.
//
// For every case:
//   - the Worker answers 4xx in OCI error format (HEAD: no body), or a 2xx that the case documents
//     as legitimate (`ok: "why"`); never a 5xx;
//   - no request goes to a host that is not a registered fake upstream (`net.unexpected` is empty
//     and every host in `net.seen` is one of ours), and errors that the proxy can decide on its own
//     contact nobody at all (unless the case says `upstream: true`);
//   - upstream requests carry only the headers a registry needs (no Host, Cookie, X-Forwarded-*).
//
// The fake upstreams behave like real HTTP servers in two ways that matter here: they refuse
// oversized request headers or URLs (431/414 with an HTML page, as nginx and Go's net/http do), and
// the blob CDN implements Range the way RFC 9110 and S3 do (`serveBytes`: invalid Range ignored,
// unsatisfiable Range answered 416 with an XML page).
import { env as testBindings } from "cloudflare:test";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isErrorCode } from "../src/errors";
import type { Bindings } from "../src/index";
import { BUILTIN_UPSTREAMS } from "../src/upstreams";
import { FakeNet, fakeRegistry, makeImage } from "./helpers/fake-registry";
import { callWorker, testEnv } from "./helpers/worker";

// ---------------------------------------------------------------------------------------------
// The fake upstream world
// ---------------------------------------------------------------------------------------------

const HUB = "registry-1.docker.io";
const HUB_AUTH = "auth.docker.io";
const CDN = "production.cloudflare.docker.com";
const GHCR = "ghcr.io";

type Handler = Parameters<FakeNet["on"]>[1];

/** Header bytes a real front end accepts before answering 431 (nginx: 8 KiB a line, 32 KiB in all). */
const MAX_UPSTREAM_HEADER_BYTES = 16 * 1024;
/** URL length a real front end accepts before answering 414. */
const MAX_UPSTREAM_URL = 16 * 1024;

/** FakeNet whose hosts refuse oversized requests the way real HTTP servers do. */
class RealisticNet extends FakeNet {
  override on(host: string, handler: Handler): this {
    return super.on(host, (request, url) => refuseOversized(request) ?? handler(request, url));
  }
}

function refuseOversized(request: Request): Response | undefined {
  let size = 0;
  for (const [name, value] of request.headers) size += name.length + value.length + 4;
  const page = (status: number, text: string) =>
    new Response(`<html><center><h1>${status} ${text}</h1></center></html>`, {
      status,
      headers: { "content-type": "text/html" },
    });
  if (size > MAX_UPSTREAM_HEADER_BYTES) return page(431, "Request Header Fields Too Large");
  if (request.url.length > MAX_UPSTREAM_URL) return page(414, "URI Too Long");
  return undefined;
}

// Images are deterministic, so their digests can be used in the case tables below.
const nginx = await makeImage("nginx");
const tool = await makeImage("tool");
const BLOB = nginx.blobDigest;
const MANIFEST = nginx.manifestDigest;
const HEX64 = "0123456789abcdef".repeat(4);
const UNKNOWN_DIGEST = `sha256:${"0".repeat(64)}`;

/** Every host the fake world serves: Docker Hub with its token server and CDN, and every built-in. */
const UPSTREAM_HOSTS = new Set([
  HUB_AUTH,
  CDN,
  ...BUILTIN_UPSTREAMS.map((r) => new URL(r.url).host),
]);
/** Headers an upstream request may carry (upstream.ts FORWARDED_HEADERS, plus Authorization). */
const FORWARDABLE = new Set([
  "accept",
  "range",
  "if-none-match",
  "if-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
  "user-agent",
  "authorization",
]);

let net: RealisticNet;
let env: Bindings;

beforeEach(() => {
  // A fresh cache namespace per case (nothing one case stores is seen by another), and the R2
  // bucket bound as deployers bind it, so the content store is part of what is attacked.
  env = testEnv({
    CACHE_BUCKET: (testBindings as unknown as { CACHE_BUCKET: R2Bucket }).CACHE_BUCKET,
    // Clients may bring their own registry credentials: the token paths are part of what is attacked.
    TOKEN_SECRET: "hostile-corpus-token-secret",
  });
  net = new RealisticNet();
  fakeRegistry(net, {
    host: HUB,
    authHost: HUB_AUTH,
    service: "registry.docker.io",
    cdnHost: CDN,
    repositories: { "library/nginx": nginx, "alice/private": nginx },
    privateRepositories: ["alice/private"],
  });
  fakeRegistry(net, { host: GHCR, authHost: GHCR, repositories: { "org/tool": tool } });
  for (const r of BUILTIN_UPSTREAMS) {
    const host = new URL(r.url).host;
    if (host !== HUB && host !== GHCR) {
      fakeRegistry(net, { host, repositories: { "org/tool": tool, pause: tool } });
    }
  }
});

afterEach(() => {
  vi.restoreAllMocks();
});

// ---------------------------------------------------------------------------------------------
// Cases and the checks every case goes through
// ---------------------------------------------------------------------------------------------

interface Case {
  name: string;
  /** Absolute URL, or a path on https://docker.example.com. */
  url: string;
  init?: RequestInit | (() => RequestInit);
  /** Exact status; default any 4xx (or 2xx with `ok`). */
  status?: number;
  /** OCI code of the first error. */
  code?: string;
  /** A documented 2xx: why the request is legitimate after all. */
  ok?: string;
  /** The proxy may (must) ask a configured upstream before answering. Default: contacts no one. */
  upstream?: boolean;
  /** Expected Allow header (405s). */
  allow?: string;
  /** Extra assertions. */
  check?: (response: Response, body: string) => void;
  /** Requests sent first with the same env (to fill the content store); they must not 5xx either. */
  prime?: Array<{ url: string; init?: RequestInit }>;
  /**
   * Why a 2xx HEAD may carry a body here: the Worker does not drop it itself (the runtime does, on
   * the wire). Everywhere else HEAD is checked: errors and repository responses have no body.
   */
  headBodyTolerated?: string;
}

const H = "https://docker.example.com";

const upstreamCalls = new Map<string, number>();
const statuses = new Map<number, number>();

const absolute = (url: string) => (url.startsWith("/") ? H + url : url);

async function run(c: Case): Promise<void> {
  for (const p of c.prime ?? []) {
    const primed = await callWorker(absolute(p.url), p.init ?? {}, env);
    await primed.arrayBuffer();
    expect(primed.status, `prime ${p.url}`).toBeLessThan(500);
  }
  const primedCalls = net.seen.length;
  const url = absolute(c.url);
  const init = typeof c.init === "function" ? c.init() : (c.init ?? {});
  const request = new Request(url, init);
  const response = await callWorker(url, init, env);
  const body = await response.text();
  const status = response.status;
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
  const where = `${request.method} ${url.slice(0, 200)} -> ${status} ${body.slice(0, 300)}`;

  // Never a 5xx.
  expect(status, where).toBeLessThan(500);
  expect(response.headers.get("docker-distribution-api-version"), where).toBe("registry/2.0");

  if (c.ok !== undefined) {
    expect(status, where).toBeGreaterThanOrEqual(200);
    expect(status, where).toBeLessThan(300);
  } else {
    expect(status, where).toBeGreaterThanOrEqual(400);
  }
  if (c.status !== undefined) expect(status, where).toBe(c.status);

  if (status >= 400) {
    // OCI error format; HEAD gets the headers only.
    expect(response.headers.get("content-type"), where).toMatch(/^application\/json/);
    if (request.method === "HEAD") {
      expect(body, where).toBe("");
    } else {
      const parsed = JSON.parse(body) as { errors?: unknown };
      expect(Array.isArray(parsed.errors), where).toBe(true);
      const errors = parsed.errors as Array<Record<string, unknown>>;
      expect(errors.length, where).toBeGreaterThan(0);
      for (const e of errors) {
        expect(typeof e.code === "string" && isErrorCode(e.code), where).toBe(true);
        expect(typeof e.message, where).toBe("string");
        expect(e, where).toHaveProperty("detail");
      }
      if (c.code !== undefined) expect(errors[0]!.code, where).toBe(c.code);
    }
  } else if (request.method === "HEAD" && c.headBodyTolerated === undefined) {
    expect(body, where).toBe("");
  }
  if (c.allow !== undefined) expect(response.headers.get("allow"), where).toBe(c.allow);

  // Not a single request to a host that is not a configured (fake) upstream.
  expect(net.unexpected, where).toEqual([]);
  for (const seen of net.seen) {
    const host = new URL(seen.url).host;
    expect(UPSTREAM_HOSTS.has(host), `${where}: contacted ${host}`).toBe(true);
    upstreamCalls.set(host, (upstreamCalls.get(host) ?? 0) + 1);
    for (const name of Object.keys(seen.headers)) {
      expect(FORWARDABLE.has(name), `${where}: forwarded header ${name}`).toBe(true);
    }
  }
  if (!c.upstream && c.ok === undefined) {
    expect(
      net.seen.slice(primedCalls).map((s) => s.url),
      where,
    ).toEqual([]);
  }

  c.check?.(response, body);
}

/** Shortens a generated URL for a readable case name. */
function short(text: string, max = 90): string {
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
}

// ---------------------------------------------------------------------------------------------
// 1. Path traversal: raw, percent-encoded, double-encoded, backslashes, `//`, `;` parameters, NUL,
//    overlong UTF-8; inside names, tags and digests. The URL parser resolves `..`, `%2e%2e` and
//    backslashes before the Worker sees the path, so those land on other paths of this proxy, never
//    on anything else; whatever survives encoded is outside the name/tag/digest grammar.
// ---------------------------------------------------------------------------------------------

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
    ok: "dot segments are resolved before the Worker: this is GET /v2/nginx/manifests/latest",
  },
  {
    name: "manifests/latest/../../../ghcr.io/… resolves to a configured prefix",
    url: "/v2/nginx/manifests/latest/../../../ghcr.io/org/tool/manifests/latest",
    ok: "resolves to /v2/ghcr.io/org/tool/manifests/latest, and ghcr.io is a configured upstream",
  },
  {
    name: "%2e/ single-dot segment",
    url: "/v2/%2e/nginx/manifests/latest",
    ok: "a single-dot segment is dropped by the URL parser: GET /v2/nginx/manifests/latest",
  },
  {
    name: "uploads/../../ resolves away from the upload path",
    url: "/v2/nginx/blobs/uploads/../../manifests/latest",
    ok: "resolves to GET /v2/nginx/manifests/latest, a pull",
  },
  {
    name: "traversal in the query string of a manifest",
    url: "/v2/nginx/manifests/latest?../../etc/passwd",
    ok: "manifest requests forward no query parameter; the path is a plain pull",
  },
  {
    name: "traversal in the fragment",
    url: "/v2/nginx/manifests/latest#/../../etc/passwd",
    ok: "fragments never reach the server",
  },
];

// ---------------------------------------------------------------------------------------------
// 2. Repository names and tags outside the distribution-spec grammar: refused with NAME_INVALID
//    before any upstream is asked. Valid-but-unknown names go to the configured upstream only.
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 3. Invalid digests and algorithms on blobs, manifests and referrers: DIGEST_INVALID, nobody asked.
//    `constructor:` probes the algorithm table for prototype keys (it answered 500 while that
//    table was a plain object).
// ---------------------------------------------------------------------------------------------

const BAD_DIGESTS: Array<[string, string]> = [
  ["md5", "md5:d41d8cd98f00b204e9800998ecf8427e"],
  ["sha1", "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709"],
  ["sha256 short", "sha256:abc"],
  ["sha256 63 hex", `sha256:${HEX64.slice(1)}`],
  ["sha256 65 hex", `sha256:${HEX64}0`],
  ["sha256 uppercase hex", `sha256:${HEX64.toUpperCase()}`],
  ["sha256 non-hex", `sha256:${"g".repeat(64)}`],
  ["sha256 base64 padding", `sha256:${HEX64.slice(1)}=`],
  ["sha256 empty", "sha256:"],
  ["sha512 with 64 hex", `sha512:${HEX64}`],
  ["sha512 with 129 hex", `sha512:${HEX64}${HEX64}0`],
  ["sha384 (not registered)", `sha384:${"a".repeat(96)}`],
  ["blake3 (not registered)", `blake3:${HEX64}`],
  ["missing colon", `sha256${HEX64}`],
  ["missing algorithm", `:${HEX64}`],
  ["extra colon sha256:sha256:", `sha256:sha256:${HEX64}`],
  ["double colon sha256::", `sha256::${HEX64}`],
  ["uppercase algorithm", `SHA256:${HEX64}`],
  ["algorithm with separator sha256+b64", `sha256+b64:${HEX64}`],
  ["257 characters", `sha256:${"a".repeat(250)}`],
  ["encoded space inside", `sha256:${HEX64.slice(0, 32)}%20${HEX64.slice(32)}`],
  ["prototype key constructor", `constructor:${HEX64}`],
  ["prototype key constructor, short", "constructor:abc"],
];

const DIGESTS: Case[] = [
  ...BAD_DIGESTS.map(
    ([label, digest]): Case => ({
      name: `blob: ${label}`,
      url: `/v2/nginx/blobs/${digest}`,
      code: "DIGEST_INVALID",
      status: 400,
    }),
  ),
  ...(
    [
      ["md5", "md5:d41d8cd98f00b204e9800998ecf8427e"],
      ["sha256 short", "sha256:abc"],
      ["sha512 wrong length", `sha512:${HEX64}`],
      ["extra colon", `sha256:sha256:${HEX64}`],
      ["prototype key constructor", `constructor:${HEX64}`],
    ] as const
  ).map(
    ([label, digest]): Case => ({
      name: `manifest by digest: ${label}`,
      url: `/v2/nginx/manifests/${digest}`,
      code: "DIGEST_INVALID",
      status: 400,
    }),
  ),
  ...(
    [
      ["a tag instead of a digest", "latest"],
      ["md5", "md5:d41d8cd98f00b204e9800998ecf8427e"],
      ["sha256 uppercase", `sha256:${HEX64.toUpperCase()}`],
      ["prototype key constructor", `constructor:${HEX64}`],
    ] as const
  ).map(
    ([label, digest]): Case => ({
      name: `referrers: ${label}`,
      url: `/v2/nginx/referrers/${digest}`,
      code: "DIGEST_INVALID",
      status: 400,
    }),
  ),
  {
    name: "blob: HEAD with md5 has no body",
    url: "/v2/nginx/blobs/md5:d41d8cd98f00b204e9800998ecf8427e",
    init: { method: "HEAD" },
    code: "DIGEST_INVALID",
  },
  {
    name: "blob: well-formed unknown digest asks Docker Hub only",
    url: `/v2/nginx/blobs/${UNKNOWN_DIGEST}`,
    upstream: true,
    code: "BLOB_UNKNOWN",
    status: 404,
  },
];

// ---------------------------------------------------------------------------------------------
// 4. Over-long headers and URLs. Client headers that matter (Accept, Authorization, Range,
//    User-Agent, If-*) go to the configured upstream, which refuses them as real servers do (431);
//    the proxy must pass that on as a 4xx, not turn it into a 5xx. Everything else stays behind.
// ---------------------------------------------------------------------------------------------

const BIG = 100 * 1024;
const junk = (n: number) => "x".repeat(n);
const basicJunk = `Basic ${btoa("alice:" + junk(BIG))}`;

const LONG_HEADERS: Case[] = [
  {
    name: "100 KiB Accept on a manifest",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { accept: junk(BIG) } },
    upstream: true,
    status: 431,
  },
  {
    name: "100 KiB Accept on the k8s route (upstream without auth)",
    url: "https://k8s.example.com/v2/pause/manifests/latest",
    init: { headers: { accept: junk(BIG) } },
    upstream: true,
    status: 431,
  },
  {
    name: "100 KiB Bearer Authorization on a manifest",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { authorization: `Bearer ${junk(BIG)}` } },
    upstream: true,
  },
  {
    name: "100 KiB User-Agent on a manifest",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { "user-agent": junk(BIG) } },
    upstream: true,
  },
  {
    name: "100 KiB If-None-Match on a manifest",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { "if-none-match": `"${junk(BIG)}"` } },
    upstream: true,
  },
  {
    name: "100 KiB Range on a blob",
    url: `/v2/nginx/blobs/${BLOB}`,
    init: { headers: { range: `bytes=${"0-0,".repeat(BIG / 4)}0-0` } },
    upstream: true,
    ok: "several ranges are not passed on: the whole blob, 200",
    status: 200,
  },
  {
    name: "HEAD with a 100 KiB Accept has no body",
    url: "/v2/nginx/manifests/latest",
    init: { method: "HEAD", headers: { accept: junk(BIG) } },
    upstream: true,
  },
  {
    // The ping forwards credentials so the upstream judges them; a 431 for them is the client's fault.
    name: "100 KiB Basic Authorization on the ping",
    url: "/v2/",
    init: { headers: { authorization: basicJunk } },
    upstream: true,
  },
  {
    name: "100 KiB Bearer Authorization on the ping",
    url: "/v2/",
    init: { headers: { authorization: `Bearer ${junk(BIG)}` } },
    upstream: true,
  },
  {
    // Basic credentials go to the upstream's token server, which refuses them as too large.
    name: "100 KiB Basic Authorization on /v2/auth",
    url: "/v2/auth?scope=repository:nginx:pull",
    init: { headers: { authorization: basicJunk } },
    upstream: true,
  },
  {
    name: "10 KiB Bearer junk on a manifest: the upstream says 401",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { authorization: `Bearer ${junk(10 * 1024)}` } },
    upstream: true,
    code: "UNAUTHORIZED",
    status: 401,
  },
  {
    name: "non-ASCII Authorization on a manifest",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { authorization: "Bearer ☃☃☃" } },
    upstream: true,
    code: "UNAUTHORIZED",
  },
  {
    name: "bare 'Basic' Authorization on the ping",
    url: "/v2/",
    init: { headers: { authorization: "Basic" } },
    upstream: true,
    code: "UNAUTHORIZED",
  },
  {
    name: "100 KiB scope on /v2/auth",
    url: `/v2/auth?scope=repository:${"a".repeat(BIG)}:pull`,
    code: "NAME_INVALID",
  },
  {
    name: "100 KiB tags n= (forwarded in the URL: the upstream says 414)",
    url: `/v2/nginx/tags/list?n=${"9".repeat(BIG)}`,
    upstream: true,
    status: 414,
  },
  {
    name: "100 KiB referrers artifactType= (upstream says 414)",
    url: `/v2/nginx/referrers/${MANIFEST}?artifactType=${junk(BIG)}`,
    upstream: true,
    status: 414,
  },
  {
    name: "10 KiB Accept is forwarded and served",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { accept: junk(10 * 1024) } },
    ok: "under any server's header limit; the upstream ignores unknown media types",
  },
  {
    name: "100 KiB Cookie is not forwarded",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { cookie: `a=${junk(BIG)}` } },
    ok: "Cookie is never forwarded, so the pull is plain",
  },
  {
    name: "100 KiB X-Forwarded-For is not forwarded",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { "x-forwarded-for": junk(BIG) } },
    ok: "X-Forwarded-For is never forwarded",
  },
  {
    name: "300 unknown headers are not forwarded",
    url: "/v2/nginx/manifests/latest",
    init: () => ({
      headers: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`x-h${i}`, junk(1024)])),
    }),
    ok: "only registry headers are forwarded",
  },
  {
    name: "100 KiB query string on a manifest is dropped",
    url: `/v2/nginx/manifests/latest?x=${junk(BIG)}`,
    ok: "manifest requests forward no query",
  },
];

// ---------------------------------------------------------------------------------------------
// 5. Range headers that do not parse, on a real blob (Docker Hub → CDN with RFC 9110 Range).
//    The proxy forwards Range as it came; the CDN ignores what it cannot parse (200, whole blob)
//    and answers 416 to what it cannot satisfy, which the proxy must turn into OCI RANGE_INVALID.
// ---------------------------------------------------------------------------------------------

const RANGE_BLOB = `/v2/nginx/blobs/${BLOB}`;
const rangeCase = (label: string, range: string, expected: Partial<Case>): Case => ({
  name: `Range ${short(label, 60)}`,
  url: RANGE_BLOB,
  init: { headers: { range } },
  upstream: true,
  ...expected,
});
const IGNORED = "an unparsable Range is ignored (RFC 9110 §14.2): the whole blob, 200";

const RANGES: Case[] = [
  rangeCase("bytes=abc", "bytes=abc", { ok: IGNORED, status: 200 }),
  rangeCase("bytes=5-2 (last < first)", "bytes=5-2", { ok: IGNORED, status: 200 }),
  rangeCase("items=0-1 (unknown unit)", "items=0-1", { ok: IGNORED, status: 200 }),
  rangeCase("bytes=0-1,5-6 (multiple ranges)", "bytes=0-1,5-6", {
    ok: "the CDN, like S3, ignores multiple ranges: 200",
    status: 200,
  }),
  rangeCase(
    "1000 ranges",
    `bytes=${Array.from({ length: 1000 }, (_, i) => `${i}-${i}`).join(",")}`,
    { ok: IGNORED, status: 200 },
  ),
  rangeCase("bytes= (empty)", "bytes=", { ok: IGNORED, status: 200 }),
  rangeCase("bytes=- (no positions)", "bytes=-", { ok: IGNORED, status: 200 }),
  rangeCase("bytes=1e3- (exponent)", "bytes=1e3-", { ok: IGNORED, status: 200 }),
  rangeCase("bytes=0x10-0x20 (hex)", "bytes=0x10-0x20", { ok: IGNORED, status: 200 }),
  rangeCase("bytes=-1-2", "bytes=-1-2", { ok: IGNORED, status: 200 }),
  rangeCase("BYTES=0-1 (uppercase unit)", "BYTES=0-1", { ok: IGNORED, status: 200 }),
  rangeCase("bytes = 0-1 (spaces)", "bytes = 0-1", { ok: IGNORED, status: 200 }),
  rangeCase("bytes=0-1;x (parameter)", "bytes=0-1;x", { ok: IGNORED, status: 200 }),
  rangeCase("bytes=99999999999999999999- (huge start)", "bytes=99999999999999999999-", {
    ok: "positions past 15 digits are not passed on: ignored, the whole blob",
    status: 200,
  }),
  rangeCase("bytes=4294967296-4294967297 (past the end)", "bytes=4294967296-4294967297", {
    code: "RANGE_INVALID",
    status: 416,
  }),
  rangeCase("bytes=-0 (empty suffix)", "bytes=-0", {
    ok: "suffix ranges are not passed on (clients resume with bytes=N-): ignored",
    status: 200,
  }),
  rangeCase("bytes=0-18446744073709551616 (huge end)", "bytes=0-18446744073709551616", {
    ok: "positions past 15 digits are not passed on: ignored, the whole blob",
    status: 200,
  }),
  rangeCase("bytes=-99999999999999999999 (huge suffix)", "bytes=-99999999999999999999", {
    ok: "suffix ranges are not passed on: ignored, the whole blob",
    status: 200,
  }),
  rangeCase("bytes=100- (control: valid)", "bytes=100-", { ok: "a valid resume", status: 206 }),
  {
    name: "Range with a garbage If-Range",
    url: RANGE_BLOB,
    init: { headers: { range: "bytes=0-1", "if-range": "garbage\u00ff" } },
    upstream: true,
    ok: "If-Range is the CDN's business; a valid Range is honoured",
  },
  {
    name: "Range bytes=abc on a manifest",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { range: "bytes=abc" } },
    ok: "the registry ignores Range on manifests",
  },
  {
    name: "Range bytes=abc on an unknown blob",
    url: `/v2/nginx/blobs/${UNKNOWN_DIGEST}`,
    init: { headers: { range: "bytes=abc" } },
    upstream: true,
    code: "BLOB_UNKNOWN",
  },
  {
    name: "Range bytes=abc on an invalid digest",
    url: "/v2/nginx/blobs/sha256:abc",
    init: { headers: { range: "bytes=abc" } },
    code: "DIGEST_INVALID",
  },
  {
    name: "HEAD with an unsatisfiable Range has no body",
    url: RANGE_BLOB,
    init: { method: "HEAD", headers: { range: "bytes=99999999-" } },
    upstream: true,
    status: 416,
  },
];

// ---------------------------------------------------------------------------------------------
// 6. `ns` values and path prefixes that name hosts that are not configured upstreams:
//    NAME_UNKNOWN (or NAME_INVALID where the grammar already refuses), and nobody is contacted.
// ---------------------------------------------------------------------------------------------

const HOSTILE_NS: Array<[string, string]> = [
  ["evil.com", "evil.com"],
  ["127.0.0.1", "127.0.0.1"],
  ["169.254.169.254 (cloud metadata)", "169.254.169.254"],
  ["localhost:5000", "localhost:5000"],
  ["localhost", "localhost"],
  ["docker.io@evil.com", "docker.io@evil.com"],
  ["evil.com#docker.io", "evil.com%23docker.io"],
  ["empty", ""],
  ["CRLF", "%0d%0a"],
  ["header injection docker.io CRLF X-Injected", "docker.io%0d%0aX-Injected:%201"],
  ["[::1]", "[::1]"],
  ["metadata.google.internal", "metadata.google.internal"],
  ["docker.io. (trailing dot)", "docker.io."],
  ["ghcr.io:443", "ghcr.io:443"],
  ["https://ghcr.io", "https://ghcr.io"],
  ["route name ghcr (not a registry name)", "ghcr"],
  ["__proto__", "__proto__"],
  ["constructor", "constructor"],
  ["fullwidth ｇｈｃｒ.io", "ｇｈｃｒ.io"],
  ["ghcr.io NUL", "ghcr.io%00"],
  ["0x7f.0.0.1", "0x7f.0.0.1"],
  ["2130706433 (decimal IP)", "2130706433"],
  ["docker.io/../evil.com", "docker.io/../evil.com"],
  ["10 000 characters", `${"a".repeat(9996)}.com`],
];

const noInjectedHeader: Case["check"] = (response) => {
  expect(response.headers.get("x-injected")).toBeNull();
  const echoed = response.headers.get("oci-namespace");
  if (echoed !== null) expect(echoed).toMatch(/^[a-z0-9.:-]{1,253}$/);
};

const NAMESPACES: Case[] = [
  ...HOSTILE_NS.map(
    ([label, ns]): Case => ({
      name: `ns=${label} on a manifest`,
      url: `/v2/org/tool/manifests/latest?ns=${ns}`,
      code: "NAME_UNKNOWN",
      status: 404,
      check: noInjectedHeader,
    }),
  ),
  ...HOSTILE_NS.map(
    ([label, ns]): Case => ({
      name: `ns=${label} on the ping`,
      url: `/v2/?ns=${ns}`,
      code: "NAME_UNKNOWN",
      status: 404,
      check: noInjectedHeader,
    }),
  ),
  {
    name: "ns=evil.com on a blob",
    url: `/v2/nginx/blobs/${BLOB}?ns=evil.com`,
    code: "NAME_UNKNOWN",
  },
  {
    name: "ns=evil.com on tags/list",
    url: "/v2/nginx/tags/list?ns=evil.com",
    code: "NAME_UNKNOWN",
  },
  {
    name: "ns=evil.com on referrers",
    url: `/v2/nginx/referrers/${MANIFEST}?ns=evil.com`,
    code: "NAME_UNKNOWN",
  },
  {
    name: "ns=evil.com before ns=ghcr.io (first wins)",
    url: "/v2/org/tool/manifests/latest?ns=evil.com&ns=ghcr.io",
    code: "NAME_UNKNOWN",
  },
  {
    name: "HEAD with ns=evil.com has no body",
    url: "/v2/org/tool/manifests/latest?ns=evil.com",
    init: { method: "HEAD" },
    code: "NAME_UNKNOWN",
  },
  {
    name: "ns=ghcr.io before ns=evil.com (first wins)",
    url: "/v2/org/tool/manifests/latest?ns=ghcr.io&ns=evil.com",
    ok: "the first ns names a configured upstream",
  },
  {
    name: "ns=GHCR.IO (uppercase)",
    url: "/v2/org/tool/manifests/latest?ns=GHCR.IO",
    ok: "registry names are host names, case-insensitive; ghcr.io is configured",
  },
  {
    name: "ns=ghcr%2eio (encoded dot)",
    url: "/v2/org/tool/manifests/latest?ns=ghcr%2eio",
    ok: "query decoding gives ns=ghcr.io, a configured upstream",
  },
  {
    name: "ns=evil.com ignored behind a configured prefix",
    url: "/v2/ghcr.io/org/tool/manifests/latest?ns=evil.com",
    ok: "a configured path prefix takes precedence over ns",
  },
  ...(
    [
      ["evil.com/", "evil.com/x", "NAME_UNKNOWN"],
      ["127.0.0.1/", "127.0.0.1/x", "NAME_UNKNOWN"],
      ["127.0.0.1:80/ (colon is outside the name grammar)", "127.0.0.1:80/x", "NAME_INVALID"],
      ["localhost/", "localhost/x", "NAME_UNKNOWN"],
      ["localhost:5000/", "localhost:5000/x", "NAME_INVALID"],
      ["[::1]/", "[::1]/x", "NAME_INVALID"],
      ["metadata.google.internal/", "metadata.google.internal/computemetadata/v1", "NAME_UNKNOWN"],
      ["169.254.169.254/", "169.254.169.254/latest/meta-data", "NAME_UNKNOWN"],
      ["docker.io.evil.com/", "docker.io.evil.com/library/nginx", "NAME_UNKNOWN"],
      ["ghcr.io.evil.com/", "ghcr.io.evil.com/org/tool", "NAME_UNKNOWN"],
      ["evil.com/ghcr.io/", "evil.com/ghcr.io/org/tool", "NAME_UNKNOWN"],
      ["registry.example.com:5000/", "registry.example.com:5000/x", "NAME_INVALID"],
      ["x.y/ (any dotted first component)", "x.y/z", "NAME_UNKNOWN"],
      ["Docker.io/ (uppercase)", "Docker.io/library/nginx", "NAME_INVALID"],
    ] as const
  ).map(
    ([label, name, code]): Case => ({
      name: `prefix ${label} on a manifest`,
      url: `/v2/${name}/manifests/latest`,
      code,
    }),
  ),
  { name: "prefix evil.com/ on a blob", url: `/v2/evil.com/x/blobs/${BLOB}`, code: "NAME_UNKNOWN" },
  { name: "prefix evil.com/ on tags/list", url: "/v2/evil.com/x/tags/list", code: "NAME_UNKNOWN" },
  {
    name: "prefix evil.com/ on referrers",
    url: `/v2/evil.com/x/referrers/${MANIFEST}`,
    code: "NAME_UNKNOWN",
  },
  {
    name: "prefix localhost/ with ns=ghcr.io",
    url: "/v2/localhost/x/manifests/latest?ns=ghcr.io",
    code: "NAME_UNKNOWN",
  },
  {
    name: "prefix ghcr.io/evil.com/x: evil.com/x is a repository on ghcr.io",
    url: "/v2/ghcr.io/evil.com/x/manifests/latest",
    upstream: true,
    check: () => expect(net.seen.every((s) => new URL(s.url).host === GHCR)).toBe(true),
  },
  {
    name: "one dotted component evil.com is a Docker Hub repository, not a registry",
    url: "/v2/evil.com/manifests/latest",
    upstream: true,
    check: () => expect(net.to(HUB, /library\/evil\.com/)).toHaveLength(1),
  },
];

// ---------------------------------------------------------------------------------------------
// 7. Token requests (/v2/auth) trying to steer the proxy: `service`, `realm`, `ns` and scopes are
//    never a destination. Credentials only ever go to the realm learned from the configured
//    upstream. GET and POST (containerd's OAuth2 form).
// ---------------------------------------------------------------------------------------------

const ALICE = `Basic ${btoa("alice:wonderland")}`;
const form = (
  body: string | ReadableStream,
  headers: Record<string, string> = {},
): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  body,
});
const onlyHubTokenServer: Case["check"] = () => {
  const tokenCalls = net.seen.filter((s) => new URL(s.url).pathname === "/token");
  expect(tokenCalls.every((s) => new URL(s.url).host === HUB_AUTH)).toBe(true);
  for (const s of tokenCalls) {
    expect(new URL(s.url).searchParams.get("service")).toBe("registry.docker.io");
  }
};
const manyScopes = (n: number, repo = (i: number) => `r${i}/x`) =>
  Array.from({ length: n }, (_, i) => `scope=repository:${repo(i)}:pull`).join("&");

const TOKENS: Case[] = [
  {
    name: "GET service=evil.com",
    url: "/v2/auth?service=evil.com&scope=repository:nginx:pull",
    ok: "service is not a destination: anonymous token",
    check: onlyHubTokenServer,
  },
  {
    name: "GET realm=http://evil.com",
    url: "/v2/auth?realm=http://evil.com/token&scope=repository:nginx:pull",
    ok: "the realm is learned from the upstream, never taken from the client",
  },
  {
    name: "GET realm=evil + service=evil with credentials: token from auth.docker.io only",
    url: "/v2/auth?realm=http://evil.com/token&service=evil.com&scope=repository:alice/private:pull",
    init: { headers: { authorization: ALICE } },
    ok: "credentials go to Docker Hub's learned realm for Docker Hub's service",
    check: () => {
      onlyHubTokenServer!(undefined as never, "");
      expect(net.to(HUB_AUTH)).toHaveLength(1);
    },
  },
  {
    name: "GET account=evil.com CRLF with credentials",
    url: "/v2/auth?account=evil.com%0d%0a&scope=repository:alice/private:pull",
    init: { headers: { authorization: ALICE } },
    ok: "account is a query parameter for the configured token server only",
    check: onlyHubTokenServer,
  },
  ...(
    [
      ["evil.com/x", "repository:evil.com/x:pull", "NAME_UNKNOWN"],
      ["127.0.0.1/x", "repository:127.0.0.1/x:pull", "NAME_UNKNOWN"],
      ["169.254.169.254/latest", "repository:169.254.169.254/latest:pull", "NAME_UNKNOWN"],
      ["localhost/x", "repository:localhost/x:pull", "NAME_UNKNOWN"],
      ["localhost:5000/x", "repository:localhost:5000/x:pull", "NAME_UNKNOWN"],
      ["[::1]/x", "repository:[::1]/x:pull", "NAME_UNKNOWN"],
      ["metadata.google.internal/x", "repository:metadata.google.internal/x:pull", "NAME_UNKNOWN"],
      ["nginx@evil.com", "repository:nginx@evil.com:pull", "NAME_INVALID"],
      ["user@evil.com/x", "repository:user@evil.com/x:pull", "NAME_UNKNOWN"],
      ["nginx#evil.com (encoded #)", "repository:nginx%23evil.com:pull", "NAME_INVALID"],
      ["nginx?ns=evil.com (encoded ?)", "repository:nginx%3Fns=evil.com:pull", "NAME_INVALID"],
      ["newline", "repository:nginx%0aevil.com:pull", "NAME_INVALID"],
      [
        "../../etc/passwd (.. has a dot: read as a registry name)",
        "repository:../../etc/passwd:pull",
        "NAME_UNKNOWN",
      ],
      ["ghcr.io/../evil.com/x", "repository:ghcr.io/../evil.com/x:pull", "NAME_INVALID"],
      ["a:b:c (extra colons)", "repository:a:b:c:pull", "NAME_INVALID"],
      ["NGINX (uppercase)", "repository:NGINX:pull", "NAME_INVALID"],
      ["NUL", "repository:nginx%00:pull", "NAME_INVALID"],
    ] as const
  ).map(
    ([label, scope, code]): Case => ({
      name: `GET scope ${label}`,
      url: `/v2/auth?scope=${scope}`,
      code,
    }),
  ),
  {
    name: "GET scope evil.com/x with credentials: they go nowhere",
    url: "/v2/auth?scope=repository:evil.com/x:pull",
    init: { headers: { authorization: ALICE } },
    code: "NAME_UNKNOWN",
    status: 404,
  },
  {
    name: "GET ns=evil.com",
    url: "/v2/auth?ns=evil.com&scope=repository:nginx:pull",
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET ns= (empty)",
    url: "/v2/auth?ns=&scope=repository:nginx:pull",
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET ns=169.254.169.254 without scope",
    url: "/v2/auth?ns=169.254.169.254",
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET ns=ghcr.io with scope evil.com/x",
    url: "/v2/auth?ns=ghcr.io&scope=repository:evil.com/x:pull",
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET scopes for two registries",
    url: "/v2/auth?scope=repository:nginx:pull&scope=repository:ghcr.io/org/tool:pull",
    code: "DENIED",
    status: 403,
  },
  {
    name: "GET scopes for two registries, space-joined",
    url: "/v2/auth?scope=repository:nginx:pull%20repository:ghcr.io/org/tool:pull",
    code: "DENIED",
    status: 403,
  },
  {
    name: "GET scopes for three registries",
    url: "/v2/auth?scope=repository:nginx:pull&scope=repository:quay.io/a/b:pull&scope=repository:ghcr.io/org/tool:pull",
    code: "DENIED",
  },
  {
    name: "GET ns=ghcr.io scope plus a docker.io-prefixed scope",
    url: "/v2/auth?ns=ghcr.io&scope=repository:org/tool:pull&scope=repository:docker.io/library/nginx:pull",
    code: "DENIED",
  },
  {
    name: "GET two registries with credentials: they go nowhere",
    url: "/v2/auth?scope=repository:nginx:pull&scope=repository:ghcr.io/org/tool:pull",
    init: { headers: { authorization: ALICE } },
    code: "DENIED",
  },
  {
    name: "GET a good scope then evil.com/x",
    url: "/v2/auth?scope=repository:ghcr.io/org/tool:pull&scope=repository:evil.com/x:pull",
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET 300 scopes, last one evil.com/x",
    url: `/v2/auth?${manyScopes(300)}&scope=repository:evil.com/x:pull`,
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET 300 scopes on one registry",
    url: `/v2/auth?${manyScopes(300)}`,
    ok: "many pull scopes on one upstream: anonymous token",
    check: onlyHubTokenServer,
  },
  {
    name: "GET 300 scopes on one registry with credentials",
    url: `/v2/auth?${manyScopes(300)}`,
    init: { headers: { authorization: ALICE } },
    ok: "one token request with 300 pull scopes, to the configured token server",
    check: () => {
      onlyHubTokenServer!(undefined as never, "");
      expect(net.to(HUB_AUTH)).toHaveLength(1);
    },
  },
  {
    name: "GET 300 scopes alternating two registries",
    url: `/v2/auth?${manyScopes(300, (i) => (i % 2 ? "ghcr.io/org/tool" : "nginx"))}`,
    code: "DENIED",
  },
  {
    // The space splits it into `repository:nginx\r\nLocation:` (no actions) and
    // `http://evil.com:pull` (type http): neither is a repository scope, both are dropped.
    name: "GET scope CRLF Location injection",
    url: "/v2/auth?scope=repository:nginx%0d%0aLocation:%20http://evil.com:pull",
    ok: "malformed scopes are dropped: the anonymous token, for no repository",
    check: (response) => expect(response.headers.get("location")).toBeNull(),
  },
  {
    name: "GET raw # cuts the scope (fragment)",
    url: "/v2/auth?scope=repository:nginx#:pull",
    ok: "the fragment never reaches the server; `repository:nginx` is no scope and is dropped",
  },
  {
    name: "GET registry:catalog:*",
    url: "/v2/auth?scope=registry:catalog:*",
    ok: "non-repository scopes are dropped: anonymous token for nothing",
  },
  {
    name: "GET push,delete,* scope with credentials is cut to pull",
    url: "/v2/auth?scope=repository:alice/private:push,delete,*",
    init: { headers: { authorization: ALICE } },
    ok: "the proxy asks the upstream for pull only",
    check: () => {
      const [call] = net.to(HUB_AUTH);
      expect(new URL(call!.url).searchParams.getAll("scope")).toEqual([
        "repository:alice/private:pull",
      ]);
    },
  },
  {
    name: "GET scope=::: (no type, no name)",
    url: "/v2/auth?scope=:::",
    ok: "unparsable scopes are dropped",
  },
  { name: "GET scope= (empty)", url: "/v2/auth?scope=", ok: "no scope: anonymous token" },
  {
    name: "GET wrong Basic credentials",
    url: "/v2/auth?scope=repository:alice/private:pull",
    init: { headers: { authorization: `Basic ${btoa("alice:wrong")}` } },
    upstream: true,
    code: "UNAUTHORIZED",
    status: 401,
  },
  {
    name: "HEAD ns=evil.com has no body",
    url: "/v2/auth?ns=evil.com",
    init: { method: "HEAD" },
    code: "NAME_UNKNOWN",
  },
  // POST: containerd's OAuth2 form.
  {
    name: "POST 70 KiB form",
    url: "/v2/auth",
    init: () => form(`grant_type=password&x=${junk(70 * 1024)}`),
    status: 413,
    code: "UNSUPPORTED",
  },
  {
    name: "POST endless streamed body (stopped at 64 KiB)",
    url: "/v2/auth",
    init: () => {
      let sent = 0;
      return form(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent++ > 1024) controller.close();
            else controller.enqueue(new TextEncoder().encode(junk(16 * 1024)));
          },
        }),
      );
    },
    status: 413,
  },
  {
    name: "POST JSON instead of a form",
    url: "/v2/auth",
    init: () =>
      form('{"grant_type":"password","username":"alice"}', { "content-type": "application/json" }),
    status: 400,
  },
  {
    name: "POST empty body",
    url: "/v2/auth",
    init: () => form(""),
    status: 400,
    code: "UNSUPPORTED",
  },
  {
    name: "POST grant_type=refresh_token",
    url: "/v2/auth",
    init: () => form("grant_type=refresh_token&refresh_token=x&service=evil.com"),
    status: 400,
  },
  {
    name: "POST grant_type=client_credentials",
    url: "/v2/auth",
    init: () => form("grant_type=client_credentials&client_id=x"),
    status: 400,
  },
  {
    name: "POST grant_type=PASSWORD (case)",
    url: "/v2/auth",
    init: () => form("grant_type=PASSWORD&username=alice&password=wonderland"),
    status: 400,
  },
  {
    name: "POST grant_type=%zz (bad escape)",
    url: "/v2/auth",
    init: () => form("grant_type=%zz&scope=%"),
    status: 400,
  },
  {
    name: "POST binary garbage",
    url: "/v2/auth",
    init: () => ({ method: "POST", body: new Uint8Array([0xff, 0xfe, 0, 1, 2, 0xc0, 0xae]) }),
    status: 400,
  },
  {
    name: "POST multipart form",
    url: "/v2/auth",
    init: () => ({
      method: "POST",
      body: (() => {
        const f = new FormData();
        f.set("grant_type", "password");
        return f;
      })(),
    }),
    status: 400,
  },
  {
    name: "POST scope evil.com/x with credentials",
    url: "/v2/auth",
    init: () =>
      form(
        "grant_type=password&username=alice&password=wonderland&scope=repository%3Aevil.com%2Fx%3Apull",
      ),
    code: "NAME_UNKNOWN",
  },
  {
    name: "POST scope 169.254.169.254/x",
    url: "/v2/auth",
    init: () => form("grant_type=password&scope=repository%3A169.254.169.254%2Fx%3Apull"),
    code: "NAME_UNKNOWN",
  },
  {
    name: "POST scopes for two registries",
    url: "/v2/auth",
    init: () =>
      form(
        "grant_type=password&username=alice&password=wonderland&scope=repository%3Anginx%3Apull%20repository%3Aghcr.io%2Forg%2Ftool%3Apull",
      ),
    code: "DENIED",
    status: 403,
  },
  {
    name: "POST ?ns=evil.com with a good form",
    url: "/v2/auth?ns=evil.com",
    init: () =>
      form(
        "grant_type=password&username=alice&password=wonderland&scope=repository%3Anginx%3Apull",
      ),
    code: "NAME_UNKNOWN",
  },
  {
    name: "POST service=evil.com realm=http://evil.com with credentials",
    url: "/v2/auth",
    init: () =>
      form(
        "grant_type=password&username=alice&password=wonderland&service=evil.com&realm=http%3A%2F%2Fevil.com&scope=repository%3Aalice%2Fprivate%3Apull",
      ),
    ok: "service and realm in the form are ignored: Docker Hub's learned realm, Docker Hub's service",
    check: onlyHubTokenServer,
  },
  {
    name: "POST grant_type twice (first is password), empty credentials",
    url: "/v2/auth",
    init: () =>
      form("grant_type=password&grant_type=refresh_token&scope=repository%3Anginx%3Apull"),
    upstream: true,
    ok: "a password grant without a username asks for nothing: the anonymous token",
  },
  {
    name: "POST 300 scopes with credentials",
    url: "/v2/auth",
    init: () => form(`grant_type=password&username=alice&password=wonderland&${manyScopes(300)}`),
    ok: "one token request to the configured token server",
    check: onlyHubTokenServer,
  },
  {
    // The Basic header the proxy builds is ~85 KiB; the upstream token server refuses it (431).
    name: "POST 60 KiB username",
    url: "/v2/auth",
    init: () =>
      form(
        `grant_type=password&username=${junk(60 * 1024)}&password=x&scope=repository%3Anginx%3Apull`,
      ),
    upstream: true,
  },
  {
    name: "POST non-ASCII username",
    url: "/v2/auth",
    init: () =>
      form(
        "grant_type=password&username=%E2%98%83%00%FF&password=%F0%9F%90%B3&scope=repository%3Anginx%3Apull",
      ),
    upstream: true,
    code: "UNAUTHORIZED",
  },
];

// ---------------------------------------------------------------------------------------------
// 8. Methods a pull-only proxy does not serve, on every endpoint: 405 UNSUPPORTED with Allow,
//    nobody contacted. (CONNECT, TRACK and non-token methods cannot even be built: see below.)
// ---------------------------------------------------------------------------------------------

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
        return { ...base, status: 400, code: "UNSUPPORTED" }; // the token form, empty: no grant_type
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
    ok: "the override header is ignored: this is a GET, a pull",
  },
  {
    name: "lowercase get",
    url: "/v2/nginx/manifests/latest",
    init: { method: "get" },
    ok: "the fetch spec normalises get to GET: a pull",
  },
  {
    name: "lowercase head",
    url: "/v2/nginx/manifests/latest",
    init: { method: "head" },
    ok: "normalised to HEAD: a pull, without a body",
  },
  {
    name: "HEAD on the k8s ping (upstream without auth)",
    url: "https://k8s.example.com/v2/",
    init: { method: "HEAD" },
    ok: "HEAD /v2/ is a ping",
    headBodyTolerated: "pingOk() always has {}",
  },
  {
    name: "HEAD on the token endpoint",
    url: "/v2/auth?scope=repository:nginx:pull",
    init: { method: "HEAD" },
    ok: "Allow advertises HEAD on /v2/auth",
    headBodyTolerated: "tokenResponse() always has a body",
  },
  {
    name: "HEAD on the help page",
    url: "/",
    init: { method: "HEAD" },
    ok: "HEAD / is the help page's headers",
    headBodyTolerated: "helpPage() always has a body",
  },
];

// ---------------------------------------------------------------------------------------------
// 9. Hosts: ports, IP literals, IDN, trailing dots, case, long labels, route-name labels under
//    foreign domains, and combinations with prefixes and ns. The host only ever picks a configured
//    route (by its first label) or the default: it is never a destination.
// ---------------------------------------------------------------------------------------------

const HOSTS: Case[] = [
  {
    name: "host with a port",
    url: "https://docker.example.com:8443/v2/nginx/manifests/latest",
    ok: "the port does not change the route",
  },
  {
    name: "ghcr host with a port",
    url: "https://ghcr.example.com:8443/v2/org/tool/manifests/latest",
    ok: "first label ghcr picks the configured ghcr.io",
  },
  {
    name: "IPv4 literal",
    url: "https://127.0.0.1/v2/nginx/manifests/latest",
    ok: "an IP host picks the default route; it is this proxy's address, never contacted",
  },
  {
    name: "IPv4 literal with port, ping",
    url: "http://127.0.0.1:8787/v2/",
    upstream: true,
    code: "UNAUTHORIZED",
    status: 401,
  },
  {
    name: "hex IPv4 0x7f.1 (normalised to 127.0.0.1)",
    url: "https://0x7f.1/v2/nginx/manifests/latest",
    ok: "default route",
  },
  {
    name: "IPv6 literal",
    url: "https://[::1]:8787/v2/nginx/manifests/latest",
    ok: "default route",
  },
  {
    name: "IPv4-mapped IPv6 metadata address, ping",
    url: "https://[::ffff:169.254.169.254]/v2/",
    upstream: true,
    code: "UNAUTHORIZED",
  },
  {
    name: "metadata IP as host, unknown repository",
    url: "https://169.254.169.254/v2/latest/meta-data/manifests/latest",
    upstream: true,
    check: () => expect(net.to(HUB, /latest\/meta-data/)).toHaveLength(1),
  },
  {
    name: "metadata.google.internal as host, ping",
    url: "https://metadata.google.internal/v2/",
    upstream: true,
    code: "UNAUTHORIZED",
  },
  {
    name: "metadata host and metadata prefix",
    url: "https://metadata.google.internal/v2/metadata.google.internal/computemetadata/v1/manifests/latest",
    code: "NAME_UNKNOWN",
  },
  {
    name: "IDN host dökcer (punycode)",
    url: "https://dökcer.example.com/v2/nginx/manifests/latest",
    ok: "xn--dkcer-jua is no route: the default route",
  },
  {
    name: "IDN homoglyph ɡhcr does not pick ghcr",
    url: "https://ɡhcr.example.com/v2/org/tool/manifests/latest",
    upstream: true,
    check: () => expect(net.to(GHCR)).toHaveLength(0),
  },
  {
    name: "punycode label given directly",
    url: "https://xn--ghcr-xxx.example.com/v2/nginx/manifests/latest",
    ok: "no route: default",
  },
  {
    name: "trailing dot ghcr.",
    url: "https://ghcr./v2/org/tool/manifests/latest",
    ok: "first label ghcr: configured ghcr.io",
  },
  {
    name: "trailing dot FQDN",
    url: "https://ghcr.example.com./v2/org/tool/manifests/latest",
    ok: "first label ghcr",
  },
  {
    name: "uppercase host",
    url: "https://GHCR.EXAMPLE.COM/v2/org/tool/manifests/latest",
    ok: "host names are case-insensitive (the URL parser lower-cases them)",
  },
  {
    name: "63-character label",
    url: `https://${"a".repeat(63)}.example.com/v2/nginx/manifests/latest`,
    ok: "default route",
  },
  {
    name: "300-character label",
    url: `https://${"a".repeat(300)}.example.com/v2/nginx/manifests/latest`,
    ok: "default route",
  },
  {
    name: "300-character label, ping with ns=evil.com",
    url: `https://${"a".repeat(300)}.example.com/v2/?ns=evil.com`,
    code: "NAME_UNKNOWN",
  },
  {
    name: "route label under a foreign domain ghcr.evil.com",
    url: "https://ghcr.evil.com/v2/org/tool/manifests/latest",
    ok: "first label ghcr: fetched from the configured ghcr.io, never evil.com",
    check: () => expect(net.to(GHCR, /manifests/)).toHaveLength(1),
  },
  {
    name: "registry name as host labels registry-1.docker.io.evil.com",
    url: "https://registry-1.docker.io.evil.com/v2/nginx/manifests/latest",
    ok: "label registry-1 is no route: default",
  },
  {
    name: "docker.example.com.evil.com",
    url: "https://docker.example.com.evil.com/v2/nginx/manifests/latest",
    ok: "first label docker: Docker Hub",
  },
  {
    name: "evil.com host, evil.com prefix",
    url: "https://evil.com/v2/evil.com/x/manifests/latest",
    code: "NAME_UNKNOWN",
  },
  {
    name: "ghcr host, evil.com prefix",
    url: "https://ghcr.example.com/v2/evil.com/x/manifests/latest",
    code: "NAME_UNKNOWN",
  },
  {
    name: "ghcr host, ns=evil.com",
    url: "https://ghcr.example.com/v2/org/tool/manifests/latest?ns=evil.com",
    code: "NAME_UNKNOWN",
  },
  {
    name: "ghcr host, ping ns=127.0.0.1",
    url: "https://ghcr.example.com/v2/?ns=127.0.0.1",
    code: "NAME_UNKNOWN",
  },
  {
    name: "ghcr host, token ns=evil.com",
    url: "https://ghcr.example.com/v2/auth?ns=evil.com&scope=repository:org/tool:pull",
    code: "NAME_UNKNOWN",
  },
  {
    name: "ghcr host, docker.io prefix",
    url: "https://ghcr.example.com/v2/docker.io/library/nginx/manifests/latest",
    ok: "a configured prefix beats the host",
    check: () => expect(net.to(GHCR)).toHaveLength(0),
  },
  {
    name: "k8s host, ghcr.io prefix, ns=evil.com",
    url: "https://k8s.example.com/v2/ghcr.io/org/tool/manifests/latest?ns=evil.com",
    ok: "the prefix wins over ns and host, and is configured",
  },
  {
    name: "quay host, ping ns=ghcr.io",
    url: "https://quay.example.com/v2/?ns=ghcr.io",
    upstream: true,
    code: "UNAUTHORIZED",
    check: (r) => expect(r.headers.get("www-authenticate")).toContain('service="ghcr.io"'),
  },
  {
    name: "localhost host, localhost prefix",
    url: "https://localhost/v2/localhost/x/manifests/latest",
    code: "NAME_UNKNOWN",
  },
  {
    name: "userinfo evil.com@ in the URL",
    url: "https://evil.com@docker.example.com/v2/nginx/manifests/latest",
    ok: "userinfo is not the host; the host is docker.example.com",
  },
  {
    name: "Host / X-Forwarded-Host / Forwarded headers naming evil.com",
    url: "/v2/nginx/manifests/latest",
    init: {
      headers: {
        host: "evil.com",
        "x-forwarded-host": "evil.com",
        forwarded: "host=evil.com;proto=http",
        "x-original-url": "http://evil.com/",
      },
    },
    ok: "the route comes from the request URL; these headers are never forwarded",
  },
  {
    name: "plain http scheme",
    url: "http://ghcr.example.com/v2/org/tool/manifests/latest",
    ok: "the scheme does not change the upstream",
  },
];

// ---------------------------------------------------------------------------------------------
// 10. The content store (Cache API and R2): hostile requests for content the proxy already holds.
//     Keys come from validated names and digests only and are per registry; a stored blob answers
//     Range from storage, and what storage cannot satisfy goes to the configured upstream.
// ---------------------------------------------------------------------------------------------

const STORED_BLOB = `/v2/nginx/blobs/${BLOB}`;
const STORED_MANIFEST = `/v2/nginx/manifests/${MANIFEST}`;
const storedBlob = (label: string, extra: Partial<Case>): Case => ({
  name: `stored blob: ${label}`,
  url: STORED_BLOB,
  prime: [{ url: STORED_BLOB }],
  upstream: true,
  ...extra,
});

const STORE: Case[] = [
  storedBlob("Range bytes=abc", { init: { headers: { range: "bytes=abc" } }, ok: IGNORED }),
  storedBlob("Range bytes=5-2", { init: { headers: { range: "bytes=5-2" } }, ok: IGNORED }),
  storedBlob("Range bytes=0-1,5-6", {
    init: { headers: { range: "bytes=0-1,5-6" } },
    ok: "several ranges: the whole blob (or the store's multipart answer)",
  }),
  storedBlob("Range items=0-1", { init: { headers: { range: "items=0-1" } }, ok: IGNORED }),
  storedBlob("Range bytes=999999999- (past the end)", {
    init: { headers: { range: "bytes=999999999-" } },
    status: 416,
    code: "RANGE_INVALID",
  }),
  storedBlob("Range bytes=99999999999999999999- (20 digits)", {
    init: { headers: { range: "bytes=99999999999999999999-" } },
    ok: "positions past 15 digits are ignored: the whole blob",
    status: 200,
  }),
  storedBlob("Range bytes=-0", {
    init: { headers: { range: "bytes=-0" } },
    ok: "unsatisfiable, but a server may ignore Range (RFC 9110 §14.2): the whole blob",
  }),
  storedBlob("Range bytes=0-18446744073709551616 (huge end)", {
    init: { headers: { range: "bytes=0-18446744073709551616" } },
    ok: "a last-pos past the end means to the end (206), or an ignored Range (200)",
  }),
  storedBlob("HEAD with Range bytes=999999999-", {
    init: { method: "HEAD", headers: { range: "bytes=999999999-" } },
    ok: "Range is defined for GET only (RFC 9110 §14.2): HEAD ignores it, 200",
    status: 200,
  }),
  storedBlob("2 000 overlapping ranges", {
    // 25 600 ranges (a 100 KiB header) take ~5 s here: see the report.
    init: { headers: { range: `bytes=${"0-0,".repeat(1999)}0-0` } },
    ok: "multipart/byteranges is valid HTTP (see the report: an amplification worth capping)",
  }),
  storedBlob("requested under an invalid name", {
    url: `/v2/Nginx/blobs/${BLOB}`,
    upstream: false,
    code: "NAME_INVALID",
  }),
  storedBlob("requested with ns=evil.com", {
    url: `${STORED_BLOB}?ns=evil.com`,
    upstream: false,
    code: "NAME_UNKNOWN",
  }),
  storedBlob("requested under an evil.com prefix", {
    url: `/v2/evil.com/nginx/blobs/${BLOB}`,
    upstream: false,
    code: "NAME_UNKNOWN",
  }),
  storedBlob("not served for another registry (ghcr host)", {
    url: `https://ghcr.example.com/v2/org/tool/blobs/${BLOB}`,
    code: "BLOB_UNKNOWN",
    status: 404,
    check: () => expect(net.to(GHCR, /blobs/)).toHaveLength(1),
  }),
  storedBlob("not served for another registry (ns=quay.io)", {
    url: `/v2/org/tool/blobs/${BLOB}?ns=quay.io`,
    code: "BLOB_UNKNOWN",
    status: 404,
  }),
  {
    name: "stored manifest: Range bytes=abc",
    url: STORED_MANIFEST,
    prime: [{ url: STORED_MANIFEST }],
    init: { headers: { range: "bytes=abc" } },
    ok: "an ignored Range on a manifest: the whole manifest",
  },
  {
    name: "stored manifest: by digest with an uppercase-hex twin",
    url: `/v2/nginx/manifests/${MANIFEST.toUpperCase().replace("SHA256", "sha256")}`,
    prime: [{ url: STORED_MANIFEST }],
    code: "DIGEST_INVALID",
  },
  {
    name: "stored tag pointer: hostile Accept on the second pull",
    url: "/v2/nginx/manifests/latest",
    prime: [{ url: "/v2/nginx/manifests/latest" }],
    init: { headers: { accept: junk(BIG) } },
    upstream: true,
  },
];

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

const CORPUS: Record<string, Case[]> = {
  "path traversal": TRAVERSAL,
  "names and tags outside the grammar": NAMES,
  "invalid digests and algorithms": DIGESTS,
  "over-long headers and URLs": LONG_HEADERS,
  "Range headers": RANGES,
  "ns and prefixes naming foreign hosts": NAMESPACES,
  "token requests": TOKENS,
  "unsupported methods": METHOD_CASES,
  hosts: HOSTS,
  "content store": STORE,
};
const TOTAL = Object.values(CORPUS).reduce((n, cases) => n + cases.length, 0);

describe("hostile-input corpus", () => {
  it(`holds at least 200 cases (${TOTAL})`, () => {
    const byCategory = Object.fromEntries(Object.entries(CORPUS).map(([k, v]) => [k, v.length]));
    console.log(`hostile corpus: ${TOTAL} cases`, byCategory);
    expect(TOTAL).toBeGreaterThanOrEqual(200);
    const names = Object.values(CORPUS).flatMap((cases) => cases.map((c) => c.name));
    expect(new Set(names).size, "case names are unique").toBe(names.length);
  });

  for (const [category, cases] of Object.entries(CORPUS)) {
    describe(category, () => {
      it.each(cases.map((c) => ({ ...c, name: short(c.name) })))("$name", run);
    });
  }
});

describe("requests the runtime refuses before the Worker", () => {
  // If workerd ever lets these through, they belong in the method table above.
  it.each(["CONNECT", "TRACK", "M-SEARCH"])("cannot build a %s request", (method) => {
    expect(() => new Request(`${H}/v2/`, { method })).toThrow(TypeError);
  });
  it("cannot build a header with CR LF", () => {
    expect(
      () => new Request(`${H}/v2/`, { headers: { range: "bytes=0-1\r\nx-injected: 1" } }),
    ).toThrow(TypeError);
  });
});

afterAll(() => {
  console.log(
    "upstream requests by host (all configured):",
    Object.fromEntries([...upstreamCalls].sort((a, b) => b[1] - a[1])),
    "responses by status:",
    Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])),
  );
});
