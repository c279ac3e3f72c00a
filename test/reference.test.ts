import { describe, expect, it } from "vitest";
import { RegistryError } from "../src/errors";
import { assertDigest, isValidDigest, isValidName, isValidTag } from "../src/reference";

const HEX64 = "a".repeat(64);

describe("distribution-spec grammar", () => {
  it.each([
    "nginx",
    "library/nginx",
    "a/b/c",
    "my-org/my_tool",
    "a__b",
    "a.b/c--d",
    "ghcr.io/org/tool",
  ])("accepts name %j", (name) => expect(isValidName(name)).toBe(true));

  it.each([
    "",
    "Nginx",
    "a//b",
    "/a",
    "a/",
    "-a",
    "a-",
    "a..b",
    "a___b",
    "a/../b",
    "a%2fb",
    "a b",
    "a:b",
    "é",
  ])("rejects name %j", (name) => expect(isValidName(name)).toBe(false));

  it("rejects names longer than 255 characters", () => {
    expect(isValidName("a".repeat(255))).toBe(true);
    expect(isValidName("a".repeat(256))).toBe(false);
  });

  it.each(["latest", "1.25", "v1.0.0-rc_1", "_x", "A".repeat(128)])("accepts tag %j", (tag) =>
    expect(isValidTag(tag)).toBe(true),
  );

  it.each(["", ".x", "-x", "a/b", "a:b", "A".repeat(129), "x y"])("rejects tag %j", (tag) =>
    expect(isValidTag(tag)).toBe(false),
  );

  it.each([`sha256:${HEX64}`, `sha512:${"b".repeat(128)}`])("accepts digest %j", (d) =>
    expect(isValidDigest(d)).toBe(true),
  );

  it.each([
    "sha256:abc",
    `sha256:${"A".repeat(64)}`,
    `sha256:${HEX64}0`,
    `md5:${HEX64}`,
    `SHA256:${HEX64}`,
    `sha256:${HEX64.slice(1)}g`,
    `constructor:${HEX64}`,
    `__proto__:${HEX64}`,
    ":",
    "sha256:",
  ])("rejects digest %j", (d) => expect(isValidDigest(d)).toBe(false));

  it("refuses a digest outside the grammar with DIGEST_INVALID", () => {
    expect(() => assertDigest("sha256:nothex")).toThrow(RegistryError);
    expect(() => assertDigest(`sha256:${HEX64}`)).not.toThrow();
  });
});
