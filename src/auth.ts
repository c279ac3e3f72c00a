/**
 * Token auth (Docker token auth spec): learning each upstream's challenge, rewriting it to the
 * proxy's own `/v2/auth`, and exchanging the client's request there for an upstream token.
 */

import { findBearer, formatChallenge, parseChallenges } from "./challenge";
import type { Config } from "./config";
import { RegistryError } from "./errors";
import type { Registry } from "./registries";
import { resolveRepository, namespaceRegistry, type Route } from "./routing";
import { formatScope, isRepositoryScope, parseScope } from "./scope";
import { fetchUpstream, readCapped } from "./upstream";

/** How an upstream wants clients to authenticate, learned from its `GET /v2/`. */
export type UpstreamAuth =
  | { kind: "bearer"; realm: string; service: string | undefined }
  | { kind: "basic"; header: string }
  | { kind: "none" };

/** Token the proxy hands out for upstreams that need none; never forwarded upstream. */
export const ANONYMOUS_TOKEN = "cf-registry-proxy.anonymous";

/** Challenges change only when a registry moves its auth server; relearn now and then. */
const CHALLENGE_TTL_MS = 10 * 60 * 1000;
/** Token responses are small; anything bigger is not a token server (go-containerregistry uses 64 KiB). */
const MAX_TOKEN_BODY = 64 * 1024;

const challenges = new Map<string, { auth: UpstreamAuth; expires: number }>();

/** The upstream's auth scheme, from this isolate's cache or one `GET /v2/` to the upstream. */
export async function upstreamAuth(registry: Registry, timeoutMs: number): Promise<UpstreamAuth> {
  const cached = challenges.get(registry.url);
  if (cached && cached.expires > Date.now()) return cached.auth;

  const response = await fetchUpstream(
    `${registry.url}/v2/`,
    { method: "GET", headers: new Headers() },
    timeoutMs,
  );
  await response.body?.cancel();
  const auth = authFromPing(response);
  challenges.set(registry.url, { auth, expires: Date.now() + CHALLENGE_TTL_MS });
  return auth;
}

/** Interprets an upstream's answer to `GET /v2/` (exported for tests). */
export function authFromPing(response: Response): UpstreamAuth {
  if (response.ok) return { kind: "none" };
  const header = response.headers.get("www-authenticate");
  if (response.status === 401 && header) {
    const bearer = findBearer(header);
    const realm = bearer?.params.realm;
    if (realm && isHttpUrl(realm)) return { kind: "bearer", realm, service: bearer.params.service };
    if (parseChallenges(header).some((c) => c.scheme === "basic")) return { kind: "basic", header };
  }
  throw new RegistryError(
    "UNAVAILABLE",
    "upstream registry did not answer its ping as a registry",
    {
      status: response.status,
    },
    { status: 502 },
  );
}

/** Forgets learned challenges (tests). */
export function clearAuthCache(): void {
  challenges.clear();
}

/**
 * The proxy's own Bearer challenge: realm on this host's `/v2/auth` (same scheme the client
 * used), the upstream's service, and an `ns` on the realm when the host alone would not pick
 * this upstream again.
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

/** A token request as the client sent it, GET query or OAuth2 POST form alike. */
interface TokenRequest {
  scopes: string[];
  /** The client's Basic credentials, if any, for the upstream realm only. */
  authorization: string | null;
  params: URLSearchParams;
}

/**
 * Serves `/v2/auth`: finds the upstream from the realm's `ns`, the scopes' path prefixes or the
 * host; rewrites the scopes to upstream names; asks the upstream's own realm (learned from the
 * upstream, never from the client) for a token; returns its token response.
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
  if (auth.kind !== "bearer") return tokenResponse(ANONYMOUS_TOKEN, 3600);

  const upstream = new URL(auth.realm);
  if (auth.service) upstream.searchParams.set("service", auth.service);
  for (const scope of new Set(scopes)) upstream.searchParams.append("scope", scope);
  for (const name of ["account", "client_id", "offline_token"]) {
    const value = token.params.get(name);
    if (value !== null) upstream.searchParams.set(name, value);
  }
  const headers = new Headers();
  if (token.authorization) headers.set("authorization", token.authorization);

  const response = await fetchUpstream(upstream.href, { method: "GET", headers }, config.timeoutMs);
  const body = await readCapped(response.body, MAX_TOKEN_BODY);
  if (body === undefined) {
    throw new RegistryError("UNAVAILABLE", "upstream token response too large", undefined, {
      status: 502,
    });
  }
  if (!response.ok) throw tokenError(response, body);
  return normalizeTokenBody(body);
}

async function readTokenRequest(request: Request, url: URL): Promise<TokenRequest> {
  const basic = request.headers.get("authorization");
  const authorization = basic && /^basic /i.test(basic) ? basic : null;
  if (request.method !== "POST") {
    return {
      scopes: splitScopes(url.searchParams.getAll("scope")),
      authorization,
      params: url.searchParams,
    };
  }

  // containerd's OAuth2 form (grant_type=password); containerd falls back to GET on a 400.
  const text = await readCapped(request.body, MAX_TOKEN_BODY);
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
      {
        status: 400,
      },
    );
  }
  const username = form.get("username") ?? "";
  const password = form.get("password") ?? "";
  return {
    scopes: splitScopes(form.getAll("scope")),
    authorization: basicAuthorization(username, password),
    params: form,
  };
}

/** `scope` may repeat, and OAuth2 clients join several with spaces. */
function splitScopes(values: string[]): string[] {
  return values.flatMap((v) => v.split(" ")).filter(Boolean);
}

/** Clients read `token` (Docker) or `access_token` (OAuth2, containerd's POST): answer with both. */
function normalizeTokenBody(body: string): Response {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new RegistryError("UNAVAILABLE", "upstream token server sent no JSON", undefined, {
      status: 502,
    });
  }
  const token = parsed.token ?? parsed.access_token;
  if (typeof token !== "string" || !token) {
    throw new RegistryError("UNAVAILABLE", "upstream token server sent no token", undefined, {
      status: 502,
    });
  }
  return jsonResponse({ ...parsed, token, access_token: token });
}

function tokenResponse(token: string, expiresIn: number): Response {
  return jsonResponse({
    token,
    access_token: token,
    expires_in: expiresIn,
    issued_at: new Date().toISOString(),
  });
}

function jsonResponse(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function tokenError(response: Response, body: string): RegistryError {
  const detail = upstreamDetail(body);
  if (response.status === 401 || response.status === 403) {
    return new RegistryError("UNAUTHORIZED", "upstream rejected the credentials", detail, {
      status: 401,
    });
  }
  if (response.status === 429) {
    const retry = response.headers.get("retry-after");
    return new RegistryError("TOOMANYREQUESTS", "upstream token server is rate limiting", detail, {
      headers: retry ? { "retry-after": retry } : {},
    });
  }
  return new RegistryError(
    "UNAVAILABLE",
    `upstream token server answered ${response.status}`,
    detail,
    {
      status: 502,
    },
  );
}

/** A short, safe detail from an upstream error body: its message if JSON, else nothing. */
export function upstreamDetail(body: string): unknown {
  try {
    const parsed = JSON.parse(body) as {
      errors?: Array<{ message?: unknown }>;
      details?: unknown;
      error?: unknown;
    };
    const message = parsed.errors?.[0]?.message ?? parsed.details ?? parsed.error;
    return typeof message === "string" ? message.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}

/** `Basic base64(user:password)`, UTF-8 safe. */
function basicAuthorization(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/**
 * `GET /v2/` (the version check every client starts with). Without credentials it is answered
 * from the upstream's learned challenge, rewritten to the proxy; with credentials (`docker login`
 * checking its token) it is forwarded so the upstream can judge them.
 */
export async function handlePing(
  request: Request,
  url: URL,
  config: Config,
  route: Route,
): Promise<Response> {
  const authorization = request.headers.get("authorization");
  if (authorization && authorization !== `Bearer ${ANONYMOUS_TOKEN}`) {
    const headers = new Headers({ authorization });
    const upstream = await fetchUpstream(
      `${route.registry.url}/v2/`,
      { method: "GET", headers },
      config.timeoutMs,
    );
    await upstream.body?.cancel();
    if (upstream.ok) return pingOk();
    if (upstream.status !== 401)
      throw new RegistryError("UNAVAILABLE", `upstream answered ${upstream.status}`, undefined, {
        status: 502,
      });
    throw unauthorized(
      rewriteChallenge(url, route, upstream.headers.get("www-authenticate"), undefined),
    );
  }

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

/** 401 UNAUTHORIZED carrying the given challenge. */
export function unauthorized(challenge: string): RegistryError {
  return new RegistryError("UNAUTHORIZED", "authentication required", undefined, {
    headers: { "www-authenticate": challenge },
  });
}
