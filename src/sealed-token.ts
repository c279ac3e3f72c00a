/**
 * Upstream tokens handed to clients, sealed. A client that brought its own registry credentials
 * to an open proxy gets the upstream's token inside AES-GCM under a key derived from TOKEN_SECRET,
 * with the registry it is for and when it expires. The proxy forwards only what it sealed itself,
 * only to that registry, and only until then: a token the client made up, or stole elsewhere, is
 * never relayed.
 */

import { fromBase64, toBase64url } from "./base64";

const PREFIX = "cfrp3.";
/** Room for any token a realm may send (upstream-auth.ts reads at most 64 KiB of its answer). */
const SEALED = /^bearer\s+cfrp3\.([A-Za-z0-9_-]{40,90000})$/i;
const IV_BYTES = 12;

/** What a sealed token holds. */
export interface SealedUpstreamToken {
  /** The registry name (`docker.io`) whose token server issued the token. */
  registry: string;
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

const keys = new Map<string, Promise<CryptoKey>>();

/** Seals an upstream token for a client. */
export async function sealToken(secret: string, sealed: SealedUpstreamToken): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const plaintext = new TextEncoder().encode(
    JSON.stringify({ r: sealed.registry, k: sealed.token, e: sealed.expiresAt }),
  );
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await sealingKey(secret), plaintext),
  );
  const bytes = new Uint8Array(IV_BYTES + ciphertext.length);
  bytes.set(iv);
  bytes.set(ciphertext, IV_BYTES);
  return `${PREFIX}${toBase64url(bytes)}`;
}

/**
 * The upstream token in a `Bearer cfrp3.…` Authorization when this deployment sealed it and it
 * has not expired; undefined for anything else.
 */
export async function unsealToken(
  secret: string,
  authorization: string | null,
  now = Date.now(),
): Promise<SealedUpstreamToken | undefined> {
  const m = authorization ? SEALED.exec(authorization.trim()) : null;
  const bytes = m ? fromBase64(m[1]!) : undefined;
  if (!bytes || bytes.length <= IV_BYTES) return undefined;
  let plaintext: ArrayBuffer;
  try {
    plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES) },
      await sealingKey(secret),
      bytes.subarray(IV_BYTES),
    );
  } catch {
    return undefined; // not sealed with this key, or tampered with
  }
  const claims = JSON.parse(new TextDecoder().decode(plaintext)) as {
    r: string;
    k: string;
    e: number;
  };
  if (claims.e <= now) return undefined;
  return { registry: claims.r, token: claims.k, expiresAt: claims.e };
}

/** AES-256-GCM key: HKDF-SHA-256 of TOKEN_SECRET, for this purpose only. */
function sealingKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => {
      const master = await crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(secret),
        "HKDF",
        false,
        ["deriveKey"],
      );
      return crypto.subtle.deriveKey(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: new Uint8Array(),
          info: new TextEncoder().encode("cf-registry-proxy sealed upstream token v3"),
        },
        master,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
    // One secret per deployment: this map never holds more than a handful.
    if (keys.size > 8) keys.clear();
    keys.set(secret, key);
  }
  return key;
}
