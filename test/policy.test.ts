import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config";
import { RegistryError } from "../src/errors";
import { checkPolicy } from "../src/policy";
import { resolveRepository } from "../src/routing";

describe("ALLOW and BLOCK", () => {
  const lists = parseConfig({
    ALLOW: "docker.io/library/*, ghcr.io/myorg/*",
    BLOCK: "docker.io/library/evil*",
  });
  const decide = (name: string, ns: string | null = null) => {
    const url = new URL(`https://docker.example.com/v2/${ns ? `?ns=${ns}` : ""}`);
    try {
      checkPolicy(lists, resolveRepository(lists, url, name));
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
    expect(() => parseConfig({ ALLOW: "nginx" })).toThrow(/ALLOW: entry 1 is not a glob/);
    expect(() => parseConfig({ BLOCK: "docker.io/<x>" })).toThrow(/BLOCK/);
  });
});
