import { describe, expect, it } from "vitest";
import { ConfigError } from "../src/config";
import { isolateFor } from "../src/isolate";
import { CredentialRotation } from "../src/upstream-credentials";
import { UpstreamAuth } from "../src/upstream-auth";

describe("isolateFor", () => {
  it("builds one state per env object and hands it back for every request", () => {
    const env = { DEFAULT_ROUTE: "ghcr" };
    const isolate = isolateFor(env);
    expect(isolate.config.defaultUpstream.route).toBe("ghcr");
    expect(isolate.auth).toBeInstanceOf(UpstreamAuth);
    expect(isolate.rotation).toBeInstanceOf(CredentialRotation);
    for (let i = 0; i < 3; i++) expect(isolateFor(env)).toBe(isolate);
  });

  it("builds a fresh state for another env object, even with the same values", () => {
    const first = isolateFor({ DEFAULT_ROUTE: "ghcr" });
    const second = isolateFor({ DEFAULT_ROUTE: "ghcr" });
    expect(second).not.toBe(first);
    expect(second.config).not.toBe(first.config);
    expect(second.auth).not.toBe(first.auth);
    expect(second.rotation).not.toBe(first.rotation);
  });

  it("reads the env once: later changes to the same object are not seen", () => {
    const env: { DEFAULT_ROUTE?: string } = { DEFAULT_ROUTE: "ghcr" };
    isolateFor(env);
    env.DEFAULT_ROUTE = "quay";
    expect(isolateFor(env).config.defaultUpstream.route).toBe("ghcr");
  });

  it("throws ConfigError for a bad configuration, every time, and keeps nothing", () => {
    const env = { DEFAULT_ROUTE: "nope" };
    expect(() => isolateFor(env)).toThrow(ConfigError);
    expect(() => isolateFor(env)).toThrow(ConfigError);
  });
});
