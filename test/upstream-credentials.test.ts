import { describe, expect, it } from "vitest";
import type { Credential } from "../src/basic-auth";
import { MAX_REST_S } from "../src/rate-limit";
import { CredentialRotation } from "../src/upstream-credentials";

const T0 = Date.UTC(2026, 3, 20, 12, 0, 0);
const a: Credential = { username: "a", password: "ta" };
const b: Credential = { username: "b", password: "tb" };
const c: Credential = { username: "c", password: "tc" };
const PAIRS = [a, b, c];
const name = (credential: Credential | undefined) => credential?.username;

describe("CredentialRotation: turns", () => {
  it("starts each client request on the next pair of the route", () => {
    const rotation = new CredentialRotation();
    const firsts = Array.from({ length: 7 }, () =>
      name(rotation.attempt("docker", PAIRS).first(T0)),
    );
    expect(firsts).toEqual(["a", "b", "c", "a", "b", "c", "a"]);
  });

  it("counts turns per route", () => {
    const rotation = new CredentialRotation();
    rotation.attempt("docker", PAIRS).first(T0);
    rotation.attempt("docker", PAIRS).first(T0);
    expect(name(rotation.attempt("ghcr", PAIRS).first(T0))).toBe("a");
    expect(name(rotation.attempt("docker", PAIRS).first(T0))).toBe("c");
  });

  it("has no pair for a route without credentials", () => {
    const attempt = new CredentialRotation().attempt("docker", []);
    expect(attempt.first(T0)).toBeUndefined();
  });

  it("always gives a single pair", () => {
    const rotation = new CredentialRotation();
    for (let i = 0; i < 3; i++) expect(rotation.attempt("docker", [a]).first(T0)).toBe(a);
  });
});

describe("CredentialRotation: rest on 429", () => {
  it("moves to a pair not tried yet, and tries each pair at most once per request", () => {
    const attempt = new CredentialRotation().attempt("docker", PAIRS);
    expect(attempt.first(T0)).toBe(a);
    expect(attempt.retry(a, "60", T0)).toBe(b);
    expect(attempt.retry(b, "60", T0)).toBe(c);
    expect(attempt.retry(c, "60", T0)).toBeUndefined();
  });

  it("skips a pair that rests in later requests, until its rest is over", () => {
    const rotation = new CredentialRotation();
    const first = rotation.attempt("docker", PAIRS); // a's turn
    expect(first.retry(first.first(T0)!, "120", T0)).toBe(b);
    rotation.attempt("docker", PAIRS); // b's turn
    rotation.attempt("docker", PAIRS); // c's turn
    expect(rotation.attempt("docker", PAIRS).first(T0 + 119_000)).toBe(b); // a's turn, a rests
    rotation.attempt("docker", PAIRS);
    rotation.attempt("docker", PAIRS);
    expect(rotation.attempt("docker", PAIRS).first(T0 + 120_000)).toBe(a);
  });

  it("does not move to a pair that rests, even one not tried in this request", () => {
    const rotation = new CredentialRotation();
    const earlier = rotation.attempt("docker", [a, b]);
    earlier.retry(earlier.first(T0)!, "600", T0); // a rests; b is offered
    const now = rotation.attempt("docker", [a, b]); // b's turn
    expect(now.first(T0)).toBe(b);
    expect(now.retry(b, "600", T0)).toBeUndefined();
  });

  it("sends the pair that rests the shortest when every pair rests", () => {
    const rotation = new CredentialRotation();
    const attempt = rotation.attempt("docker", PAIRS);
    attempt.first(T0);
    attempt.retry(a, "300", T0);
    attempt.retry(b, "100", T0);
    attempt.retry(c, "200", T0);
    expect(rotation.attempt("docker", PAIRS).first(T0 + 1000)).toBe(b);
    expect(rotation.attempt("docker", PAIRS).first(T0 + 1000)).toBe(b);
  });

  it.each([
    ["no Retry-After", null, 600],
    ["a junk Retry-After", "0.000000001", 600],
    ["Retry-After: 5", "5", 5],
    ["Retry-After: 0", "0", 1],
    ["a Retry-After over six hours", "999999", MAX_REST_S],
    ["an HTTP-date", new Date(T0 + 90_000).toUTCString(), 90],
  ])("rests a pair for %s as long as it says (%s → %i s)", (_, retryAfter, seconds) => {
    const rotation = new CredentialRotation();
    const attempt = rotation.attempt("docker", [a, b]);
    attempt.first(T0);
    attempt.retry(a, retryAfter, T0);
    // Later requests on a's turn: b while a rests, a once the rest is over.
    rotation.attempt("docker", [a, b]);
    expect(rotation.attempt("docker", [a, b]).first(T0 + seconds * 1000 - 1)).toBe(b);
    rotation.attempt("docker", [a, b]);
    expect(rotation.attempt("docker", [a, b]).first(T0 + seconds * 1000)).toBe(a);
  });

  it("rests a pair per route: the same user name elsewhere is not affected", () => {
    const rotation = new CredentialRotation();
    const docker = rotation.attempt("docker", [a, b]);
    docker.retry(docker.first(T0)!, "600", T0);
    expect(rotation.attempt("ghcr", [a, b]).first(T0)).toBe(a);
  });
});

describe("CredentialAttempt.indexOf", () => {
  it("is the pair's position in UPSTREAM_CREDENTIALS, whatever the turn", () => {
    const rotation = new CredentialRotation();
    rotation.attempt("docker", PAIRS);
    const attempt = rotation.attempt("docker", PAIRS);
    expect(attempt.first(T0)).toBe(b);
    expect(PAIRS.map((p) => attempt.indexOf(p))).toEqual([0, 1, 2]);
    expect(attempt.indexOf({ username: "a", password: "ta" })).toBe(-1);
  });
});
