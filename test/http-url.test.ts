import { describe, expect, it } from "vitest";
import { parseHttpUrl } from "../src/http-url";

describe("parseHttpUrl", () => {
  it.each([
    ["https://auth.docker.io/token", "https://auth.docker.io/token"],
    ["http://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/v2/"],
    ["HTTPS://Example.COM/a?b=c", "https://example.com/a?b=c"],
  ])("accepts %j", (value, href) => {
    expect(parseHttpUrl(value)?.href).toBe(href);
  });

  it.each([
    "ftp://example.com/x",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:text/plain,hi",
    "ws://example.com/",
    "gopher://example.com/",
    "/token",
    "//example.com/token",
    "example.com/token",
    "not a url",
    "",
    "https://",
  ])("refuses %j on its own", (value) => {
    expect(parseHttpUrl(value)).toBeUndefined();
  });

  it.each([
    ["/other", "https://r.example/v2/a/blobs/x", "https://r.example/other"],
    ["next?sig=1", "https://r.example/v2/a/", "https://r.example/v2/a/next?sig=1"],
    ["//cdn.example/b", "https://r.example/v2/", "https://cdn.example/b"],
    ["https://cdn.example/b", "http://r.example/", "https://cdn.example/b"],
  ])("resolves %j against %j", (value, base, href) => {
    expect(parseHttpUrl(value, base)?.href).toBe(href);
    expect(parseHttpUrl(value, new URL(base))?.href).toBe(href);
  });

  it("refuses a non-HTTP URL whatever the base", () => {
    expect(parseHttpUrl("ftp://x/", "https://r.example/")).toBeUndefined();
    expect(parseHttpUrl("javascript:alert(1)", "https://r.example/")).toBeUndefined();
    expect(parseHttpUrl("/x", "ftp://r.example/")).toBeUndefined();
    expect(parseHttpUrl("/x", "not a base")).toBeUndefined();
  });
});
