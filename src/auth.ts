/**
 * The proxy's side of token auth (Docker token auth spec): its `/v2/` ping, its challenges that
 * point clients at its own `/v2/auth`, and that token endpoint.
 *
 * Anonymous clients get the proxy's own anonymous token; the proxy then pulls with the upstream's
 * anonymous token, which it fetches and reuses itself. Clients with credentials get the upstream's
 * token for those credentials, which the proxy forwards untouched.
 */

import { findBearer, formatChallenge, parseChallenges } from "./challenge";
import type { Config } from "./config";
import { RegistryError } from "./errors";
import { namespaceRegistry, resolveRepository, type Route } from "./routing";
import { formatScope, isRepositoryScope, parseScope } from "./scope";
import { fetchUpstream, readCapped } from "./upstream";
import { upstreamAuth, upstreamToken } from "./upstream-auth";

/** The token anonymous clients get: it stands for "pull with the upstream's anonymous access". */
export const ANONYMOUS_TOKEN = "cf-registry-proxy.anonymous";
/** How long clients may keep the anonymous token; nothing expires with it. */
const ANONYMOUS_TOKEN_TTL_S = 3600;
/** Docker treats a token with under 60 s left as having 60 s: hand out only tokens with more. */
const CLIENT_TOKEN_MIN_REMAINING_MS = 75_000;
const MAX_FORM_BODY = 64 * 1024;

/**
 * The credentials a client request carries for the upstream: its Authorization header, or null
 * for an anonymous request (none, or the proxy's anonymous token).
 */
export function clientCredentials(request: Request): string | null {
  const authorization = request.headers.get("authorization");
  return authorization && authorization !== `Bearer ${ANONYMOUS_TOKEN}` ? authorization : null;
}

/**
 * The proxy's own Bearer challenge: realm on this host's `/v2/auth` (same scheme the client
 * used), the upstream's service, and an `ns` on the realm when the host alone would not pick
 * this upstream again, so the route survives the client's round trip through `/v2/auth`.
 */
export function proxyChallenge(
  requestUrl: URL,
  route: Route,
  service: string | undefined,
  extra: { scope?: string; error?: string } = {},
): string {
  const realm = new URL("/v2/auth", requestUrl.origin);
  if (route.source === "ns" || route.source === "prefix")
    realm.searchParams.set("ns", route.registry.registry);
  return formatChallenge("Bearer", {
    realm: realm.href,
    service,
    scope: extra.scope,
    error: extra.error,
  });
}

/**
 * Rewrites an upstream's 401 challenge for the client. Bearer challenges point at the proxy,
 * keeping the upstream's scope (or the repository's pull scope) and error; Basic ones pass as they are.
 */
export function rewriteChallenge(
  requestUrl: URL,
  route: Route,
  upstreamHeader: string | null,
  repository: string | undefined,
): string {
  const bearer = findBearer(upstreamHeader);
  if (
    !bearer &&
    upstreamHeader &&
    parseChallenges(upstreamHeader).some((c) => c.scheme === "basic")
  ) {
    return upstreamHeader;
  }
  const scope = bearer?.params.scope ?? (repository ? `repository:${repository}:pull` : undefined);
  return proxyChallenge(requestUrl, route, bearer?.params.service, {
    scope,
    error: bearer?.params.error,
  });
}

/** 401 UNAUTHORIZED carrying the given challenge. */
export function unauthorized(challenge: string): RegistryError {
  return new RegistryError("UNAUTHORIZED", "authentication required", undefined, {
    headers: { "www-authenticate": challenge },
  });
}

/**
 * `GET /v2/`, the version check every client starts with. Anonymous pings are answered from the
 * upstream's learned challenge, rewritten to the proxy; a ping with credentials (`docker login`
 * checking its token) is forwarded so the upstream judges them.
 */
export async function handlePing(
  request: Request,
  url: URL,
  config: Config,
  route: Route,
): Promise<Response> {
  const credentials = clientCredentials(request);
  if (credentials) {
    const headers = new Headers({ authorization: credentials });
    const upstream = await fetchUpstream(
      `${route.registry.url}/v2/`,
      { method: "GET", headers },
      config.timeoutMs,
    );
    await upstream.body?.cancel();
    if (upstream.ok) return pingOk();
    if (upstream.status === 401) {
      throw unauthorized(
        rewriteChallenge(url, route, upstream.headers.get("www-authenticate"), undefined),
      );
    }
    throw new RegistryError("UNAVAILABLE", `upstream answered ${upstream.status}`, undefined, {
      status: 502,
    });
  }
  // The proxy's anonymous token is always good.
  if (request.headers.has("authorization")) return pingOk();

  const auth = await upstreamAuth(route.registry, config.timeoutMs);
  switch (auth.kind) {
    case "none":
      return pingOk();
    case "basic":
      throw unauthorized(auth.header);
    case "bearer":
      throw unauthorized(proxyChallenge(url, route, auth.service));
  }
}

function pingOk(): Response {
  return new Response("{}", { headers: { "content-type": "application/json" } });
}

/** A token request as the client sent it, GET query or OAuth2 POST form alike. */
interface TokenRequest {
  scopes: string[];
  /** The client's Basic credentials, for the upstream realm only. */
  credentials: string | null;
  account: string | null;
}

/**
 * Serves `/v2/auth`. Finds the upstream from the realm's `ns`, the scopes' path prefixes or the
 * host; rewrites scopes to upstream names (`library/` completed, prefix removed, pull only). With
 * Basic credentials, asks the upstream's own realm (learned from the upstream, never from the
 * client) for a token and returns it; without, returns the proxy's anonymous token.
 */
export async function handleTokenRequest(
  request: Request,
  url: URL,
  config: Config,
  byHost: Route,
): Promise<Response> {
  const token = await readTokenRequest(request, url);
  const ns = url.searchParams.get("ns");

  let route: Route =
    ns !== null ? { registry: namespaceRegistry(config, ns), source: "ns" } : byHost;
  const scopes: string[] = [];
  for (const raw of token.scopes) {
    const scope = parseScope(raw);
    if (!scope || !isRepositoryScope(scope)) continue; // catalog and other grants are not for a pull proxy
    const target = resolveRepository(config, byHost, ns, scope.name);
    if (scopes.length && target.registry !== route.registry) {
      throw new RegistryError(
        "DENIED",
        "one token request cannot span several upstream registries",
      );
    }
    route = target;
    scopes.push(formatScope({ type: scope.type, name: target.repository, actions: ["pull"] }));
  }

  const auth = await upstreamAuth(route.registry, config.timeoutMs);
  if (!token.credentials || auth.kind !== "bearer") {
    return tokenResponse({ token: ANONYMOUS_TOKEN, expires_in: ANONYMOUS_TOKEN_TTL_S });
  }
  const upstream = await upstreamToken(
    route.registry,
    auth,
    { scopes, credentials: token.credentials, account: token.account },
    { timeoutMs: config.timeoutMs, minRemainingMs: CLIENT_TOKEN_MIN_REMAINING_MS },
  );
  // A reused token goes out with the lifetime it has left, not the one it started with.
  const expiresIn = Math.floor((upstream.expiresAt - Date.now()) / 1000);
  return tokenResponse({
    ...upstream.body,
    token: upstream.token,
    expires_in: expiresIn,
    issued_at: new Date().toISOString(),
  });
}

async function readTokenRequest(request: Request, url: URL): Promise<TokenRequest> {
  if (request.method !== "POST") {
    const authorization = request.headers.get("authorization");
    return {
      scopes: splitScopes(url.searchParams.getAll("scope")),
      credentials: authorization && /^basic /i.test(authorization) ? authorization : null,
      account: url.searchParams.get("account"),
    };
  }
  // containerd's OAuth2 form (grant_type=password); containerd falls back to GET on a 400.
  const text = await readCapped(request.body, MAX_FORM_BODY);
  if (text === undefined)
    throw new RegistryError("UNSUPPORTED", "token request form too large", undefined, {
      status: 413,
    });
  const form = new URLSearchParams(text);
  if (form.get("grant_type") !== "password") {
    throw new RegistryError(
      "UNSUPPORTED",
      "only grant_type=password is supported; use GET",
      undefined,
      { status: 400 },
    );
  }
  return {
    scopes: splitScopes(form.getAll("scope")),
    credentials: basicAuthorization(form.get("username") ?? "", form.get("password") ?? ""),
    account: null,
  };
}

/** `scope` may repeat, and OAuth2 clients join several with spaces. */
function splitScopes(values: string[]): string[] {
  return values.flatMap((v) => v.split(" ")).filter(Boolean);
}

/** Clients read `token` (Docker) or `access_token` (OAuth2, containerd's POST): answer with both. */
function tokenResponse(
  body: Record<string, unknown> & { token: string; expires_in: number },
): Response {
  const full = { issued_at: new Date().toISOString(), ...body, access_token: body.token };
  return new Response(JSON.stringify(full), {
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** `Basic base64(user:password)`, UTF-8 safe. */
function basicAuthorization(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}
