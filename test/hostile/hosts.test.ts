/**
 * Hosts: ports, IP literals, IDN, trailing dots, case, long labels, route-name labels under
 * foreign domains, and combinations with prefixes and ns. The host only ever picks a configured
 * route (by its first label) or the default: it is never a destination.
 */

import { expect } from "vitest";
import { category, type Case } from "./check";
import { GHCR, HUB } from "./world";

const HOSTS: Case[] = [
  {
    name: "host with a port",
    url: "https://docker.example.com:8443/v2/nginx/manifests/latest",
    ok: "routed",
    why: "the port does not change the route",
  },
  {
    name: "ghcr host with a port",
    url: "https://ghcr.example.com:8443/v2/org/tool/manifests/latest",
    ok: "routed",
    why: "first label ghcr picks the configured ghcr.io",
  },
  {
    name: "IPv4 literal",
    url: "https://127.0.0.1/v2/nginx/manifests/latest",
    ok: "routed",
    why: "an IP host picks the default route; it is this proxy's address, never contacted",
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
    ok: "routed",
    why: "default route",
  },
  {
    name: "IPv6 literal",
    url: "https://[::1]:8787/v2/nginx/manifests/latest",
    ok: "routed",
    why: "default route",
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
    check: ({ net }) => expect(net.to(HUB, /latest\/meta-data/)).toHaveLength(1),
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
    ok: "routed",
    why: "xn--dkcer-jua is no route: the default route",
  },
  {
    name: "IDN homoglyph ɡhcr does not pick ghcr",
    url: "https://ɡhcr.example.com/v2/org/tool/manifests/latest",
    upstream: true,
    check: ({ net }) => expect(net.to(GHCR)).toHaveLength(0),
  },
  {
    name: "punycode label given directly",
    url: "https://xn--ghcr-xxx.example.com/v2/nginx/manifests/latest",
    ok: "routed",
    why: "no route: default",
  },
  {
    name: "trailing dot ghcr.",
    url: "https://ghcr./v2/org/tool/manifests/latest",
    ok: "routed",
    why: "first label ghcr: configured ghcr.io",
  },
  {
    name: "trailing dot FQDN",
    url: "https://ghcr.example.com./v2/org/tool/manifests/latest",
    ok: "routed",
    why: "first label ghcr",
  },
  {
    name: "uppercase host",
    url: "https://GHCR.EXAMPLE.COM/v2/org/tool/manifests/latest",
    ok: "routed",
    why: "host names are case-insensitive (the URL parser lower-cases them)",
  },
  {
    name: "63-character label",
    url: `https://${"a".repeat(63)}.example.com/v2/nginx/manifests/latest`,
    ok: "routed",
    why: "default route",
  },
  {
    name: "300-character label",
    url: `https://${"a".repeat(300)}.example.com/v2/nginx/manifests/latest`,
    ok: "routed",
    why: "default route",
  },
  {
    name: "300-character label, ping with ns=evil.com",
    url: `https://${"a".repeat(300)}.example.com/v2/?ns=evil.com`,
    code: "NAME_UNKNOWN",
  },
  {
    name: "route label under a foreign domain ghcr.evil.com",
    url: "https://ghcr.evil.com/v2/org/tool/manifests/latest",
    ok: "routed",
    why: "first label ghcr: fetched from the configured ghcr.io, never evil.com",
    check: ({ net }) => expect(net.to(GHCR, /manifests/)).toHaveLength(1),
  },
  {
    name: "registry name as host labels registry-1.docker.io.evil.com",
    url: "https://registry-1.docker.io.evil.com/v2/nginx/manifests/latest",
    ok: "routed",
    why: "label registry-1 is no route: default",
  },
  {
    name: "docker.example.com.evil.com",
    url: "https://docker.example.com.evil.com/v2/nginx/manifests/latest",
    ok: "routed",
    why: "first label docker: Docker Hub",
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
    ok: "routed",
    why: "a configured prefix beats the host",
    check: ({ net }) => expect(net.to(GHCR)).toHaveLength(0),
  },
  {
    name: "k8s host, ghcr.io prefix, ns=evil.com",
    url: "https://k8s.example.com/v2/ghcr.io/org/tool/manifests/latest?ns=evil.com",
    ok: "routed",
    why: "the prefix wins over ns and host, and is configured",
  },
  {
    name: "quay host, ping ns=ghcr.io",
    url: "https://quay.example.com/v2/?ns=ghcr.io",
    upstream: true,
    code: "UNAUTHORIZED",
    check: ({ response }) =>
      expect(response.headers.get("www-authenticate")).toContain('service="ghcr.io"'),
  },
  {
    name: "localhost host, localhost prefix",
    url: "https://localhost/v2/localhost/x/manifests/latest",
    code: "NAME_UNKNOWN",
  },
  {
    name: "userinfo evil.com@ in the URL",
    url: "https://evil.com@docker.example.com/v2/nginx/manifests/latest",
    ok: "routed",
    why: "userinfo is not the host; the host is docker.example.com",
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
    ok: "ignored",
    why: "the route comes from the request URL; these headers are never forwarded",
  },
  {
    name: "plain http scheme",
    url: "http://ghcr.example.com/v2/org/tool/manifests/latest",
    ok: "routed",
    why: "the scheme does not change the upstream",
  },
];

export default category(import.meta.url, "hosts", HOSTS);
