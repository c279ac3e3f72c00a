/** HTTP Basic credentials (RFC 7617): a `user:password` pair and its `Authorization` header. */

import { fromBase64, toBase64 } from "./base64";

/** One `user:password` (or `user:token`) pair. */
export interface Credential {
  readonly username: string;
  readonly password: string;
}

/** `user:password` text as configured; undefined unless both sides are non-empty. */
export function parseCredential(text: string): Credential | undefined {
  const colon = text.indexOf(":");
  if (colon <= 0 || colon === text.length - 1) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** `Basic base64(user:password)`, UTF-8 safe. */
export function formatBasic({ username, password }: Credential): string {
  return `Basic ${toBase64(`${username}:${password}`)}`;
}

/** True when an `Authorization` value uses the Basic scheme. */
export function isBasic(authorization: string | null): authorization is string {
  return authorization !== null && /^basic\s/i.test(authorization);
}

/** The pair in a `Basic` `Authorization` value; undefined for anything else. */
export function parseBasic(authorization: string | null): Credential | undefined {
  const m = authorization ? /^basic\s+(\S+)$/i.exec(authorization.trim()) : null;
  const bytes = m ? fromBase64(m[1]!) : undefined;
  if (!bytes) return undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
