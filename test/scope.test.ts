import { describe, expect, it } from "vitest";
import { formatScope, isRepositoryScope, parseScope } from "../src/scope";

describe("scopes", () => {
  it("parses a repository scope", () => {
    expect(parseScope("repository:library/nginx:pull")).toEqual({
      type: "repository",
      name: "library/nginx",
      actions: ["pull"],
    });
  });

  it("keeps a colon inside the name and several actions", () => {
    expect(parseScope("repository:localhost:5000/foo:pull,push")).toEqual({
      type: "repository",
      name: "localhost:5000/foo",
      actions: ["pull", "push"],
    });
  });

  it.each([
    "",
    "repository",
    "repository:nginx",
    ":nginx:pull",
    "repository::pull",
    "repository:nginx:",
  ])("rejects %j", (raw) => expect(parseScope(raw)).toBeUndefined());

  it("formats back to the wire form", () => {
    expect(formatScope({ type: "repository", name: "a/b", actions: ["pull"] })).toBe(
      "repository:a/b:pull",
    );
  });

  it("knows repository scopes, plugin class included", () => {
    expect(isRepositoryScope(parseScope("repository(plugin):a/b:pull")!)).toBe(true);
    expect(isRepositoryScope(parseScope("registry:catalog:*")!)).toBe(false);
  });
});
