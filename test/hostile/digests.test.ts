/**
 * Invalid digests and algorithms on blobs, manifests and referrers: DIGEST_INVALID, nobody asked.
 * `constructor:` probes the algorithm table for prototype keys (it answered 500 while that
 * table was a plain object).
 */

import { category, type Case } from "./check";
import { HEX64, UNKNOWN_DIGEST } from "./world";

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

export default category(import.meta.url, "invalid digests and algorithms", DIGESTS);
