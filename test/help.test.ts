import { describe, expect, it } from "vitest";
import { parseConfig, type ConfigVars } from "../src/config";
import { escapeHtml, helpPage } from "../src/help";

const HARBOR = JSON.stringify({
  harbor: { url: "https://harbor.internal.example", registry: "harbor.example.net" },
  docker: "https://mirror.internal.example",
});
const page = async (href: string, vars: ConfigVars = {}) => {
  const response = helpPage(new URL(href), parseConfig(vars));
  return { response, html: await response.text() };
};

describe("escapeHtml", () => {
  it.each([
    ["plain", "plain"],
    ["<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"],
    [`"double" 'single'`, "&quot;double&quot; &#39;single&#39;"],
    ["a & b", "a &amp; b"],
    ["&amp;", "&amp;amp;"],
    ["", ""],
  ])("escapes %j", (text, escaped) => {
    expect(escapeHtml(text)).toBe(escaped);
  });
});

describe("helpPage", () => {
  it("is an HTML page that runs nothing and is not cached", async () => {
    const { response, html } = await page("https://docker.example.com/");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(response.headers.get("content-security-policy")).toMatch(
      /^default-src 'none'; style-src 'unsafe-inline'/,
    );
    expect(html).not.toMatch(/<script/i);
  });

  it("escapes everything taken from the request's host", async () => {
    // The URL parser lets these through in a host name; the page must not.
    const { html } = await page(`https://a"b'c&d.example.com/`);
    expect(html).not.toContain(`a"b'c&d`);
    expect(html).toContain("a&quot;b&#39;c&amp;d.example.com");
    expect(html).not.toMatch(/<[^>]*a"b/);
  });

  it("shows this host's own registry without a prefix, and the sibling hosts of its domain", async () => {
    const { html } = await page("https://ghcr.example.com/");
    expect(html).toContain("docker pull ghcr.example.com/org/image:tag");
    expect(html).toContain("docker pull ghcr.example.com/docker.io/nginx:latest");
    expect(html).toContain("docker pull docker.example.com/nginx:latest");
    expect(html).toContain("docker pull quay.example.com/org/image:tag");
  });

  it("shows no sibling hosts for a host that names no route", async () => {
    const { html } = await page("https://proxy.someone.workers.dev/");
    expect(html).toContain("docker pull proxy.someone.workers.dev/nginx:latest");
    expect(html).toContain("docker pull proxy.someone.workers.dev/ghcr.io/org/image:tag");
    expect(html).not.toContain("docker pull ghcr.someone.workers.dev");
    expect(html).toContain("serve <b>docker.io</b>");
  });

  it("configures plain-http clients as insecure, and https ones not", async () => {
    const http = (await page("http://127.0.0.1:8787/")).html;
    expect(http).toContain("insecure-registries");
    expect(http).toContain("insecure = true");
    expect(http).toContain("[host.&quot;http://127.0.0.1:8787&quot;]");
    const https = (await page("https://docker.example.com/")).html;
    expect(https).not.toContain("insecure");
    expect(https).toContain("server = &quot;https://registry-1.docker.io&quot;");
  });

  it("shows an open proxy's added routes, and never an upstream URL", async () => {
    const { html } = await page("https://docker.example.com/", {
      UPSTREAMS: HARBOR,
      DEFAULT_ROUTE: "harbor",
    });
    expect(html).toContain("<td>harbor</td><td>harbor.example.net</td>");
    expect(html).toContain("serve <b>harbor.example.net</b>");
    expect(html).toContain("server = &quot;https://harbor.example.net&quot;");
    expect(html).not.toContain("internal");
    expect(html).not.toContain("Log in first");
  });

  describe("on a locked proxy", () => {
    const vars = { UPSTREAMS: HARBOR, DEFAULT_ROUTE: "harbor", PROXY_USERS: "alice:wonderland" };

    it.each([
      "https://docker.example.com/",
      "https://harbor.example.com/",
      "https://p.workers.dev/",
    ])("shows nothing UPSTREAMS added (%s)", async (href) => {
      const { html } = await page(href, vars);
      expect(html).not.toContain("harbor.example.net");
      expect(html).not.toContain("<td>harbor</td>");
      expect(html).not.toContain("internal");
      expect(html).toContain("serve <b>docker.io</b>");
      expect(html).toContain("<td>docker</td><td>docker.io</td>");
      expect(html).toContain("<td>elastic</td><td>docker.elastic.co</td>");
    });

    it("tells visitors to log in, without naming any user", async () => {
      const { html } = await page("https://docker.example.com/", vars);
      expect(html).toContain("<code>docker login docker.example.com</code>");
      expect(html).not.toContain("alice");
      expect(html).not.toContain("wonderland");
    });
  });
});
