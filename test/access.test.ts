import { describe, expect, it } from "vitest";
import {
  authorizeRepository,
  checkLogin,
  issueProxyToken,
  PROXY_TOKEN_TTL_S,
  verifyProxyToken,
} from "../src/access";
import { parseConfig } from "../src/config";
import { RegistryError } from "../src/errors";
import { hostRoute, resolveRepository } from "../src/routing";

const config = parseConfig({ PROXY_USERS: "alice:wonderland, bob:builder" });
const basic = (pair: string) => `Basic ${btoa(pair)}`;

describe("proxy users", () => {
  it("checks logins against PROXY_USERS", async () => {
    expect(await checkLogin(config, basic("alice:wonderland"))).toBe("alice");
    expect(await checkLogin(config, basic("bob:builder"))).toBe("bob");
    for (const wrong of [
      basic("alice:wrong"),
      basic("carol:wonderland"),
      basic("alice"),
      "Basic !!!",
      "Bearer x",
      null,
    ]) {
      expect(await checkLogin(config, wrong)).toBeUndefined();
    }
  });

  it("issues tokens that verify, and expire", async () => {
    const now = Date.now();
    const token = await issueProxyToken(config, "alice", now);
    expect(token).toMatch(/^cfrp1\.[\w-]+\.[\w-]+$/);
    expect(await verifyProxyToken(config, `Bearer ${token}`, now)).toBe("alice");
    expect(
      await verifyProxyToken(config, `Bearer ${token}`, now + PROXY_TOKEN_TTL_S * 1000 + 1),
    ).toBeUndefined();
  });

  it("refuses tampered and foreign tokens", async () => {
    const token = await issueProxyToken(config, "alice");
    const [prefix, payload, signature] = token.split(".") as [string, string, string];
    const forged = btoa(JSON.stringify({ u: "alice", e: 9e9 })).replace(/=+$/, "");
    const other = parseConfig({ PROXY_USERS: "alice:changed" });
    for (const bad of [
      `${prefix}.${forged}.${signature}`,
      `${prefix}.${payload}.${signature.slice(0, -2)}AA`,
      `${prefix}.${payload}.x`,
      `${prefix}.${payload}`,
      "cfrp1...",
      "cf-registry-proxy.anonymous",
    ]) {
      expect(await verifyProxyToken(config, `Bearer ${bad}`), bad).toBeUndefined();
    }
    // A changed password changes the signing key: every earlier token is void.
    expect(await verifyProxyToken(other, `Bearer ${token}`)).toBeUndefined();
  });
});

describe("ALLOW and BLOCK", () => {
  const lists = parseConfig({
    ALLOW: "docker.io/library/*, ghcr.io/myorg/*",
    BLOCK: "docker.io/library/evil*",
  });
  const docker = hostRoute(lists, "docker.example.com");
  const decide = (name: string, ns: string | null = null) => {
    try {
      authorizeRepository(lists, resolveRepository(lists, docker, ns, name));
      return "allowed";
    } catch (e) {
      return (e as RegistryError).code;
    }
  };

  it("matches registry-qualified names whatever mode named them", () => {
    expect(decide("nginx")).toBe("allowed");
    expect(decide("library/nginx")).toBe("allowed");
    expect(decide("docker.io/nginx")).toBe("allowed");
    expect(decide("ghcr.io/myorg/tool")).toBe("allowed");
    expect(decide("myorg/deep/tool", "ghcr.io")).toBe("allowed");
    expect(decide("someuser/tool")).toBe("DENIED");
    expect(decide("ghcr.io/otherorg/tool")).toBe("DENIED");
    expect(decide("quay.io/myorg/tool")).toBe("DENIED");
  });

  it("lets BLOCK win over ALLOW", () => {
    expect(decide("evil-image")).toBe("DENIED");
  });

  it("rejects globs that are not over registry/repository names", () => {
    expect(() => parseConfig({ ALLOW: "nginx" })).toThrow(/ALLOW: "nginx" is not a glob/);
    expect(() => parseConfig({ BLOCK: "docker.io/<x>" })).toThrow(/BLOCK/);
  });
});

describe("upstream credentials", () => {
  it("parses pairs per route", () => {
    const parsed = parseConfig({
      PROXY_USERS: "a:b",
      UPSTREAM_CREDENTIALS: '{"docker":["u1:t1","u2:t:with:colons"],"ghcr":"me:pat"}',
    });
    expect(parsed.upstreamCredentials.get("docker")).toEqual([
      { username: "u1", password: "t1" },
      { username: "u2", password: "t:with:colons" },
    ]);
    expect(parsed.upstreamCredentials.get("ghcr")).toEqual([{ username: "me", password: "pat" }]);
  });

  it("refuses to start with credentials but no access control, unless told so", () => {
    expect(() => parseConfig({ UPSTREAM_CREDENTIALS: '{"docker":["u:t"]}' })).toThrow(
      /Set PROXY_USERS/,
    );
    expect(
      parseConfig({
        UPSTREAM_CREDENTIALS: '{"docker":["u:t"]}',
        UPSTREAM_CREDENTIALS_PUBLIC: "true",
      }).upstreamCredentials.size,
    ).toBe(1);
  });

  it.each([
    ['{"nope":["u:t"]}', /UPSTREAM_CREDENTIALS.nope: not a route/],
    ['{"docker":["no-colon"]}', /list of "user:token"/],
    ['{"docker":[]}', /list of "user:token"/],
    ["[1]", /JSON object/],
  ])("reports %s", (raw, message) => {
    expect(() => parseConfig({ PROXY_USERS: "a:b", UPSTREAM_CREDENTIALS: raw })).toThrow(message);
  });

  it("never quotes a secret in a configuration error", () => {
    try {
      parseConfig({
        PROXY_USERS: "alice:s3cret,alice:s3cret2,broken",
        UPSTREAM_CREDENTIALS: '{"docker":["u:t0ken", 5]}',
      });
      expect.unreachable();
    } catch (e) {
      expect(String((e as Error).message)).not.toMatch(/s3cret|t0ken/);
    }
  });
});
