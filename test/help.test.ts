// The help page and its converter, rendered by the Worker inside workerd: every example reference on every kind of host, hostile input, the CSP and its script hash, a locked proxy.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { answerFor, renderAnswer } from "../src/help-answer";
import { helpScript } from "../src/help-script";
import { parseImageReference } from "../src/image-reference";
import type { Bindings } from "../src/index";
import { callWorker, envWith, testEnv } from "./helpers/worker";

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;

let env: Bindings;
let fetchSpy: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  env = testEnv();
  fetchSpy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
    throw new TypeError(`the help page fetched ${String(input)}`);
  });
});

afterEach(() => {
  // The page is built from the configuration and the request alone: no upstream is ever asked.
  expect(fetchSpy).not.toHaveBeenCalled();
  vi.restoreAllMocks();
});

/** The page for `url`, as the Worker answers it. */
async function page(
  url: string,
  overrides: Partial<Bindings> = {},
): Promise<{ response: Response; html: string }> {
  const response = await callWorker(url, {}, envWith(env, overrides));
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
  return { response, html: await response.text() };
}

/** HTML text content: tags removed, entities decoded. */
function text(html: string): string {
  return html
    .replace(/<[^>]*>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The converter's answer in a page: its message and its snippets, as text. */
function answerIn(html: string): { html: string; message: string; snippets: string[] } {
  const m = /<div id="answer" aria-live="polite">\n([\s\S]*?)\n<\/div>\n<\/section>/.exec(html);
  expect(m, "the page has an answer box").not.toBeNull();
  const answer = m![1]!;
  return {
    html: answer,
    message: text(/<p class="message [a-z]+">([\s\S]*?)<\/p>/.exec(answer)![1]!),
    snippets: [...answer.matchAll(/<pre>([\s\S]*?)<\/pre>/g)].map((s) => text(s[1]!)),
  };
}

/** The answer for `image` on the page at `origin`. */
async function convert(origin: string, image: string, overrides: Partial<Bindings> = {}) {
  const { html } = await page(`${origin}/?${new URLSearchParams({ image })}`, overrides);
  return answerIn(html);
}

/** The snippet that contains `needle`; fails when none does. */
function snippetWith(snippets: string[], needle: string): string {
  const found = snippets.find((s) => s.includes(needle));
  expect(found, `a snippet with ${needle} among:\n${snippets.join("\n---\n")}`).toBeDefined();
  return found!;
}

describe("the converter on a route host (https://docker.example.com)", () => {
  const origin = "https://docker.example.com";

  it("shows the first example's answer when no image is asked for", async () => {
    const { html } = await page(`${origin}/`);
    expect(html).toContain('<input id="image" name="image" value="nginx:1.27"');
    const answer = answerIn(html);
    expect(answer.snippets[0]).toContain("docker pull docker.example.com/nginx:1.27");
  });

  it("nginx:1.27: this host's own registry without a prefix, and every client's configuration", async () => {
    const answer = await convert(origin, "nginx:1.27");
    expect(answer.message).toBe(
      "nginx:1.27 is docker.io/library/nginx:1.27: this proxy serves it from docker.io.",
    );
    expect(answer.snippets[0]).toBe(
      [
        "docker pull docker.example.com/nginx:1.27",
        "podman pull docker.example.com/nginx:1.27",
        "nerdctl pull docker.example.com/nginx:1.27",
        "crictl pull docker.example.com/nginx:1.27",
      ].join("\n"),
    );
    expect(JSON.parse(snippetWith(answer.snippets, "registry-mirrors"))).toEqual({
      "registry-mirrors": ["https://docker.example.com"],
    });
    expect(answer.html).toContain("<code>/etc/containerd/certs.d/docker.io/hosts.toml</code>");
    expect(snippetWith(answer.snippets, "server =")).toBe(
      [
        'server = "https://registry-1.docker.io"',
        "",
        '[host."https://docker.example.com"]',
        '  capabilities = ["pull", "resolve"]',
      ].join("\n"),
    );
    expect(snippetWith(answer.snippets, "[[registry]]")).toBe(
      [
        "[[registry]]",
        'prefix = "docker.io"',
        'location = "docker.io"',
        "",
        "[[registry.mirror]]",
        'location = "docker.example.com"',
      ].join("\n"),
    );
    expect(snippetWith(answer.snippets, "mirrors:")).toBe(
      ["mirrors:", "  docker.io:", "    endpoint:", '      - "https://docker.example.com"'].join(
        "\n",
      ),
    );
    // Not on a route host's own registry: no second way to write it.
    expect(answer.html).not.toContain("path prefix");
  });

  it.each([
    ["nginx", "docker.example.com/nginx:latest"],
    ["docker.io/library/alpine", "docker.example.com/alpine:latest"],
    ["index.docker.io/someuser/tool:1", "docker.example.com/someuser/tool:1"],
    ["docker pull nginx:1.27", "docker.example.com/nginx:1.27"],
  ])("%s: pulls as %s", async (image, pulled) => {
    const answer = await convert(origin, image);
    expect(answer.snippets[0]!.split("\n")[0]).toBe(`docker pull ${pulled}`);
  });

  it.each([
    ["ghcr.io/org/app:v1", "ghcr.example.com/org/app:v1", "ghcr.io"],
    ["registry.k8s.io/pause:3.10", "k8s.example.com/pause:3.10", "registry.k8s.io"],
    [`quay.io/org/x@${DIGEST}`, `quay.example.com/org/x@${DIGEST}`, "quay.io"],
  ])(
    "%s: its own route host, or the path prefix, and no registry mirror for Docker",
    async (image, pulled, registry) => {
      const answer = await convert(origin, image);
      const repository = pulled.slice(pulled.indexOf("/") + 1);
      expect(answer.snippets[0]!.split("\n")[0]).toBe(`docker pull ${pulled}`);
      expect(answer.snippets[1]).toBe(`docker pull docker.example.com/${registry}/${repository}`);
      expect(text(answer.html)).toContain(
        `Docker's registry-mirrors apply to Docker Hub images only: a plain docker pull ${image} always goes to ${registry} itself.`,
      );
      expect(answer.snippets.some((s) => s.includes("registry-mirrors"))).toBe(false);
      expect(answer.html).toContain(`<code>/etc/containerd/certs.d/${registry}/hosts.toml</code>`);
      expect(snippetWith(answer.snippets, "server =")).toContain(
        `server = "https://${registry}"\n\n[host."https://docker.example.com"]`,
      );
      expect(snippetWith(answer.snippets, "[[registry.mirror]]")).toContain(
        `location = "docker.example.com/${registry}"`,
      );
      expect(snippetWith(answer.snippets, "mirrors:")).toContain(
        `  ${registry}:\n    endpoint:\n      - "https://docker.example.com"`,
      );
    },
  );

  it("says a reference through this proxy already is one", async () => {
    for (const image of ["docker.example.com/nginx:1.27", "ghcr.example.com/org/app:v1"]) {
      const answer = await convert(origin, image);
      expect(answer.message, image).toMatch(/already pulls through this proxy/);
    }
  });
});

describe("the converter on other hosts", () => {
  it("a workers.dev host: other registries by their path prefix only", async () => {
    const origin = "https://cf-registry-proxy.me.workers.dev";
    const ghcr = await convert(origin, "ghcr.io/org/app:v1");
    expect(ghcr.snippets[0]!.split("\n")[0]).toBe(
      "docker pull cf-registry-proxy.me.workers.dev/ghcr.io/org/app:v1",
    );
    expect(ghcr.html).not.toContain("path prefix");
    expect(ghcr.html).not.toContain("ghcr.me.workers.dev");
    const nginx = await convert(origin, "nginx:1.27");
    expect(nginx.snippets[0]!.split("\n")[0]).toBe(
      "docker pull cf-registry-proxy.me.workers.dev/nginx:1.27",
    );
  });

  it("the route host of another registry: Docker Hub by its prefix or its own route host", async () => {
    const origin = "https://ghcr.example.com";
    const nginx = await convert(origin, "nginx:1.27");
    expect(nginx.snippets[0]!.split("\n")[0]).toBe("docker pull docker.example.com/nginx:1.27");
    expect(nginx.snippets[1]).toBe("docker pull ghcr.example.com/docker.io/nginx:1.27");
    expect(snippetWith(nginx.snippets, "[[registry.mirror]]")).toContain(
      'location = "ghcr.example.com/docker.io"',
    );
    const ghcr = await convert(origin, "ghcr.io/org/app:v1");
    expect(ghcr.snippets[0]!.split("\n")[0]).toBe("docker pull ghcr.example.com/org/app:v1");
    expect(snippetWith(ghcr.snippets, "[[registry.mirror]]")).toContain(
      'location = "ghcr.example.com"',
    );
    // The page's own registries.conf example agrees.
    const { html } = await page(`${origin}/`);
    expect(text(html)).toContain('location = "ghcr.example.com/docker.io"');
  });

  it("plain HTTP: every client is told the registry is insecure", async () => {
    const origin = "http://127.0.0.1:8787";
    const nginx = await convert(origin, "nginx:1.27");
    expect(nginx.snippets[0]).toBe(
      [
        "docker pull 127.0.0.1:8787/nginx:1.27",
        "podman pull --tls-verify=false 127.0.0.1:8787/nginx:1.27",
        "nerdctl pull --insecure-registry 127.0.0.1:8787/nginx:1.27",
        "crictl pull 127.0.0.1:8787/nginx:1.27",
      ].join("\n"),
    );
    expect(JSON.parse(snippetWith(nginx.snippets, "registry-mirrors"))).toEqual({
      "registry-mirrors": ["http://127.0.0.1:8787"],
      "insecure-registries": ["127.0.0.1:8787"],
    });
    expect(snippetWith(nginx.snippets, "server =")).toContain('[host."http://127.0.0.1:8787"]');
    expect(snippetWith(nginx.snippets, "[[registry.mirror]]")).toMatch(
      /location = "127\.0\.0\.1:8787"\ninsecure = true$/,
    );
    const ghcr = await convert(origin, "ghcr.io/org/app:v1");
    expect(JSON.parse(snippetWith(ghcr.snippets, "insecure-registries"))).toEqual({
      "insecure-registries": ["127.0.0.1:8787"],
    });
    expect(snippetWith(ghcr.snippets, "[[registry.mirror]]")).toMatch(
      /location = "127\.0\.0\.1:8787\/ghcr\.io"\ninsecure = true$/,
    );
  });
});

describe("what the converter refuses", () => {
  const origin = "https://docker.example.com";

  it.each(["example.org/x:1", "localhost:5000/team/app", "docker.example.org/nginx"])(
    "names a registry this proxy does not serve (%s)",
    async (image) => {
      const answer = await convert(origin, image);
      const registry = image.split("/")[0];
      expect(answer.html).toMatch(/^<p class="message unserved">/);
      expect(answer.message).toMatch(
        new RegExp(`^${registry!.replace(/\./g, "\\.")} is not one of this proxy's registries`),
      );
      expect(answer.message).toContain("It serves docker.io, quay.io, gcr.io");
      expect(answer.snippets).toEqual([]);
    },
  );

  it.each([
    ["Nginx:1.27", "Repository names are lower case."],
    ["https://ghcr.io/org/app:v1", "Leave out the scheme"],
    ["nginx latest", "One reference at a time"],
    ["nginx::1", ""],
    ["a".repeat(600), ""],
  ])("says %s is not a reference, without echoing it", async (image, hint) => {
    const answer = await convert(origin, image);
    expect(answer.html).toMatch(/^<p class="message invalid">/);
    expect(answer.message).toMatch(/^That is not an image reference/);
    expect(answer.message).toContain(hint);
    expect(answer.message).not.toContain(image);
  });

  it("asks for a reference when the box is empty", async () => {
    const answer = await convert(origin, "  ");
    expect(answer.html).toMatch(/^<p class="message empty">Paste an image reference/);
  });

  it("escapes hostile input everywhere it appears, and runs no script but its own", async () => {
    const hostile = `"><script>alert(1)</script><img src=x onerror='alert(2)'>&amp;`;
    const { html } = await page(
      `https://docker.example.com/?${new URLSearchParams({ image: hostile })}`,
    );
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<img");
    expect(html).toContain(
      'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#39;alert(2)&#39;&gt;&amp;amp;"',
    );
    expect(html.match(/<script/g)).toHaveLength(1);
    // No inline event handler anywhere: the CSP would refuse it anyway.
    const markup = html.replace(/<script>[\s\S]*<\/script>/, "").replace(/"[^"]*"/g, '""');
    expect(markup).not.toMatch(/<[^>]+\son[a-z]+=/i);
    const unserved = answerIn(
      (await page(`https://docker.example.com/?image=${encodeURIComponent("evil.example/<b>")}`))
        .html,
    );
    expect(unserved.html).not.toContain("<b>");
  });

  it("echoes at most 512 characters of the input", async () => {
    const { html } = await page(`https://docker.example.com/?image=${"a".repeat(5000)}`);
    expect(html).toContain(`value="${"a".repeat(512)}"`);
    expect(html).not.toContain("a".repeat(513));
  });
});

describe("the page's script and its Content-Security-Policy", () => {
  /** The one inline script of a page. */
  const scriptOf = (html: string) => /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
  const sha256 = async (text: string) =>
    btoa(
      String.fromCharCode(
        ...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
      ),
    );

  it("allows the served script by its hash and nothing else", async () => {
    const { response, html } = await page("https://docker.example.com/");
    const csp = response.headers.get("content-security-policy")!;
    const directives = new Map(
      csp.split(";").map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name!, values];
      }),
    );
    expect(directives.get("default-src")).toEqual(["'none'"]);
    expect(directives.get("script-src")).toEqual([`'sha256-${await sha256(scriptOf(html))}'`]);
    expect(directives.get("form-action")).toEqual(["'self'"]);
    expect(directives.get("base-uri")).toEqual(["'none'"]);
    expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
    expect(csp).not.toContain("unsafe-eval");
    expect(directives.get("script-src")).not.toContain("'unsafe-inline'");
  });

  it("serves one script for every host, query and configuration", async () => {
    const pages = await Promise.all([
      page("https://docker.example.com/"),
      page("http://127.0.0.1:8787/?image=ghcr.io/org/app:v1"),
      page("https://x.workers.dev/", { PROXY_USERS: "a:b" }),
    ]);
    const csps = pages.map((p) => p.response.headers.get("content-security-policy"));
    expect(new Set(csps).size).toBe(1);
    for (const p of pages) expect(scriptOf(p.html)).toBe(helpScript());
  });

  it("is built from the Worker's own parser and converter", () => {
    const script = helpScript();
    expect(script).toContain(parseImageReference.toString());
    expect(script).toContain(answerFor.toString());
    expect(script).toContain(renderAnswer.toString());
  });

  it("answers HEAD with the page's headers and no body", async () => {
    const response = await callWorker("https://docker.example.com/", { method: "HEAD" }, env);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-security-policy")).toMatch(/script-src 'sha256-/);
    expect(await response.text()).toBe("");
  });
});

describe("a locked proxy", () => {
  const locked = {
    PROXY_USERS: "alice:wonderland",
    UPSTREAMS: JSON.stringify({
      docker: "https://hub-mirror.corp.example",
      harbor: { url: "https://harbor.corp.example", registry: "harbor.corp.example" },
    }),
  };

  it("shows how to log in, and treats an UPSTREAMS registry as one it does not serve", async () => {
    const { html } = await page("https://docker.example.com/", locked);
    expect(html).not.toContain("corp.example");
    expect(text(html)).toContain("Log in first: docker login docker.example.com");

    const harbor = await convert(
      "https://docker.example.com",
      "harbor.corp.example/team/app:1",
      locked,
    );
    expect(harbor.message).toMatch(/^harbor\.corp\.example is not one of this proxy's registries/);
    expect(harbor.message).not.toMatch(/serves .*harbor/);

    // The moved Docker Hub is still Docker Hub to its visitors; where it is fetched from stays hidden.
    const nginx = await convert("https://docker.example.com", "nginx:1.27", locked);
    expect(text(nginx.html)).toContain("Log in before pulling: docker login docker.example.com");
    expect(snippetWith(nginx.snippets, "mirrors:")).toContain(
      'configs:\n  "docker.example.com":\n    auth:',
    );
    expect(nginx.html).not.toContain("corp.example");
  });

  it("hides the host's own registry when UPSTREAMS added it", async () => {
    const { html } = await page("https://harbor.example.com/?image=nginx:1.27", locked);
    expect(html).not.toContain("corp.example");
    const answer = answerIn(html);
    expect(answer.snippets[0]!.split("\n")[0]).toBe("docker pull docker.example.com/nginx:1.27");
  });

  it("the same configuration unlocked serves the added registry", async () => {
    const unlocked = { UPSTREAMS: locked.UPSTREAMS };
    const harbor = await convert(
      "https://docker.example.com",
      "harbor.corp.example/team/app:1",
      unlocked,
    );
    expect(harbor.snippets[0]!.split("\n")[0]).toBe("docker pull harbor.example.com/team/app:1");
    expect(harbor.snippets[1]).toBe(
      "docker pull docker.example.com/harbor.corp.example/team/app:1",
    );
  });
});
