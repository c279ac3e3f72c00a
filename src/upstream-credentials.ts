/**
 * The owner's upstream credentials (UPSTREAM_CREDENTIALS): which pair to pull with, rotating
 * between pairs and skipping one the upstream is rate limiting.
 */

import type { Credential } from "./config";

/** How long a rate-limited pair rests when the upstream gives no Retry-After. */
const DEFAULT_REST_S = 600;

/** `route\nusername` → epoch ms until which the pair is rate limited (per isolate). */
const resting = new Map<string, number>();
let turn = 0;

/**
 * The pair to pull with next: pairs take turns, a resting pair is skipped, and when every pair
 * rests the one that rests the shortest goes anyway.
 */
export function pickCredential(
  route: string,
  credentials: readonly Credential[],
  now = Date.now(),
): Credential | undefined {
  if (!credentials.length) return undefined;
  const start = turn++ % credentials.length;
  let best: Credential | undefined;
  let bestUntil = Infinity;
  for (let i = 0; i < credentials.length; i++) {
    const candidate = credentials[(start + i) % credentials.length]!;
    const until = resting.get(key(route, candidate)) ?? 0;
    if (until <= now) return candidate;
    if (until < bestUntil) [best, bestUntil] = [candidate, until];
  }
  return best;
}

/** Rests a pair the upstream answered 429 for, as long as its Retry-After says. */
export function restCredential(
  route: string,
  credential: Credential,
  retryAfter: string | null,
  now = Date.now(),
): void {
  const seconds = Number(retryAfter);
  const rest =
    Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 6 * 3600) : DEFAULT_REST_S;
  resting.set(key(route, credential), now + rest * 1000);
}

/** True when another pair than `credential` is not resting. */
export function hasRestedAlternative(
  route: string,
  credentials: readonly Credential[],
  credential: Credential,
  now = Date.now(),
): boolean {
  return credentials.some((c) => c !== credential && (resting.get(key(route, c)) ?? 0) <= now);
}

/** `Basic base64(user:password)`, UTF-8 safe. */
export function basicAuthorization({ username, password }: Credential): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** Forgets resting pairs (tests). */
export function clearResting(): void {
  resting.clear();
  turn = 0;
}

function key(route: string, credential: Credential): string {
  return `${route}\n${credential.username}`;
}
