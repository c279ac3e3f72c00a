/**
 * `ns` values and path prefixes that name hosts that are not configured upstreams:
 * NAME_UNKNOWN (or NAME_INVALID where the grammar already refuses), and nobody is contacted.
 */

import { expect } from "vitest";
import { category, type Answer, type Case } from "./check";
import { BLOB, GHCR, HUB, MANIFEST } from "./world";

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

const noInjectedHeader = ({ response }: Answer) => {
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
    ok: "routed",
    why: "the first ns names a configured upstream",
  },
  {
    name: "ns=GHCR.IO (uppercase)",
    url: "/v2/org/tool/manifests/latest?ns=GHCR.IO",
    ok: "routed",
    why: "registry names are host names, case-insensitive; ghcr.io is configured",
  },
  {
    name: "ns=ghcr%2eio (encoded dot)",
    url: "/v2/org/tool/manifests/latest?ns=ghcr%2eio",
    ok: "routed",
    why: "query decoding gives ns=ghcr.io, a configured upstream",
  },
  {
    name: "ns=evil.com ignored behind a configured prefix",
    url: "/v2/ghcr.io/org/tool/manifests/latest?ns=evil.com",
    ok: "routed",
    why: "a configured path prefix takes precedence over ns",
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
    check: ({ net }) => expect(net.seen.every((s) => new URL(s.url).host === GHCR)).toBe(true),
  },
  {
    name: "one dotted component evil.com is a Docker Hub repository, not a registry",
    url: "/v2/evil.com/manifests/latest",
    upstream: true,
    check: ({ net }) => expect(net.to(HUB, /library\/evil\.com/)).toHaveLength(1),
  },
];

export default category(import.meta.url, "ns and prefixes naming foreign hosts", NAMESPACES);
