/**
 * Upstream token exchange (Docker token auth spec): learn each upstream's challenge once, fetch
 * tokens from its own realm, and reuse them for as long as they last. One instance per isolate.
 */

import { formatBasic, type Credential } from "./basic-auth";
import { findBearer, parseChallenges } from "./challenge";
import { sha256Digest } from "./digest";
import { RegistryError } from "./errors";
import { fetchUpstream } from "./fetch-upstream";
import { parseHttpUrl } from "./http-url";
import { pullScope } from "./scope";
import { readCapped, upstreamError } from "./upstream-error";
import type { Upstream } from "./upstreams";

/** How an upstream wants clients to authenticate, learned from its `GET /v2/`. */
export type AuthScheme =
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

/** What to ask a realm for. */
export interface TokenRequest {
  scopes: readonly string[];
  /** A `Basic` Authorization for the realm (a client's or the owner's), or null for anonymous. */
  authorization: string | null;
  account?: string | null;
}

/** Challenges change only when a registry moves its auth server; relearn now and then. */
const SCHEME_TTL_MS = 10 * 60 * 1000;
/** Token responses are small; anything bigger is not a token server (go-containerregistry: 64 KiB). */
const MAX_TOKEN_BODY = 64 * 1024;
/** The token spec's default lifetime when `expires_in` is missing (ghcr.io, quay.io, elastic). */
const DEFAULT_EXPIRES_IN_S = 60;
/** The proxy's own tokens are renewed when less than this is left. */
const PROXY_MIN_REMAINING_MS = 10_000;
/** Bound on cached tokens per isolate; the oldest goes first. */
const MAX_CACHED_TOKENS = 1000;

export class UpstreamAuth {
  private readonly schemes = new Map<string, { scheme: AuthScheme; expires: number }>();
  private readonly tokens = new Map<string, UpstreamToken>();

  constructor(private readonly timeoutMs: number) {}

  /** The upstream's auth scheme, from this isolate's memory or one `GET /v2/` to the upstream. */
  async scheme(upstream: Upstream): Promise<AuthScheme> {
    const known = this.schemes.get(upstream.url);
    if (known && known.expires > Date.now()) return known.scheme;
    const ping = await fetchUpstream(`${upstream.url}/v2/`, {
      method: "GET",
      headers: new Headers(),
      timeoutMs: this.timeoutMs,
    });
    const scheme = await schemeFromPing(ping);
    this.schemes.set(upstream.url, { scheme, expires: Date.now() + SCHEME_TTL_MS });
    return scheme;
  }

  /**
   * A token from the realm, reused while it has more than `minRemainingMs` left. A token obtained
   * with credentials is kept under a hash of them, so only whoever presents them again gets it.
   */
  async token(
    scheme: Extract<AuthScheme, { kind: "bearer" }>,
    request: TokenRequest,
    minRemainingMs = PROXY_MIN_REMAINING_MS,
  ): Promise<UpstreamToken> {
    const scopes = [...new Set(request.scopes)].sort();
    const key = await this.tokenKey(scheme, request.authorization, scopes);
    const known = this.tokens.get(key);
    if (known && known.expiresAt - Date.now() > minRemainingMs) return known;

    const url = new URL(scheme.realm);
    if (scheme.service) url.searchParams.set("service", scheme.service);
    for (const scope of scopes) url.searchParams.append("scope", scope);
    if (request.account) url.searchParams.set("account", request.account);
    const headers = new Headers();
    if (request.authorization) headers.set("authorization", request.authorization);

    const response = await fetchUpstream(url.href, {
      method: "GET",
      headers,
      timeoutMs: this.timeoutMs,
    });
    if (!response.ok) throw await tokenError(response);
    const text = await readCapped(response.body, MAX_TOKEN_BODY);
    if (text === undefined)
      throw new RegistryError("UNAVAILABLE", "upstream token response too large");

    const token = parseTokenBody(text);
    this.tokens.delete(key);
    this.tokens.set(key, token);
    if (this.tokens.size > MAX_CACHED_TOKENS) this.tokens.delete(this.tokens.keys().next().value!);
    return token;
  }

  /**
   * The `Authorization` for the proxy's own pull of `repository`: the upstream's token for its
   * pull scope, anonymous or with the owner's `credential`, or the owner's Basic credentials for a
   * Basic-only upstream, or nothing for an upstream without auth. `reused` says whether the token
   * came from this isolate's memory rather than from the realm just now.
   */
  async authorization(
    upstream: Upstream,
    repository: string,
    credential: Credential | undefined,
  ): Promise<{ header: string | null; reused: boolean }> {
    const scheme = await this.scheme(upstream);
    if (scheme.kind === "none") return { header: null, reused: false };
    const basic = credential ? formatBasic(credential) : null;
    if (scheme.kind === "basic") return { header: basic, reused: false };
    const request = { scopes: [pullScope(repository)], authorization: basic };
    const before = this.tokens.get(await this.tokenKey(scheme, basic, request.scopes));
    const token = await this.token(scheme, request);
    return { header: `Bearer ${token.token}`, reused: token === before };
  }

  /** Drops a token of the proxy's own that the upstream no longer accepts. */
  async forget(upstream: Upstream, repository: string, credential: Credential | undefined) {
    const scheme = this.schemes.get(upstream.url)?.scheme;
    if (scheme?.kind !== "bearer") return;
    const basic = credential ? formatBasic(credential) : null;
    this.tokens.delete(await this.tokenKey(scheme, basic, [pullScope(repository)]));
  }

  /**
   * An anonymous token for a host a redirect led to that sent its own Bearer challenge
   * (registry.k8s.io → Artifact Registry, registries.md §5): asked for with the challenge's own
   * service and scope, never with anybody's credentials.
   */
  readonly hopAuthorization = async (challenge: string | null): Promise<string | undefined> => {
    const bearer = findBearer(challenge);
    const realm = bearer?.params.realm;
    if (!realm || !parseHttpUrl(realm)) return undefined;
    const scope = bearer.params.scope;
    const { token } = await this.token(
      { kind: "bearer", realm, service: bearer.params.service },
      { scopes: scope ? [scope] : [], authorization: null },
    );
    return `Bearer ${token}`;
  };

  /** Tokens are kept per realm and service, per scope set, and per hash of the credentials used. */
  private async tokenKey(
    scheme: Extract<AuthScheme, { kind: "bearer" }>,
    authorization: string | null,
    sortedScopes: string[],
  ): Promise<string> {
    const owner = authorization ? await sha256Digest(authorization) : "anonymous";
    return `${scheme.realm}\n${scheme.service ?? ""}\n${owner}\n${sortedScopes.join(" ")}`;
  }
}

/** Interprets an upstream's answer to `GET /v2/`. */
async function schemeFromPing(response: Response): Promise<AuthScheme> {
  if (response.ok) {
    await response.body?.cancel();
    return { kind: "none" };
  }
  const header = response.headers.get("www-authenticate");
  if (response.status === 401 && header) {
    await response.body?.cancel();
    const bearer = findBearer(header);
    const realm = bearer?.params.realm;
    // The realm is where credentials will go: only an http(s) URL is acceptable.
    if (realm && parseHttpUrl(realm)) {
      return { kind: "bearer", realm, service: bearer.params.service || undefined };
    }
    if (parseChallenges(header).some((c) => c.scheme === "basic")) return { kind: "basic", header };
  }
  if (response.status === 429 || response.status >= 500)
    throw await upstreamError(response, "upstream");
  await response.body?.cancel();
  throw new RegistryError("UNAVAILABLE", "upstream did not answer its ping like a registry", {
    status: response.status,
  });
}

/** Reads `token` or `access_token`, `expires_in` and `issued_at` from a token response. */
function parseTokenBody(text: string, now = Date.now()): UpstreamToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RegistryError("UNAVAILABLE", "upstream token server sent no JSON");
  }
  if (typeof parsed !== "object" || parsed === null) {
    throw new RegistryError("UNAVAILABLE", "upstream token server sent no token");
  }
  const body = parsed as Record<string, unknown>;
  const token = body.token || body.access_token;
  if (typeof token !== "string" || !token) {
    throw new RegistryError("UNAVAILABLE", "upstream token server sent no token");
  }
  const expiresIn =
    typeof body.expires_in === "number" && body.expires_in > 0
      ? body.expires_in
      : DEFAULT_EXPIRES_IN_S;
  return { token, body, expiresAt: now + expiresIn * 1000 };
}

/** A realm's refusal: wrong credentials are the client's problem (401), the rest the upstream's. */
async function tokenError(response: Response): Promise<RegistryError> {
  const error = await upstreamError(response, "upstream token server");
  if (response.status !== 401 && response.status !== 403) return error;
  return new RegistryError("UNAUTHORIZED", "upstream rejected the credentials", error.message, {
    status: 401,
  });
}
