/**
 * The client side of auth: the proxy's own challenges, the login gate of a locked proxy, and what
 * a client's `Authorization` means for a repository request (Docker token auth spec).
 *
 * Tokens the proxy hands out:
 * - on a locked proxy (PROXY_USERS), a proxy token per login (login.ts): nothing else passes;
 * - on an open proxy, the anonymous token: "pull with the proxy's own access" (the upstream's
 *   anonymous access, or the owner's UPSTREAM_CREDENTIALS), whose upstream tokens the proxy
 *   fetches and reuses itself;
 * - on an open proxy with TOKEN_SECRET, a sealed upstream token (sealed-token.ts) for a client
 *   that brought its own registry credentials, forwarded only to the registry that issued it.
 */

import { isBasic } from "./basic-auth";
import { formatChallenge, findBearer, parseChallenges } from "./challenge";
import { isLocked } from "./config";
import { unauthorized } from "./errors";
import type { Grant } from "./forward";
import type { Isolate } from "./isolate";
import { checkLogin, verifyProxyToken } from "./login";
import type { RepositoryTarget, Target } from "./routing";
import { pullScope } from "./scope";
import { unsealToken } from "./sealed-token";

/** The token anonymous clients of an open proxy get: it stands for the proxy's own access. */
export const ANONYMOUS_TOKEN = "cf-registry-proxy.anonymous";

/**
 * The proxy's Bearer challenge: realm on this host's `/v2/auth` (the scheme the client used),
 * with an `ns` on the realm when the host alone would not pick this upstream again. `service` is
 * the upstream's own, when known: clients only echo it back.
 */
export function proxyChallenge(
  url: URL,
  target: Target | undefined,
  params: { service?: string; scope?: string; error?: string } = {},
): string {
  const realm = new URL("/v2/auth", url.origin);
  if (target && (target.via === "ns" || target.via === "prefix")) {
    realm.searchParams.set("ns", target.upstream.name);
  }
  return formatChallenge("Bearer", {
    realm: realm.href,
    service: params.service,
    scope: params.scope,
    error: params.error,
  });
}

/**
 * The gate of a locked proxy, before anything else happens: the user a valid proxy token names,
 * or the same 401 for every request, whatever it asked for. It reveals nothing of the routes or
 * the policy, and contacts no upstream.
 */
export async function requireLogin(isolate: Isolate, request: Request, url: URL): Promise<string> {
  const authorization = request.headers.get("authorization");
  const user =
    (await verifyProxyToken(isolate.config, authorization)) ??
    // Docker's v1 search sends the stored login itself, as Basic, rather than a token.
    (url.pathname.startsWith("/v1/") ? await checkLogin(isolate.config, authorization) : undefined);
  if (user) return user;
  throw unauthorized(proxyChallenge(url, undefined), "log in to this proxy (docker login)");
}

/**
 * What a repository request pulls with, from its `Authorization`. On a locked proxy the gate has
 * already checked the login: the proxy's shared access. On an open proxy: none or the anonymous
 * token → shared; a token this deployment sealed for this registry → that upstream token;
 * `Basic` → forwarded only to an upstream whose own scheme is Basic. Anything else (a token for
 * another registry, one this proxy never issued, Basic for a token-auth upstream) gets the proxy's
 * challenge and goes nowhere.
 */
export async function clientGrant(
  isolate: Isolate,
  request: Request,
  url: URL,
  target: RepositoryTarget,
): Promise<Grant> {
  const { config } = isolate;
  const shared: Grant = {
    kind: "shared",
    credentials: config.upstreamCredentials.get(target.upstream.route) ?? [],
  };
  const authorization = request.headers.get("authorization");
  if (isLocked(config) || !authorization || authorization === `Bearer ${ANONYMOUS_TOKEN}`) {
    return shared;
  }
  if (config.tokenSecret) {
    const sealed = await unsealToken(config.tokenSecret, authorization);
    if (sealed?.registry === target.upstream.name) {
      return { kind: "client", authorization: `Bearer ${sealed.token}` };
    }
  }
  if (isBasic(authorization) && (await isolate.auth.scheme(target.upstream)).kind === "basic") {
    return { kind: "client", authorization };
  }
  throw unauthorized(proxyChallenge(url, target, { scope: pullScope(target.repository) }));
}

/**
 * An upstream's 401 challenge, for the client: a Basic-only upstream's passes as it is (the
 * client's Basic then goes to that upstream); anything else becomes the proxy's challenge for the
 * repository.
 */
export function rewriteChallenge(
  url: URL,
  target: RepositoryTarget,
  upstreamHeader: string | null,
  grant: Grant,
): string {
  const bearer = findBearer(upstreamHeader);
  if (
    !bearer &&
    upstreamHeader &&
    parseChallenges(upstreamHeader).some((c) => c.scheme === "basic")
  ) {
    return upstreamHeader;
  }
  return proxyChallenge(url, target, {
    service: bearer?.params.service,
    scope: pullScope(target.repository),
    // An `error` (invalid_token) is about the token the request carried: the client's own, or
    // else the proxy's, which is none of the client's business.
    error: grant.kind === "client" ? bearer?.params.error : undefined,
  });
}
