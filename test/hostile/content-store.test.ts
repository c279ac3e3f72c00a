/**
 * The content store (Cache API and R2): hostile requests for content the proxy already holds.
 * Keys come from validated names and digests only and are per registry; a stored blob answers
 * Range from storage, and what storage cannot satisfy goes to the configured upstream.
 */

import { expect } from "vitest";
import { BIG, category, junk, type Case } from "./check";
import { BLOB, GHCR, IGNORED, MANIFEST } from "./world";

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
  storedBlob("Range bytes=abc", {
    init: { headers: { range: "bytes=abc" } },
    ok: "range",
    why: IGNORED,
  }),
  storedBlob("Range bytes=5-2", {
    init: { headers: { range: "bytes=5-2" } },
    ok: "range",
    why: IGNORED,
  }),
  storedBlob("Range bytes=0-1,5-6", {
    init: { headers: { range: "bytes=0-1,5-6" } },
    ok: "range",
    why: "several ranges: the whole blob (or the store's multipart answer)",
  }),
  storedBlob("Range items=0-1", {
    init: { headers: { range: "items=0-1" } },
    ok: "range",
    why: IGNORED,
  }),
  storedBlob("Range bytes=999999999- (past the end)", {
    init: { headers: { range: "bytes=999999999-" } },
    status: 416,
    code: "RANGE_INVALID",
  }),
  storedBlob("Range bytes=99999999999999999999- (20 digits)", {
    init: { headers: { range: "bytes=99999999999999999999-" } },
    ok: "range",
    why: "positions past 15 digits are ignored: the whole blob",
    status: 200,
  }),
  storedBlob("Range bytes=-0", {
    init: { headers: { range: "bytes=-0" } },
    ok: "range",
    why: "unsatisfiable, but a server may ignore Range (RFC 9110 §14.2): the whole blob",
  }),
  storedBlob("Range bytes=0-18446744073709551616 (huge end)", {
    init: { headers: { range: "bytes=0-18446744073709551616" } },
    ok: "range",
    why: "a last-pos past the end means to the end (206), or an ignored Range (200)",
  }),
  storedBlob("HEAD with Range bytes=999999999-", {
    init: { method: "HEAD", headers: { range: "bytes=999999999-" } },
    ok: "range",
    why: "Range is defined for GET only (RFC 9110 §14.2): HEAD ignores it, 200",
    status: 200,
  }),
  storedBlob("2 000 overlapping ranges", {
    // 25 600 ranges (a 100 KiB header) take ~5 s here: see the report.
    init: { headers: { range: `bytes=${"0-0,".repeat(1999)}0-0` } },
    ok: "range",
    why: "multipart/byteranges is valid HTTP (see the report: an amplification worth capping)",
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
    check: ({ net }) => expect(net.to(GHCR, /blobs/)).toHaveLength(1),
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
    ok: "range",
    why: "an ignored Range on a manifest: the whole manifest",
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

export default category(import.meta.url, "content store", STORE);
