/**
 * The hostile corpus's fake upstream world: Docker Hub with its token server and blob CDN, ghcr.io,
 * every other built-in registry, and hosts that refuse oversized requests as real servers do.
 */

import { env as testBindings } from "cloudflare:test";
import type { Bindings } from "../../src/index";
import { BUILTIN_UPSTREAMS } from "../../src/upstreams";
import { FakeNet, fakeRegistry, makeImage } from "../helpers/fake-registry";
import { testEnv } from "../helpers/worker";

export const HUB = "registry-1.docker.io";
export const HUB_AUTH = "auth.docker.io";
export const CDN = "production.cloudflare.docker.com";
export const GHCR = "ghcr.io";

// Images are deterministic, so their digests can be used in the case tables.
export const nginx = await makeImage("nginx");
const tool = await makeImage("tool");
export const BLOB = nginx.blobDigest;
export const MANIFEST = nginx.manifestDigest;
export const HEX64 = "0123456789abcdef".repeat(4);
export const UNKNOWN_DIGEST = `sha256:${"0".repeat(64)}`;

/** Docker Hub's account in this world, and the locked proxy's one user. */
export const USER = { name: "alice", password: "wonderland" };
export const ALICE = `Basic ${btoa(`${USER.name}:${USER.password}`)}`;

/** The deployment's TOKEN_SECRET: it keys the tokens the proxy hands out. */
export const TOKEN_SECRET = "hostile-corpus-token-secret";

/** What makes a proxy locked: a user to log in as, and a policy that serves Docker Hub's library. */
export const LOCKED: Partial<Bindings> = {
  PROXY_USERS: `${USER.name}:${USER.password}`,
  ALLOW: "docker.io/library/*",
};

/** Every host the fake world serves: Docker Hub with its token server and CDN, and every built-in. */
export const UPSTREAM_HOSTS = new Set([
  HUB_AUTH,
  CDN,
  ...BUILTIN_UPSTREAMS.map((r) => new URL(r.url).host),
]);

/** Why a Range the blob CDN (`serveBytes`, RFC 9110) cannot parse leaves a 200. */
export const IGNORED = "an unparsable Range is ignored (RFC 9110 §14.2): the whole blob, 200";

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

/** One case's world: the fake network, and the deployment it talks to. */
export interface World {
  net: FakeNet;
  env: Bindings;
}

/**
 * A fresh world (call `vi.restoreAllMocks()` after it): a new cache namespace, so nothing one case
 * stores is seen by another, and the R2 bucket bound as deployers bind it, so the content store is
 * part of what is attacked. `overrides` make it a locked proxy (LOCKED).
 */
export function makeWorld(overrides: Partial<Bindings> = {}): World {
  const env = testEnv({
    CACHE_BUCKET: (testBindings as unknown as { CACHE_BUCKET: R2Bucket }).CACHE_BUCKET,
    // Clients may bring their own registry credentials: the token paths are part of what is attacked.
    TOKEN_SECRET,
    ...overrides,
  });
  const net = new RealisticNet();
  fakeRegistry(net, {
    host: HUB,
    authHost: HUB_AUTH,
    service: "registry.docker.io",
    cdnHost: CDN,
    repositories: { "library/nginx": nginx, "alice/private": nginx },
    privateRepositories: ["alice/private"],
    users: { [USER.name]: USER.password },
  });
  fakeRegistry(net, { host: GHCR, authHost: GHCR, repositories: { "org/tool": tool } });
  for (const r of BUILTIN_UPSTREAMS) {
    const host = new URL(r.url).host;
    if (host !== HUB && host !== GHCR) {
      fakeRegistry(net, { host, repositories: { "org/tool": tool, pause: tool } });
    }
  }
  return { net, env };
}
