import { describe, expect, it } from "vitest";
import {
  MAX_REST_S,
  MIN_REST_S,
  RATE_LIMIT_HEADERS,
  remainingPulls,
  retryAfterSeconds,
} from "../src/rate-limit";

/** A whole second, so an HTTP-date (whole seconds) is exactly N seconds away. */
const NOW = Date.UTC(2026, 3, 20, 12, 0, 0);
const httpDate = (offsetS: number) => new Date(NOW + offsetS * 1000).toUTCString();

describe("retryAfterSeconds", () => {
  it("is a rest between one second and six hours", () => {
    expect(MIN_REST_S).toBe(1);
    expect(MAX_REST_S).toBe(21_600);
  });

  it.each([
    ["120", 120],
    ["1", 1],
    ["21600", 21_600],
    ["0005", 5],
    [" 30 ", 30], // surrounding whitespace is not part of the field value (RFC 9110 §5.5)
  ])("reads delta-seconds %j as %i", (value, seconds) => {
    expect(retryAfterSeconds(value, NOW)).toBe(seconds);
  });

  it.each([
    ["0", MIN_REST_S],
    ["21601", MAX_REST_S],
    ["86400", MAX_REST_S],
    ["9999999999", MAX_REST_S],
  ])("clamps delta-seconds %j to %i", (value, seconds) => {
    expect(retryAfterSeconds(value, NOW)).toBe(seconds);
  });

  it("clamps a delta-seconds too long for a 32-bit counter rather than ignoring it", () => {
    // RFC 9110 §10.2.3: delay-seconds = 1*DIGIT, so any run of digits is a valid value.
    expect(retryAfterSeconds("99999999999", NOW)).toBe(MAX_REST_S);
  });

  it.each([
    [120, 120],
    [1, 1],
    [3600, 3600],
    [0, MIN_REST_S],
    [-3600, MIN_REST_S], // already past
    [7 * 86_400, MAX_REST_S],
  ])("reads an IMF-fixdate %i s away", (offset, seconds) => {
    const value = httpDate(offset);
    expect(value).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    expect(retryAfterSeconds(value, NOW)).toBe(seconds);
  });

  it("rounds a date up to the next whole second from a clock between seconds", () => {
    expect(retryAfterSeconds(httpDate(10), NOW + 400)).toBe(10);
  });

  it.each([
    // RFC 9110 §5.6.7: a recipient MUST accept the two obsolete HTTP-date formats too.
    ["RFC 850", "Monday, 20-Apr-26 12:02:00 GMT"],
    ["asctime", "Mon Apr 20 12:02:00 2026"],
  ])("reads an obsolete %s date", (_, value) => {
    expect(retryAfterSeconds(value, NOW)).toBe(120);
  });

  it.each([
    null,
    "",
    "   ",
    "0.000000001",
    "1.5",
    "-1",
    "+5",
    "1e3",
    "0x10",
    "Infinity",
    "NaN",
    "5 seconds",
    "５", // a full-width digit
    "soon",
    "Mon, 32 Foo 2026 99:99:99 GMT",
    "Mon, 20 Apr 2026 12:02:00 UTC",
    "2026-04-20T12:02:00Z",
  ])("ignores %j", (value) => {
    expect(retryAfterSeconds(value, NOW)).toBeUndefined();
  });
});

describe("remainingPulls", () => {
  it.each([
    ["76;w=21600", 76],
    ["0;w=21600", 0],
    [" 100", 100],
    ["42", 42],
  ])("reads %j as %i", (value, remaining) => {
    expect(remainingPulls(value)).toBe(remaining);
  });

  it.each([null, "", "w=21600", "-1;w=21600", "many"])("ignores %j", (value) => {
    expect(remainingPulls(value)).toBeUndefined();
  });
});

describe("RATE_LIMIT_HEADERS", () => {
  it("names the retry and Docker Hub pull-limit headers, in lower case", () => {
    expect([...RATE_LIMIT_HEADERS].sort()).toEqual([
      "docker-ratelimit-source",
      "ratelimit-limit",
      "ratelimit-remaining",
      "retry-after",
    ]);
  });
});
