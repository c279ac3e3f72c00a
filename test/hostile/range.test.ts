/**
 * Range headers that do not parse, on a real blob (Docker Hub → CDN with RFC 9110 Range).
 * The proxy forwards Range as it came; the CDN ignores what it cannot parse (200, whole blob)
 * and answers 416 to what it cannot satisfy, which the proxy must turn into OCI RANGE_INVALID.
 */

import { category, short, type Case } from "./check";
import { BLOB, IGNORED, UNKNOWN_DIGEST } from "./world";

const RANGE_BLOB = `/v2/nginx/blobs/${BLOB}`;
const rangeCase = (label: string, range: string, expected: Partial<Case>): Case => ({
  name: `Range ${short(label, 60)}`,
  url: RANGE_BLOB,
  init: { headers: { range } },
  upstream: true,
  ...expected,
});

const IGNORED_200 = { ok: "range", why: IGNORED, status: 200 } as const;

const RANGES: Case[] = [
  rangeCase("bytes=abc", "bytes=abc", IGNORED_200),
  rangeCase("bytes=5-2 (last < first)", "bytes=5-2", IGNORED_200),
  rangeCase("items=0-1 (unknown unit)", "items=0-1", IGNORED_200),
  rangeCase("bytes=0-1,5-6 (multiple ranges)", "bytes=0-1,5-6", {
    ok: "range",
    why: "the CDN, like S3, ignores multiple ranges: 200",
    status: 200,
  }),
  rangeCase(
    "1000 ranges",
    `bytes=${Array.from({ length: 1000 }, (_, i) => `${i}-${i}`).join(",")}`,
    IGNORED_200,
  ),
  rangeCase("bytes= (empty)", "bytes=", IGNORED_200),
  rangeCase("bytes=- (no positions)", "bytes=-", IGNORED_200),
  rangeCase("bytes=1e3- (exponent)", "bytes=1e3-", IGNORED_200),
  rangeCase("bytes=0x10-0x20 (hex)", "bytes=0x10-0x20", IGNORED_200),
  rangeCase("bytes=-1-2", "bytes=-1-2", IGNORED_200),
  rangeCase("BYTES=0-1 (uppercase unit)", "BYTES=0-1", IGNORED_200),
  rangeCase("bytes = 0-1 (spaces)", "bytes = 0-1", IGNORED_200),
  rangeCase("bytes=0-1;x (parameter)", "bytes=0-1;x", IGNORED_200),
  rangeCase("bytes=99999999999999999999- (huge start)", "bytes=99999999999999999999-", {
    ok: "range",
    why: "positions past 15 digits are not passed on: ignored, the whole blob",
    status: 200,
  }),
  rangeCase("bytes=4294967296-4294967297 (past the end)", "bytes=4294967296-4294967297", {
    code: "RANGE_INVALID",
    status: 416,
  }),
  rangeCase("bytes=-0 (empty suffix)", "bytes=-0", {
    ok: "range",
    why: "suffix ranges are not passed on (clients resume with bytes=N-): ignored",
    status: 200,
  }),
  rangeCase("bytes=0-18446744073709551616 (huge end)", "bytes=0-18446744073709551616", {
    ok: "range",
    why: "positions past 15 digits are not passed on: ignored, the whole blob",
    status: 200,
  }),
  rangeCase("bytes=-99999999999999999999 (huge suffix)", "bytes=-99999999999999999999", {
    ok: "range",
    why: "suffix ranges are not passed on: ignored, the whole blob",
    status: 200,
  }),
  rangeCase("bytes=100- (control: valid)", "bytes=100-", {
    ok: "range",
    why: "a valid resume",
    status: 206,
  }),
  {
    name: "Range with a garbage If-Range",
    url: RANGE_BLOB,
    init: { headers: { range: "bytes=0-1", "if-range": "garbage\u00ff" } },
    upstream: true,
    ok: "range",
    why: "If-Range is the CDN's business; a valid Range is honoured",
  },
  {
    name: "Range bytes=abc on a manifest",
    url: "/v2/nginx/manifests/latest",
    init: { headers: { range: "bytes=abc" } },
    ok: "range",
    why: "the registry ignores Range on manifests",
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

export default category(import.meta.url, "Range headers", RANGES);
