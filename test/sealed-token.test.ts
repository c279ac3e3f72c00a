import { describe, expect, it } from "vitest";
import { fromBase64, toBase64url } from "../src/base64";
import { sealToken, unsealToken, type SealedUpstreamToken } from "../src/sealed-token";

const SECRET = "a-long-random-deployment-secret";
const NOW = Date.UTC(2026, 3, 20, 12, 0, 0);
const claims: SealedUpstreamToken = {
  registry: "ghcr.io",
  token: "eyJhbGciOiJSUzI1NiJ9.payload.signature",
  expiresAt: NOW + 300_000,
};
const bearer = (token: string) => `Bearer ${token}`;

describe("sealToken / unsealToken", () => {
  it("round-trips the registry, the token and the expiry", async () => {
    const sealed = await sealToken(SECRET, claims);
    expect(sealed).toMatch(/^cfrp3\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(claims.token);
    expect(await unsealToken(SECRET, bearer(sealed), NOW)).toEqual(claims);
  });

  it.each([
    { ...claims, registry: "docker.io", token: 'ünïcödé "quoted" token' },
    { ...claims, registry: "127.0.0.1:5000", token: "x" },
  ])("keeps %j as it was", async (value) => {
    expect(await unsealToken(SECRET, bearer(await sealToken(SECRET, value)), NOW)).toEqual(value);
  });

  it("accepts back every token it seals, a 10 KB one included", async () => {
    const big = { ...claims, token: "j".repeat(10_000) };
    const sealed = await sealToken(SECRET, big);
    expect(await unsealToken(SECRET, bearer(sealed), NOW)).toEqual(big);
  });

  it("seals the same claims differently each time (a fresh IV)", async () => {
    expect(await sealToken(SECRET, claims)).not.toBe(await sealToken(SECRET, claims));
  });

  it("reads any case of the scheme and surrounding whitespace", async () => {
    const sealed = await sealToken(SECRET, claims);
    expect(await unsealToken(SECRET, `  bEaReR   ${sealed} `, NOW)).toEqual(claims);
  });

  it("refuses one sealed under another secret", async () => {
    const sealed = await sealToken("another-long-random-secret", claims);
    expect(await unsealToken(SECRET, bearer(sealed), NOW)).toBeUndefined();
  });

  it("refuses it from the moment it expires", async () => {
    const sealed = bearer(await sealToken(SECRET, claims));
    expect(await unsealToken(SECRET, sealed, claims.expiresAt - 1)).toEqual(claims);
    expect(await unsealToken(SECRET, sealed, claims.expiresAt)).toBeUndefined();
    expect(await unsealToken(SECRET, sealed, claims.expiresAt + 1)).toBeUndefined();
  });

  it("refuses every single-byte change and any truncation", async () => {
    const sealed = await sealToken(SECRET, claims);
    const bytes = fromBase64(sealed.slice("cfrp3.".length))!;
    for (const position of [0, 11, 12, 20, bytes.length - 17, bytes.length - 1]) {
      const tampered = bytes.slice();
      tampered[position]! ^= 0x01;
      expect(
        await unsealToken(SECRET, bearer(`cfrp3.${toBase64url(tampered)}`), NOW),
        `byte ${position}`,
      ).toBeUndefined();
    }
    const cut = toBase64url(bytes.slice(0, -1));
    expect(await unsealToken(SECRET, bearer(`cfrp3.${cut}`), NOW)).toBeUndefined();
  });

  it.each([
    null,
    "",
    "cfrp3.AAAA",
    "Basic YTpi",
    "Bearer cfrp2.abc.def",
    `Bearer cfrp3.${"A".repeat(39)}`,
    `Bearer cfrp3.${"A".repeat(64)}`,
    `Bearer cfrp3.${"!".repeat(64)}`,
    "Bearer cf-registry-proxy.anonymous",
  ])("refuses %j", async (authorization) => {
    expect(await unsealToken(SECRET, authorization, NOW)).toBeUndefined();
  });
});
