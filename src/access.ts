/**
 * Access control, all of it optional: proxy users who log in (PROXY_USERS) and get short-lived
 * signed proxy tokens, and the ALLOW / BLOCK lists of repositories.
 */

import type { Config } from "./config";
import { RegistryError } from "./errors";
import type { RepositoryRoute } from "./routing";

/** Proxy tokens last as long as Docker Hub's do, give or take: clients fetch new ones as they expire. */
export const PROXY_TOKEN_TTL_S = 900;
const TOKEN_PREFIX = "cfrp1.";

const keys = new WeakMap<Config, Promise<CryptoKey>>();

/**
 * Throws DENIED unless the repository may be served: BLOCK wins, and when ALLOW is set the name
 * must match it. Names are registry-qualified (`docker.io/library/nginx`), whatever routing mode
 * named them.
 */
export function authorizeRepository(config: Config, route: RepositoryRoute): void {
  if (!config.allow.length && !config.block.length) return;
  const name = `${route.registry.registry}/${route.repository}`;
  if (config.block.some((glob) => glob.test(name))) {
    throw new RegistryError("DENIED", "this repository is blocked on this proxy", { name });
  }
  if (config.allow.length && !config.allow.some((glob) => glob.test(name))) {
    throw new RegistryError("DENIED", "this repository is not on this proxy's allow list", {
      name,
    });
  }
}

/** True when the proxy requires its users to log in. */
export function loginRequired(config: Config): boolean {
  return config.users.size > 0;
}

/** The proxy user a `Basic` Authorization header names, when the password matches. */
export async function checkLogin(
  config: Config,
  authorization: string | null,
): Promise<string | undefined> {
  const m = authorization ? /^basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization.trim()) : null;
  if (!m) return undefined;
  let decoded: string;
  try {
    decoded = new TextDecoder().decode(Uint8Array.from(atob(m[1]!), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  const username = decoded.slice(0, colon);
  const expected = config.users.get(username);
  if (colon <= 0 || expected === undefined) return undefined;
  return (await constantTimeEqual(decoded.slice(colon + 1), expected)) ? username : undefined;
}

/** A proxy token for `username`: `cfrp1.<payload>.<HMAC-SHA256>`, checked without any storage. */
export async function issueProxyToken(
  config: Config,
  username: string,
  now = Date.now(),
): Promise<string> {
  const payload = base64url(
    new TextEncoder().encode(
      JSON.stringify({ u: username, e: Math.floor(now / 1000) + PROXY_TOKEN_TTL_S }),
    ),
  );
  const signature = await crypto.subtle.sign(
    "HMAC",
    await signingKey(config),
    new TextEncoder().encode(payload),
  );
  return `${TOKEN_PREFIX}${payload}.${base64url(new Uint8Array(signature))}`;
}

/** The user a valid, unexpired proxy token was issued to. */
export async function verifyProxyToken(
  config: Config,
  authorization: string | null,
  now = Date.now(),
): Promise<string | undefined> {
  const m = authorization
    ? /^bearer\s+cfrp1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/i.exec(authorization.trim())
    : null;
  if (!m) return undefined;
  const [, payload, signature] = m as unknown as [string, string, string];
  try {
    const key = await signingKey(config);
    const data = new TextEncoder().encode(payload);
    if (!(await crypto.subtle.verify("HMAC", key, fromBase64url(signature), data)))
      return undefined;
    const claims = JSON.parse(new TextDecoder().decode(fromBase64url(payload))) as {
      u?: unknown;
      e?: unknown;
    };
    if (typeof claims.u !== "string" || typeof claims.e !== "number" || claims.e * 1000 <= now)
      return undefined;
    // Removing a user changes the key too; say it plainly all the same.
    return config.users.has(claims.u) ? claims.u : undefined;
  } catch {
    return undefined; // not base64url, not JSON: not ours
  }
}

/**
 * The HMAC key, derived from PROXY_USERS: changing any password (or removing a user) revokes every
 * token issued before, and there is no extra secret to manage.
 */
function signingKey(config: Config): Promise<CryptoKey> {
  let key = keys.get(config);
  if (!key) {
    key = crypto.subtle
      .digest(
        "SHA-256",
        new TextEncoder().encode(`cf-registry-proxy token key v1\n${config.usersSecret}`),
      )
      .then((material) =>
        crypto.subtle.importKey("raw", material, { name: "HMAC", hash: "SHA-256" }, false, [
          "sign",
          "verify",
        ]),
      );
    keys.set(config, key);
  }
  return key;
}

async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  // Hash both so the comparison takes the same time whatever the lengths.
  const [x, y] = await Promise.all(
    [a, b].map((s) => crypto.subtle.digest("SHA-256", new TextEncoder().encode(s))),
  );
  return crypto.subtle.timingSafeEqual(x!, y!);
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array {
  const padded =
    text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}
