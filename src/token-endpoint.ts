/**
 * `/v2/auth`, the proxy's token realm (Docker token auth spec, "Requesting a token"; OAuth2
 * password grant as containerd POSTs it).
 */

import { formatBasic, isBasic } from "./basic-auth";
import { ANONYMOUS_TOKEN } from "./client-auth";
import { isLocked } from "./config";
import { RegistryError, unauthorized } from "./errors";
import type { Isolate } from "./isolate";
import type { Trace } from "./log";
import { checkLogin, issueProxyToken, PROXY_TOKEN_TTL_S } from "./login";
import { checkPolicy } from "./policy";
import { requestTarget, resolveRepository, type Target } from "./routing";
import { isRepositoryScope, parseScope, pullScope } from "./scope";
import { sealToken } from "./sealed-token";
import { readCapped } from "./upstream-error";

/** How long clients may keep the anonymous token; nothing expires with it. */
const ANONYMOUS_TOKEN_TTL_S = 3600;
/** Docker treats a token with under 60 s left as having 60 s: hand out only tokens with more. */
const CLIENT_TOKEN_MIN_REMAINING_MS = 75_000;
const MAX_FORM_BODY = 64 * 1024;

/** A token request as the client sent it, GET query or OAuth2 POST form alike. */
interface TokenRequest {
  scopes: string[];
  /** The client's `Basic` credentials, if it sent any. */
  authorization: string | null;
  account: string | null;
}

/**
 * Serves `/v2/auth`. On a locked proxy the client's Basic credentials are a proxy login, checked
 * before anything else, and buy a proxy token. On an open proxy the scopes pick the upstream (the
 * realm's `ns`, path prefixes, else the host) and are checked against ALLOW / BLOCK; a client
 * with credentials, when TOKEN_SECRET is set and the upstream uses tokens, gets the upstream's own
 * token for them (asked of the realm the upstream named, never one the client named), sealed;
 * everyone else gets the anonymous token.
 */
export async function serveToken(
  isolate: Isolate,
  request: Request,
  url: URL,
  trace: Trace,
): Promise<Response> {
  const { config } = isolate;
  const tokenRequest = await readTokenRequest(request, url);

  if (isLocked(config)) {
    const user = await checkLogin(config, tokenRequest.authorization);
    if (!user) {
      throw unauthorized(
        'Basic realm="cf-registry-proxy"',
        "log in to this proxy with one of its users",
      );
    }
    return tokenResponse({
      token: await issueProxyToken(config, user),
      expires_in: PROXY_TOKEN_TTL_S,
    });
  }

  const { target, scopes } = resolveScopes(isolate, url, tokenRequest.scopes);
  trace.target = target;
  const scheme = await isolate.auth.scheme(target.upstream);
  if (!tokenRequest.authorization || scheme.kind !== "bearer" || !config.tokenSecret) {
    return tokenResponse({ token: ANONYMOUS_TOKEN, expires_in: ANONYMOUS_TOKEN_TTL_S });
  }
  const upstream = await isolate.auth.token(
    scheme,
    { scopes, authorization: tokenRequest.authorization, account: tokenRequest.account },
    CLIENT_TOKEN_MIN_REMAINING_MS,
  );
  return tokenResponse({
    token: await sealToken(config.tokenSecret, {
      registry: target.upstream.name,
      token: upstream.token,
      expiresAt: upstream.expiresAt,
    }),
    // A reused token goes out with the lifetime it has left, not the one it started with.
    expires_in: Math.floor((upstream.expiresAt - Date.now()) / 1000),
  });
}

/**
 * The upstream the scopes name and their pull scopes in its own names (`library/` completed,
 * prefix removed, pull only), each checked against the policy. Catalog and other grants are not
 * for a pull proxy and are dropped.
 */
function resolveScopes(
  isolate: Isolate,
  url: URL,
  raw: string[],
): { target: Target; scopes: string[] } {
  let target = requestTarget(isolate.config, url);
  const scopes: string[] = [];
  for (const text of raw) {
    const scope = parseScope(text);
    if (!scope || !isRepositoryScope(scope)) continue;
    const repository = resolveRepository(isolate.config, url, scope.name);
    if (scopes.length && repository.upstream !== target.upstream) {
      throw new RegistryError(
        "DENIED",
        "one token request cannot span several upstream registries",
      );
    }
    checkPolicy(isolate.config, repository);
    target = repository;
    scopes.push(pullScope(repository.repository));
  }
  return { target, scopes };
}

async function readTokenRequest(request: Request, url: URL): Promise<TokenRequest> {
  if (request.method !== "POST") {
    const authorization = request.headers.get("authorization");
    return {
      scopes: splitScopes(url.searchParams.getAll("scope")),
      authorization: isBasic(authorization) ? authorization : null,
      account: url.searchParams.get("account"),
    };
  }
  // containerd's OAuth2 form (grant_type=password); containerd falls back to GET on a 400.
  const text = await readCapped(request.body, MAX_FORM_BODY);
  if (text === undefined) {
    throw new RegistryError("REQUEST_TOO_LARGE", "token request form too large");
  }
  const form = new URLSearchParams(text);
  if (form.get("grant_type") !== "password") {
    throw new RegistryError("PARAMETER_INVALID", "only grant_type=password is supported; use GET");
  }
  const username = form.get("username");
  return {
    scopes: splitScopes(form.getAll("scope")),
    authorization: username
      ? formatBasic({ username, password: form.get("password") ?? "" })
      : null,
    account: null,
  };
}

/** `scope` may repeat, and OAuth2 clients join several with spaces. */
function splitScopes(values: string[]): string[] {
  return values.flatMap((v) => v.split(" ")).filter(Boolean);
}

/** Clients read `token` (Docker) or `access_token` (OAuth2, containerd's POST): answer with both. */
function tokenResponse(body: { token: string; expires_in: number }): Response {
  const full = { ...body, access_token: body.token, issued_at: new Date().toISOString() };
  return new Response(JSON.stringify(full), {
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
