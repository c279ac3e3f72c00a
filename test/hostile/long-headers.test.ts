/**
 * Over-long headers and URLs. Client headers that matter (Accept, Authorization, Range,
 * User-Agent, If-*) go to the configured upstream, which refuses them as real servers do (431);
 * the proxy must pass that on as a 4xx, not turn it into a 5xx. Everything else stays behind.
 */

import { BIG, category, junk, type Case } from "./check";
import { ALICE, BLOB, MANIFEST } from "./world";

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
    ok: "range",
    why: "several ranges are not passed on: the whole blob, 200",
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
    ok: "ignored",
    why: "under any server's header limit; the upstream ignores unknown media types",
  },
  {
    name: "100 KiB Cookie is not forwarded",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { cookie: `a=${junk(BIG)}` } },
    ok: "ignored",
    why: "Cookie is never forwarded, so the pull is plain",
  },
  {
    name: "100 KiB X-Forwarded-For is not forwarded",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { "x-forwarded-for": junk(BIG) } },
    ok: "ignored",
    why: "X-Forwarded-For is never forwarded",
  },
  {
    name: "300 unknown headers are not forwarded",
    url: "/v2/nginx/manifests/latest",
    init: () => ({
      headers: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`x-h${i}`, junk(1024)])),
    }),
    ok: "ignored",
    why: "only registry headers are forwarded",
  },
  {
    name: "100 KiB query string on a manifest is dropped",
    url: `/v2/nginx/manifests/latest?x=${junk(BIG)}`,
    ok: "ignored",
    why: "manifest requests forward no query",
  },
];

export default category(import.meta.url, "over-long headers and URLs", LONG_HEADERS);
