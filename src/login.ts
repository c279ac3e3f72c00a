/**
 * Proxy users (PROXY_USERS): checking a login, and the short-lived proxy tokens a login buys.
 *
 * A proxy token is `cfrp2.<payload>.<HMAC-SHA256>`, payload `{"u": user, "t": issued-at}`. Each
 * user's tokens are signed with that user's own key, derived from TOKEN_SECRET (when set), the
 * user name and the user's password. So a token tells its holder nothing about anyone else's
 * password; changing a password revokes that user's tokens and nobody else's; changing
 * TOKEN_SECRET revokes all. The lifetime is the server's: a token is good for PROXY_TOKEN_TTL_S
 * after the time it was issued, whatever else it claims.
 */

import { fromBase64, toBase64url } from "./base64";
import { parseBasic } from "./basic-auth";
import type { Config } from "./config";

/** Proxy tokens last about as long as Docker Hub's: clients fetch new ones as they expire. */
export const PROXY_TOKEN_TTL_S = 900;
/** How far ahead of this isolate's clock another isolate's may be. */
const CLOCK_SKEW_S = 60;
const PREFIX = "cfrp2.";
const TOKEN = /^bearer\s+cfrp2\.([A-Za-z0-9_-]{1,512})\.([A-Za-z0-9_-]{43})$/i;

const keys = new WeakMap<Config, Map<string, Promise<CryptoKey>>>();

/** The proxy user a `Basic` Authorization names, when the password matches. */
export async function checkLogin(
  config: Config,
  authorization: string | null,
): Promise<string | undefined> {
  const credential = parseBasic(authorization);
  const expected = credential && config.users.get(credential.username);
  if (!credential || expected === undefined) return undefined;
  return (await constantTimeEqual(credential.password, expected)) ? credential.username : undefined;
}

/** A proxy token for `username`, who just logged in. */
export async function issueProxyToken(
  config: Config,
  username: string,
  now = Date.now(),
): Promise<string> {
  const payload = toBase64url(JSON.stringify({ u: username, t: Math.floor(now / 1000) }));
  const signature = await crypto.subtle.sign(
    "HMAC",
    await userKey(config, username),
    new TextEncoder().encode(payload),
  );
  return `${PREFIX}${payload}.${toBase64url(new Uint8Array(signature))}`;
}

/** The user a valid proxy token in `authorization` was issued to, while it is within its lifetime. */
export async function verifyProxyToken(
  config: Config,
  authorization: string | null,
  now = Date.now(),
): Promise<string | undefined> {
  const m = authorization ? TOKEN.exec(authorization.trim()) : null;
  if (!m) return undefined;
  const [, payload, signature] = m as unknown as [string, string, string];
  const claims = parseClaims(payload);
  if (!claims || !config.users.has(claims.u)) return undefined;
  const age = now / 1000 - claims.t;
  if (age > PROXY_TOKEN_TTL_S || age < -CLOCK_SKEW_S) return undefined;
  const valid = await crypto.subtle.verify(
    "HMAC",
    await userKey(config, claims.u),
    fromBase64(signature)!,
    new TextEncoder().encode(payload),
  );
  return valid ? claims.u : undefined;
}

function parseClaims(payload: string): { u: string; t: number } | undefined {
  const bytes = fromBase64(payload);
  if (!bytes) return undefined;
  try {
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as { u?: unknown; t?: unknown };
    return typeof claims.u === "string" && Number.isSafeInteger(claims.t)
      ? { u: claims.u, t: claims.t as number }
      : undefined;
  } catch {
    return undefined;
  }
}

/** HMAC key of one user: HMAC-SHA256 keyed by TOKEN_SECRET over the user's name and password. */
function userKey(config: Config, username: string): Promise<CryptoKey> {
  let byUser = keys.get(config);
  if (!byUser) keys.set(config, (byUser = new Map()));
  let key = byUser.get(username);
  if (!key) {
    const password = config.users.get(username) ?? "";
    key = deriveKey(
      config.tokenSecret ?? "",
      `cf-registry-proxy proxy token v2\0${username}\0${password}`,
    );
    byUser.set(username, key);
  }
  return key;
}

async function deriveKey(secret: string, info: string): Promise<CryptoKey> {
  const encoder = new TextEncoder();
  // An empty HMAC key is valid (RFC 2104 pads it); WebCrypto only refuses a zero-length import.
  const master = await crypto.subtle.importKey(
    "raw",
    encoder.encode(`cfrp\0${secret}`),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const material = await crypto.subtle.sign("HMAC", master, encoder.encode(info));
  return crypto.subtle.importKey("raw", material, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}

async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  // Hash both so the comparison takes the same time whatever the lengths.
  const [x, y] = await Promise.all(
    [a, b].map((s) => crypto.subtle.digest("SHA-256", new TextEncoder().encode(s))),
  );
  return crypto.subtle.timingSafeEqual(x!, y!);
}
