/** `GET /v2/`, the version check every client starts with, and `docker login`'s check of a token. */

import { isBasic } from "./basic-auth";
import { findBearer } from "./challenge";
import { ANONYMOUS_TOKEN, proxyChallenge } from "./client-auth";
import { unauthorized } from "./errors";
import { isLocked } from "./config";
import { fetchUpstream } from "./fetch-upstream";
import type { Isolate } from "./isolate";
import type { Trace } from "./log";
import { requestTarget, type Target } from "./routing";
import { unsealToken } from "./sealed-token";
import type { AuthScheme } from "./upstream-auth";
import { upstreamError } from "./upstream-error";

/**
 * On a locked proxy the login gate has already passed: 200. On an open proxy, without
 * credentials, the answer follows the upstream's own scheme (learned once): none → 200, Basic →
 * its Basic challenge, Bearer → the proxy's challenge. The anonymous token is always good; a
 * sealed upstream token, or Basic for a Basic-only upstream, is checked by the upstream itself.
 */
export async function servePing(
  isolate: Isolate,
  request: Request,
  url: URL,
  trace: Trace,
): Promise<Response> {
  // On a locked proxy the gate already checked the login; an `ns` must still name an upstream.
  const target = requestTarget(isolate.config, url);
  trace.target = target;
  if (isLocked(isolate.config)) return pingOk();
  const authorization = request.headers.get("authorization");
  if (authorization === `Bearer ${ANONYMOUS_TOKEN}`) return pingOk();

  const scheme = await isolate.auth.scheme(target.upstream);
  if (!authorization) {
    if (scheme.kind === "none") return pingOk();
    if (scheme.kind === "basic") throw unauthorized(scheme.header);
    throw unauthorized(proxyChallenge(url, target, { service: scheme.service }));
  }
  const secret = isolate.config.tokenSecret;
  const sealed = secret ? await unsealToken(secret, authorization) : undefined;
  if (sealed?.registry === target.upstream.name) {
    return forwardPing(isolate, url, target, `Bearer ${sealed.token}`);
  }
  if (isBasic(authorization) && scheme.kind === "basic") {
    return forwardPing(isolate, url, target, authorization);
  }
  throw unauthorized(proxyChallenge(url, target, { service: serviceOf(scheme) }));
}

/** Lets the upstream judge the client's own token or Basic credentials. */
async function forwardPing(
  isolate: Isolate,
  url: URL,
  target: Target,
  authorization: string,
): Promise<Response> {
  const upstream = await fetchUpstream(`${target.upstream.url}/v2/`, {
    method: "GET",
    headers: new Headers({ authorization }),
    timeoutMs: isolate.config.timeoutMs,
  });
  if (upstream.ok) {
    await upstream.body?.cancel();
    return pingOk();
  }
  if (upstream.status === 401) {
    await upstream.body?.cancel();
    const header = upstream.headers.get("www-authenticate");
    if (isBasic(authorization) && header) throw unauthorized(header);
    const service = findBearer(header)?.params.service;
    throw unauthorized(proxyChallenge(url, target, { service }));
  }
  throw await upstreamError(upstream, "upstream");
}

function serviceOf(scheme: AuthScheme): string | undefined {
  return scheme.kind === "bearer" ? scheme.service : undefined;
}

function pingOk(): Response {
  return new Response("{}", { headers: { "content-type": "application/json" } });
}
