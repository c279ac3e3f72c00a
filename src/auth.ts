/**
 * The proxy's side of token auth (Docker token auth spec): its `/v2/` ping, its challenges that
 * point clients at its own `/v2/auth`, that token endpoint, and what a client's token means.
 *
 * Tokens the proxy hands out are of three kinds:
 * - the anonymous token: "pull with the proxy's own access" (the upstream's anonymous access, or
 *   the owner's UPSTREAM_CREDENTIALS), whose upstream tokens the proxy fetches and reuses itself;
 * - `cfrp~<registry>~<upstream token>`: an upstream token a client got with its own credentials,
 *   forwarded only to the registry whose token server issued it;
 * - with PROXY_USERS, a signed proxy token (access.ts) that stands for the proxy's own access.
 */

import {
  checkLogin,
  issueProxyToken,
  loginRequired,
  PROXY_TOKEN_TTL_S,
  verifyProxyToken,
  authorizeRepository,
} from "./access";
import { findBearer, formatChallenge, parseChallenges } from "./challenge";
import type { Config, Credential } from "./config";
import { RegistryError, upstreamFailure } from "./errors";
import { requestRoute, resolveRepository, type RepositoryRoute, type Route } from "./routing";
import { formatScope, isRepositoryScope, parseScope } from "./scope";
import { fetchUpstream, readCapped } from "./upstream";
import { upstreamAuth, upstreamToken } from "./upstream-auth";
import { basicAuthorization } from "./upstream-credentials";

/** The token anonymous clients get: it stands for "pull with the proxy's own access". */
export const ANONYMOUS_TOKEN = "cf-registry-proxy.anonymous";
/** How long clients may keep the anonymous token; nothing expires with it. */
const ANONYMOUS_TOKEN_TTL_S = 3600;
/** Docker treats a token with under 60 s left as having 60 s: hand out only tokens with more. */
const CLIENT_TOKEN_MIN_REMAINING_MS = 75_000;
const MAX_FORM_BODY = 64 * 1024;
/** An upstream token handed to a client, marked with the registry it may be sent to. */
const UPSTREAM_TOKEN = /^bearer\s+cfrp~([^~\s]+)~(\S+)$/i;
const markUpstreamToken = (registry: string, token: string) => `cfrp~${registry}~${token}`;

/** What a repository request pulls with. */
export type Pull =
  /** The proxy's own access: anonymous, or the owner's credentials for the route when configured. */
  | { kind: "proxy"; credentials: readonly Credential[] }
  /** The client's own upstream token (or Basic credentials for a Basic-only upstream). */
  | { kind: "client"; authorization: string };

/** What a client's Authorization header is, on an open proxy (no PROXY_USERS). */
type ClientToken =
  | { kind: "anonymous" }
  /** Credentials for this registry: the client's Basic, or an upstream token it issued. */
  | { kind: "upstream"; authorization: string }
  /** Anything else: a token for another registry, or one this proxy never issued. */
  | { kind: "foreign" };

function classifyToken(authorization: string | null, route: Route): ClientToken {
  if (!authorization || authorization === `Bearer ${ANONYMOUS_TOKEN}`) return { kind: "anonymous" };
  if (/^basic\s/i.test(authorization)) return { kind: "upstream", authorization };
  const wrapped = UPSTREAM_TOKEN.exec(authorization);
  if (wrapped && wrapped[1] === route.registry.registry) {
    return { kind: "upstream", authorization: `Bearer ${wrapped[2]}` };
  }
  return { kind: "foreign" };
}

/**
 * Decides what a repository request pulls with, from its Authorization header. With PROXY_USERS
 * only a valid proxy token passes. A token issued for another registry, or not by this proxy,
 * gets the proxy's challenge, so the client fetches a proper one: it is never forwarded.
 */
export async function resolvePull(
  request: Request,
  url: URL,
  config: Config,
  route: RepositoryRoute,
): Promise<Pull> {
  const authorization = request.headers.get("authorization");
  const own: Pull = {
    kind: "proxy",
    credentials: config.upstreamCredentials.get(route.registry.route) ?? [],
  };
  if (loginRequired(config)) {
    if (await verifyProxyToken(config, authorization)) return own;
  } else {
    const token = classifyToken(authorization, route);
    if (token.kind === "anonymous") return own;
    if (token.kind === "upstream") return { kind: "client", authorization: token.authorization };
  }
  throw unauthorized(
    proxyChallenge(url, route, undefined, { scope: `repository:${route.repository}:pull` }),
  );
}

/**
 * The proxy's own Bearer challenge: realm on this host's `/v2/auth` (same scheme the client
 * used), the upstream's service, and an `ns` on the realm when the host alone would not pick
 * this upstream again, so the route survives the client's round trip through `/v2/auth`.
 */
function proxyChallenge(
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
 * `GET /v2/`, the version check every client starts with. Without credentials it is answered
 * from the upstream's learned challenge, rewritten to the proxy; a client checking its token
 * (`docker login`) gets 200 for a token of the proxy's, and the upstream's verdict for its own.
 */
export async function handlePing(
  request: Request,
  url: URL,
  config: Config,
  route: Route,
): Promise<Response> {
  const authorization = request.headers.get("authorization");
  const open = !loginRequired(config);
  if (open) {
    const token = classifyToken(authorization, route);
    if (token.kind === "upstream") return forwardPing(url, config, route, token.authorization);
    // The proxy's anonymous token is always good.
    if (token.kind === "anonymous" && authorization) return pingOk();
  } else if (await verifyProxyToken(config, authorization)) {
    return pingOk();
  }

  const auth = await upstreamAuth(route.registry, config.timeoutMs);
  if (open && auth.kind === "none") return pingOk();
  if (open && auth.kind === "basic") throw unauthorized(auth.header);
  throw unauthorized(proxyChallenge(url, route, auth.kind === "bearer" ? auth.service : undefined));
}

async function forwardPing(
  url: URL,
  config: Config,
  route: Route,
  authorization: string,
): Promise<Response> {
  const headers = new Headers({ authorization });
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
  throw upstreamFailure(upstream, "upstream");
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
 * host; rewrites scopes to upstream names (`library/` completed, prefix removed, pull only) and
 * checks them against ALLOW / BLOCK. With PROXY_USERS, the client's Basic credentials are a proxy
 * login and buy a proxy token. Otherwise Basic credentials go to the upstream's own realm (learned
 * from the upstream, never from the client) for a token; without credentials, the anonymous token.
 */
export async function handleTokenRequest(
  request: Request,
  url: URL,
  config: Config,
  byHost: Route,
): Promise<Response> {
  const token = await readTokenRequest(request, url);
  const ns = url.searchParams.get("ns");

  let route = requestRoute(config, byHost, ns);
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
    authorizeRepository(config, target);
    route = target;
    scopes.push(formatScope({ type: scope.type, name: target.repository, actions: ["pull"] }));
  }

  if (loginRequired(config)) {
    const user = await checkLogin(config, token.credentials);
    if (!user) {
      throw new RegistryError(
        "UNAUTHORIZED",
        "log in to this proxy with one of its users",
        undefined,
        {
          headers: { "www-authenticate": 'Basic realm="cf-registry-proxy"' },
        },
      );
    }
    return tokenResponse({
      token: await issueProxyToken(config, user),
      expires_in: PROXY_TOKEN_TTL_S,
    });
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
    token: markUpstreamToken(route.registry.registry, upstream.token),
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
    credentials: basicAuthorization({
      username: form.get("username") ?? "",
      password: form.get("password") ?? "",
    }),
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
