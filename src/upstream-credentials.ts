/**
 * The owner's upstream credentials (UPSTREAM_CREDENTIALS): which pair a pull uses, taking turns
 * per route, resting a pair the upstream rate limits, and trying each pair at most once per
 * client request. One instance per isolate.
 */

import type { Credential } from "./basic-auth";
import { MAX_REST_S, retryAfterSeconds } from "./rate-limit";

/** How long a rate-limited pair rests when the upstream gives no usable Retry-After. */
const DEFAULT_REST_S = 600;

export class CredentialRotation {
  /** `route\nusername` → epoch ms until which the pair is rate limited. */
  private readonly resting = new Map<string, number>();
  /** route → how many pulls have started on it; the pairs take turns. */
  private readonly turns = new Map<string, number>();

  /** Starts one client request's use of a route's pairs. */
  attempt(route: string, credentials: readonly Credential[]): CredentialAttempt {
    const turn = this.turns.get(route) ?? 0;
    this.turns.set(route, turn + 1);
    return new CredentialAttempt(this.resting, route, credentials, turn);
  }
}

/** One client request's use of a route's pairs: each pair is tried at most once. */
export class CredentialAttempt {
  private readonly tried = new Set<Credential>();

  constructor(
    private readonly resting: Map<string, number>,
    private readonly route: string,
    private readonly credentials: readonly Credential[],
    private readonly turn: number,
  ) {}

  /**
   * The pair to pull with first: pairs take turns, a resting pair is skipped, and when every pair
   * rests the one that rests the shortest goes anyway. Undefined when the route has no pairs.
   */
  first(now = Date.now()): Credential | undefined {
    const order = this.order();
    const pick =
      order.find((c) => this.until(c) <= now) ??
      order.reduce<Credential | undefined>(
        (best, c) => (!best || this.until(c) < this.until(best) ? c : best),
        undefined,
      );
    if (pick) this.tried.add(pick);
    return pick;
  }

  /**
   * After the upstream answered 429 for `credential`: rests it as long as `retryAfter` says
   * (RFC 9110, clamped; DEFAULT_REST_S without one), and returns a pair not tried yet in this
   * request that is not resting, if any.
   */
  retry(
    credential: Credential,
    retryAfter: string | null,
    now = Date.now(),
  ): Credential | undefined {
    const rest = retryAfterSeconds(retryAfter, now) ?? Math.min(DEFAULT_REST_S, MAX_REST_S);
    this.resting.set(this.key(credential), now + rest * 1000);
    const next = this.order().find((c) => !this.tried.has(c) && this.until(c) <= now);
    if (next) this.tried.add(next);
    return next;
  }

  /** The pair's position in UPSTREAM_CREDENTIALS, for logs (never the pair itself). */
  indexOf(credential: Credential): number {
    return this.credentials.indexOf(credential);
  }

  private order(): Credential[] {
    const n = this.credentials.length;
    return Array.from({ length: n }, (_, i) => this.credentials[(this.turn + i) % n]!);
  }

  private until(credential: Credential): number {
    return this.resting.get(this.key(credential)) ?? 0;
  }

  private key(credential: Credential): string {
    return `${this.route}\n${credential.username}`;
  }
}
