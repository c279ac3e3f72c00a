import { describe, expect, it } from "vitest";
import { findBearer, formatChallenge, parseChallenges } from "../src/challenge";

describe("parseChallenges", () => {
  it("reads Docker Hub's bearer challenge", () => {
    expect(
      parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'),
    ).toEqual([
      {
        scheme: "bearer",
        params: { realm: "https://auth.docker.io/token", service: "registry.docker.io" },
      },
    ]);
  });

  it("reads parameters in any order, with spaces and unquoted values", () => {
    const [c] = parseChallenges(
      'Bearer  service=ghcr.io , scope="repository:a/b:pull", realm="https://ghcr.io/token"',
    );
    expect(c?.params).toEqual({
      service: "ghcr.io",
      scope: "repository:a/b:pull",
      realm: "https://ghcr.io/token",
    });
  });

  it("unescapes quoted strings and keeps commas inside them", () => {
    const [c] = parseChallenges('Bearer slashed="he\\"\\l\\lo",scope="repository:a:pull,push"');
    expect(c?.params).toEqual({ slashed: 'he"llo', scope: "repository:a:pull,push" });
  });

  it("splits several challenges in one header (quay.io)", () => {
    const all = parseChallenges(
      'Basic realm="quay", Bearer realm="https://quay.io/v2/auth",service="quay.io"',
    );
    expect(all.map((c) => c.scheme)).toEqual(["basic", "bearer"]);
    expect(
      findBearer('Basic realm="quay", Bearer realm="https://quay.io/v2/auth",service="quay.io"')
        ?.params,
    ).toEqual({
      realm: "https://quay.io/v2/auth",
      service: "quay.io",
    });
  });

  it("lower-cases scheme and parameter names", () => {
    expect(parseChallenges('BEARER Realm="x"')).toEqual([
      { scheme: "bearer", params: { realm: "x" } },
    ]);
  });

  it.each([
    "",
    "   ",
    ",,,",
    '"',
    "=",
    "Bearer @@@",
    'Bearer realm="unterminated',
    "Bearer realm=",
  ])("survives malformed input %j without throwing", (header) => {
    expect(Array.isArray(parseChallenges(header))).toBe(true);
  });

  it("finds no bearer in a Basic-only or missing header", () => {
    expect(findBearer('Basic realm="registry"')).toBeUndefined();
    expect(findBearer(null)).toBeUndefined();
  });
});

describe("formatChallenge", () => {
  it("quotes and escapes values, skipping undefined ones", () => {
    expect(
      formatChallenge("Bearer", { realm: "https://p/v2/auth", service: 'a"b', scope: undefined }),
    ).toBe('Bearer realm="https://p/v2/auth",service="a\\"b"');
  });

  it("round-trips through the parser", () => {
    const params = {
      realm: "https://p/v2/auth?ns=ghcr.io",
      service: "ghcr.io",
      scope: "repository:o/t:pull",
    };
    expect(parseChallenges(formatChallenge("Bearer", params))[0]?.params).toEqual(params);
  });
});
