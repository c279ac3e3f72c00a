import { describe, expect, it } from "vitest";
import { toBase64url } from "../src/base64";
import { parseConfig } from "../src/config";
import { checkLogin, issueProxyToken, PROXY_TOKEN_TTL_S, verifyProxyToken } from "../src/login";

const config = parseConfig({ PROXY_USERS: "alice:wonderland, bob:builder" });
const basic = (pair: string) => `Basic ${btoa(pair)}`;
const bearer = (token: string) => `Bearer ${token}`;

describe("logins", () => {
  it("checks logins against PROXY_USERS", async () => {
    expect(await checkLogin(config, basic("alice:wonderland"))).toBe("alice");
    expect(await checkLogin(config, basic("bob:builder"))).toBe("bob");
    for (const wrong of [
      basic("alice:wrong"),
      basic("carol:wonderland"),
      basic("alice"),
      basic(":wonderland"),
      "Basic !!!",
      "Bearer x",
      null,
    ]) {
      expect(await checkLogin(config, wrong)).toBeUndefined();
    }
  });
});

describe("proxy tokens", () => {
  it("verify for their user, and expire after the server's lifetime", async () => {
    const now = Date.now();
    const token = await issueProxyToken(config, "alice", now);
    expect(token).toMatch(/^cfrp2\.[\w-]+\.[\w-]{43}$/);
    expect(await verifyProxyToken(config, bearer(token), now)).toBe("alice");
    expect(
      await verifyProxyToken(config, bearer(token), now + PROXY_TOKEN_TTL_S * 1000 - 1000),
    ).toBe("alice");
    expect(
      await verifyProxyToken(config, bearer(token), now + PROXY_TOKEN_TTL_S * 1000 + 1000),
    ).toBeUndefined();
  });

  it("cannot outlive their lifetime, whatever they claim: only the issue time counts", async () => {
    const now = Date.now();
    // A token whose payload also claims a far expiry is still over after the lifetime.
    const token = await issueProxyToken(config, "alice", now);
    const later = now + 2 * PROXY_TOKEN_TTL_S * 1000;
    expect(await verifyProxyToken(config, bearer(token), later)).toBeUndefined();
    // One issued "in the future" (a century ahead) is refused rather than good for a century.
    const future = await issueProxyToken(config, "alice", now + 100 * 365 * 86400 * 1000);
    expect(await verifyProxyToken(config, bearer(future), now)).toBeUndefined();
  });

  it("are signed per user: a token says nothing about another user's password", async () => {
    const now = Date.now();
    const alice = await issueProxyToken(config, "alice", now);
    // The same token comes out whatever bob's password is: it depends on alice's alone.
    const bobChanged = parseConfig({ PROXY_USERS: "alice:wonderland,bob:something-else" });
    expect(await issueProxyToken(bobChanged, "alice", now)).toBe(alice);
    // And a user cannot sign for another with what they know (their own token and password).
    const [prefix, , signature] = alice.split(".") as [string, string, string];
    const asBob = toBase64url(JSON.stringify({ u: "bob", t: Math.floor(now / 1000) }));
    expect(
      await verifyProxyToken(config, bearer(`${prefix}.${asBob}.${signature}`), now),
    ).toBeUndefined();
  });

  it("are revoked for one user when that user's password changes, and for nobody else", async () => {
    const now = Date.now();
    const alice = await issueProxyToken(config, "alice", now);
    const bob = await issueProxyToken(config, "bob", now);
    const changed = parseConfig({ PROXY_USERS: "alice:new-password,bob:builder" });
    expect(await verifyProxyToken(changed, bearer(alice), now)).toBeUndefined();
    expect(await verifyProxyToken(changed, bearer(bob), now)).toBe("bob");
    const removed = parseConfig({ PROXY_USERS: "bob:builder" });
    expect(await verifyProxyToken(removed, bearer(alice), now)).toBeUndefined();
  });

  it("are keyed by TOKEN_SECRET too: changing it revokes every token", async () => {
    const now = Date.now();
    const withSecret = parseConfig({
      PROXY_USERS: "alice:wonderland",
      TOKEN_SECRET: "a-long-random-deployment-secret",
    });
    const token = await issueProxyToken(withSecret, "alice", now);
    expect(await verifyProxyToken(withSecret, bearer(token), now)).toBe("alice");
    expect(await verifyProxyToken(config, bearer(token), now)).toBeUndefined();
    const other = parseConfig({
      PROXY_USERS: "alice:wonderland",
      TOKEN_SECRET: "another-long-random-secret",
    });
    expect(await verifyProxyToken(other, bearer(token), now)).toBeUndefined();
  });

  it("refuses tampered and foreign tokens", async () => {
    const token = await issueProxyToken(config, "alice");
    const [prefix, payload, signature] = token.split(".") as [string, string, string];
    const forged = toBase64url(JSON.stringify({ u: "alice", t: 9e9 }));
    for (const bad of [
      `${prefix}.${forged}.${signature}`,
      `${prefix}.${payload}.${signature.slice(0, -2)}AA`,
      `${prefix}.${payload}.x`,
      `${prefix}.${payload}`,
      `cfrp1.${payload}.${signature}`,
      `${prefix}.${toBase64url("not json")}.${signature}`,
      "cfrp2...",
      "cf-registry-proxy.anonymous",
    ]) {
      expect(await verifyProxyToken(config, bearer(bad)), bad).toBeUndefined();
    }
    expect(await verifyProxyToken(config, basic("alice:wonderland"))).toBeUndefined();
  });
});
