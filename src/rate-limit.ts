/** Upstream rate limits: the headers that describe them, and how long `Retry-After` asks to wait. */

/**
 * Upstream headers worth passing on, errors or not: when to retry (RFC 9110 §10.2.3), and the
 * state of Docker Hub's pull limit (docker docs, "Docker Hub usage and limits").
 */
export const RATE_LIMIT_HEADERS = [
  "retry-after",
  "ratelimit-limit",
  "ratelimit-remaining",
  "docker-ratelimit-source",
] as const;

/** A rest shorter than this is not a rest: it would let a rate-limited pair be retried at once. */
export const MIN_REST_S = 1;
/** Docker Hub's window is six hours; no upstream gets to park a credential for longer. */
export const MAX_REST_S = 6 * 3600;

/**
 * The three HTTP-date formats a recipient must accept (RFC 9110 §5.6.7): IMF-fixdate, and the
 * obsolete RFC 850 and asctime forms.
 */
const HTTP_DATE = [
  /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/,
];

/**
 * Seconds to wait from a `Retry-After` value (RFC 9110 §10.2.3: delta-seconds, a non-negative
 * integer, or an HTTP-date), clamped to [MIN_REST_S, MAX_REST_S]; undefined when the value is
 * neither (fractions, signs, junk).
 */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  let seconds: number;
  if (/^\d+$/.test(text)) {
    // Any run of digits is delta-seconds, however long: it is clamped, never ignored.
    seconds = text.length > 10 ? Infinity : Number(text);
  } else if (HTTP_DATE.some((format) => format.test(text))) {
    const date = Date.parse(text);
    if (Number.isNaN(date)) return undefined;
    seconds = Math.ceil((date - now) / 1000);
  } else {
    return undefined;
  }
  return Math.min(Math.max(seconds, MIN_REST_S), MAX_REST_S);
}

/** Docker Hub's `ratelimit-remaining: 76;w=21600` as a number, when present. */
export function remainingPulls(value: string | null): number | undefined {
  const m = value ? /^\s*(\d+)/.exec(value) : null;
  return m ? Number(m[1]) : undefined;
}
