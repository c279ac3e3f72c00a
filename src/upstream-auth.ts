/**
 * Upstream token exchange (Docker token auth spec): learn each upstream's challenge once, fetch
 * tokens from its own realm, and reuse them for as long as they last.
 */

import { findBearer, parseChallenges } from "./challenge";
import type { Credential } from "./config";
import { sha256Digest } from "./digest";
import { RegistryError, upstreamFailure } from "./errors";
import type { Registry } from "./registries";
import { fetchUpstream, readCapped } from "./upstream";
import { basicAuthorization } from "./upstream-credentials";

/** How an upstream wants clients to authenticate, learned from its `GET /v2/`. */
export type UpstreamAuth =
  | { kind: "bearer"; realm: string; service: string | undefined }
  | { kind: "basic"; header: string }
  | { kind: "none" };

/** A token from an upstream realm, with the response body it came in. */
export interface UpstreamToken {
  token: string;
  body: Record<string, unknown>;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/** Challenges change only when a registry moves its auth server; relearn now and then. */
const CHALLENGE_TTL_MS = 10 * 60 * 1000;
/** Token responses are small; anything bigger is not a token server (go-containerregistry: 64 KiB). */
const MAX_TOKEN_BODY = 64 * 1024;
/** The token spec's default lifetime when `expires_in` is missing. */
const DEFAULT_EXPIRES_IN_S = 60;
/** Bound on cached tokens per isolate; the oldest goes first. */
const MAX_CACHED_TOKENS = 1000;

const challenges = new Map<string, { auth: UpstreamAuth; expires: number }>();
const tokens = new Map<string, UpstreamToken>();

/** The upstream's auth scheme, from this isolate's cache or one `GET /v2/` to the upstream. */
export async function upstreamAuth(registry: Registry, timeoutMs: number): Promise<UpstreamAuth> {
  const cached = challenges.get(registry.url);
  if (cached && cached.expires > Date.now()) return cached.auth;

  const ping = await fetchUpstream(
    `${registry.url}/v2/`,
    { method: "GET", headers: new Headers() },
    timeoutMs,
  );
  await ping.body?.cancel();
  const auth = authFromPing(ping);
  challenges.set(registry.url, { auth, expires: Date.now() + CHALLENGE_TTL_MS });
  return auth;
}

/** Interprets an upstream's answer to `GET /v2/`. */
function authFromPing(response: Response): UpstreamAuth {
  if (response.ok) return { kind: "none" };
  const header = response.headers.get("www-authenticate");
  if (response.status === 401 && header) {
    const bearer = findBearer(header);
    const realm = bearer?.params.realm;
    // The realm is where credentials will go: only an http(s) URL is acceptable.
    if (realm && isHttpUrl(realm)) return { kind: "bearer", realm, service: bearer.params.service };
    if (parseChallenges(header).some((c) => c.scheme === "basic")) return { kind: "basic", header };
  }
  if (response.status === 429 || response.status >= 500)
    throw upstreamFailure(response, "upstream");
  throw new RegistryError(
    "UNAVAILABLE",
    "upstream did not answer its ping like a registry",
    { status: response.status },
    { status: 502 },
  );
}

/**
 * A token for `scopes` from the upstream's realm, reused from this isolate's cache while it has
 * more than `minRemainingMs` left. A token obtained with credentials is cached under a hash of
 * those credentials, so it can only ever be served to whoever presents them again.
 */
export async function upstreamToken(
  registry: Registry,
  auth: Extract<UpstreamAuth, { kind: "bearer" }>,
  request: { scopes: string[]; credentials: string | null; account?: string | null },
  options: { timeoutMs: number; minRemainingMs: number },
): Promise<UpstreamToken> {
  const scopes = [...new Set(request.scopes)].sort();
  const key = await tokenKey(registry, request.credentials, scopes);
  const cached = tokens.get(key);
  if (cached && cached.expiresAt - Date.now() > options.minRemainingMs) return cached;

  const url = new URL(auth.realm);
  if (auth.service) url.searchParams.set("service", auth.service);
  for (const scope of scopes) url.searchParams.append("scope", scope);
  if (request.account) url.searchParams.set("account", request.account);
  const headers = new Headers();
  if (request.credentials) headers.set("authorization", request.credentials);

  const response = await fetchUpstream(url.href, { method: "GET", headers }, options.timeoutMs);
  const text = await readCapped(response.body, MAX_TOKEN_BODY);
  if (text === undefined) {
    throw new RegistryError("UNAVAILABLE", "upstream token response too large", undefined, {
      status: 502,
    });
  }
  if (!response.ok) throw tokenError(response, text);

  const token = parseTokenBody(text);
  tokens.delete(key);
  tokens.set(key, token);
  if (tokens.size > MAX_CACHED_TOKENS) tokens.delete(tokens.keys().next().value!);
  return token;
}

/**
 * The Authorization header for the proxy's own pull of `repository`: the upstream's token for
 * its pull scope, anonymous or with the owner's `credential` (fetched once, then reused), or
 * none when the upstream needs none.
 */
export async function proxyAuthorization(
  registry: Registry,
  repository: string,
  credential: Credential | undefined,
  timeoutMs: number,
): Promise<string | null> {
  const auth = await upstreamAuth(registry, timeoutMs);
  if (auth.kind === "none") return null;
  const credentials = credential ? basicAuthorization(credential) : null;
  // A Basic-only upstream takes the owner's credentials as they are.
  if (auth.kind === "basic") return credentials;
  const scopes = [`repository:${repository}:pull`];
  const { token } = await upstreamToken(
    registry,
    auth,
    { scopes, credentials },
    { timeoutMs, minRemainingMs: 10_000 },
  );
  return `Bearer ${token}`;
}

/** Drops a token of the proxy's own that the upstream no longer accepts. */
export async function forgetProxyToken(
  registry: Registry,
  repository: string,
  credential: Credential | undefined,
): Promise<void> {
  const credentials = credential ? basicAuthorization(credential) : null;
  tokens.delete(await tokenKey(registry, credentials, [`repository:${repository}:pull`]));
}

/** Tokens are cached per upstream, per scope set, and per hash of the credentials they were got with. */
async function tokenKey(
  registry: Registry,
  credentials: string | null,
  sortedScopes: string[],
): Promise<string> {
  const owner = credentials ? await sha256Digest(credentials) : "anonymous";
  return `${registry.url}\n${owner}\n${sortedScopes.join(" ")}`;
}

/** Forgets every learned challenge and token (tests). */
export function clearUpstreamAuthCache(): void {
  challenges.clear();
  tokens.clear();
}

/** Reads `token` or `access_token`, `expires_in` and `issued_at` from a token response. */
function parseTokenBody(text: string, now = Date.now()): UpstreamToken {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new RegistryError("UNAVAILABLE", "upstream token server sent no JSON", undefined, {
      status: 502,
    });
  }
  const token = body.token ?? body.access_token;
  if (typeof token !== "string" || !token) {
    throw new RegistryError("UNAVAILABLE", "upstream token server sent no token", undefined, {
      status: 502,
    });
  }
  const expiresIn =
    typeof body.expires_in === "number" && body.expires_in > 0
      ? body.expires_in
      : DEFAULT_EXPIRES_IN_S;
  return { token, body, expiresAt: now + expiresIn * 1000 };
}

function tokenError(response: Response, body: string): RegistryError {
  const detail = upstreamMessage(body);
  if (response.status === 401 || response.status === 403) {
    return new RegistryError("UNAUTHORIZED", "upstream rejected the credentials", detail, {
      status: 401,
    });
  }
  return upstreamFailure(response, "upstream token server", { detail });
}

/** A short, safe message from an upstream error body: its text if JSON, else nothing (never HTML). */
function upstreamMessage(body: string): string | undefined {
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

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}
