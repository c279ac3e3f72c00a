// The help page in a real headless Chromium against the Worker under wrangler dev: the converter live and without JavaScript, the copy buttons and the clipboard, the CSP, and the generated commands and registries.conf pulling for real with skopeo.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { seededDigest } from "./clients/common.mjs";
import { launchBrowser, missingBrowserReason } from "./fixture/browser.mjs";
import { makeSkopeoHome, manifestDigest, sha256Digest, skopeo } from "./fixture/skopeo.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const missingBrowser = await missingBrowserReason();
// Locally a missing browser skips this file (loudly); on CI the beforeAll below fails it instead.
const skip = inject("e2eSkipReason") || (missingBrowser && !process.env.CI);

/** What the page's converter offers as examples, plus a refusal of each kind. */
const REFERENCES = [
  "nginx:1.27",
  "nginx",
  "ghcr.io/org/app:v1",
  "registry.k8s.io/pause:3.10",
  `quay.io/org/x@sha256:${"0123456789abcdef".repeat(4)}`,
  "docker.io/library/alpine",
  "example.org/not/served:1",
  "Not A Reference",
];

/** Everything that went wrong on a page: console errors, uncaught exceptions, CSP violations, failed loads. */
interface Watched {
  page: Page;
  problems: string[];
}

describe.skipIf(skip)("the help page in a real browser", () => {
  const stack = inject("stack");
  const host = stack.proxy.host;
  let browser: Browser;
  let temp: TempDir;
  const contexts: BrowserContext[] = [];
  const watched: Watched[] = [];

  beforeAll(async () => {
    if (missingBrowser) throw new Error(missingBrowser);
    temp = makeTempDir("cf-registry-proxy-help-");
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await temp?.remove();
  });
  afterEach(async () => {
    // Every page of every test: nothing on the console, nothing refused by the CSP.
    const problems = watched.splice(0).flatMap((w) => w.problems);
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    expect(problems).toEqual([]);
  });

  /** A page in a fresh context that records every problem; `javaScript: false` as with scripts off. */
  async function open(
    path: string,
    { javaScript = true, clipboardApi = true } = {},
  ): Promise<Watched> {
    const context = await browser.newContext({ javaScriptEnabled: javaScript });
    contexts.push(context);
    await context.grantPermissions(["clipboard-read", "clipboard-write"], {
      origin: stack.proxy.url,
    });
    // Runs before the page's own script, outside the page's CSP.
    await context.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { cspViolations: string[] }).cspViolations = seen;
      document.addEventListener("securitypolicyviolation", (event) =>
        seen.push(`CSP refused ${event.blockedURI || "inline"} (${event.violatedDirective})`),
      );
    });
    const page = await context.newPage();
    if (!clipboardApi) {
      await page.addInitScript(() => {
        delete (Navigator.prototype as { clipboard?: unknown }).clipboard;
      });
    }
    const w: Watched = { page, problems: [] };
    watched.push(w);
    page.on("console", (message) => {
      if (message.type() === "error") w.problems.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => w.problems.push(`uncaught: ${error.message}`));
    page.on("dialog", (dialog) => {
      w.problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on("requestfailed", (request) => w.problems.push(`failed: ${request.url()}`));
    page.on("response", (response) => {
      if (response.status() >= 400) w.problems.push(`${response.status()}: ${response.url()}`);
    });
    const response = await page.goto(`${stack.proxy.url}${path}`);
    expect(response?.status()).toBe(200);
    return w;
  }

  /** The CSP violations the page itself saw (scripts on). */
  const violations = (page: Page) =>
    page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);

  /** The text of the answer's snippets. */
  const snippets = (page: Page) => page.locator("#answer pre").allTextContents();

  it("converts as a person types, exactly as the Worker renders /?image= without JavaScript", async () => {
    const live = await open("/");
    const served = await open("/", { javaScript: false });
    for (const reference of REFERENCES) {
      await live.page.fill("#image", reference);
      const typed = (await live.page.innerHTML("#answer")).trim();
      expect(new URL(live.page.url()).searchParams.get("image")).toBe(reference);

      await served.page.goto(`${stack.proxy.url}/?${new URLSearchParams({ image: reference })}`);
      expect(typed, reference).toBe((await served.page.innerHTML("#answer")).trim());
    }
    expect(await violations(live.page)).toEqual([]);
  });

  it("gives this host's commands for each kind of reference", async () => {
    const { page } = await open("/");
    const firstLine = async (reference: string) => {
      await page.fill("#image", reference);
      return (await snippets(page))[0]?.split("\n")[0];
    };
    expect(await firstLine("nginx:1.27")).toBe(`docker pull ${host}/nginx:1.27`);
    expect(await firstLine("docker pull someuser/tool:1")).toBe(
      `docker pull ${host}/someuser/tool:1`,
    );
    expect(await firstLine("ghcr.io/org/tool:v1")).toBe(`docker pull ${host}/ghcr.io/org/tool:v1`);
    expect((await snippets(page)).join("\n")).toContain(
      `podman pull --tls-verify=false ${host}/ghcr.io/org/tool:v1`,
    );

    await page.fill("#image", "example.org/x:1");
    expect(await page.textContent("#answer .message")).toMatch(
      /^example\.org is not one of this proxy's registries/,
    );
    await page.fill("#image", "<img src=x onerror=alert(1)>");
    expect(await page.textContent("#answer .message")).toMatch(/^That is not an image reference/);
    expect(await page.locator("#answer img").count()).toBe(0);

    // An example link fills the box in place, without loading the page again.
    await page.click("a.example >> text=registry.k8s.io/pause:3.10");
    expect(await page.inputValue("#image")).toBe("registry.k8s.io/pause:3.10");
    expect(await firstLine("registry.k8s.io/pause:3.10")).toBe(
      `docker pull ${host}/registry.k8s.io/pause:3.10`,
    );
  });

  it("copies a snippet to the clipboard", async () => {
    const { page } = await open("/?image=ghcr.io/org/tool:v1");
    const snippet = page.locator("#answer .snippet").first();
    const button = snippet.locator("button.copy");
    expect(await button.isVisible()).toBe(true);
    await button.click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(
      await snippet.locator("pre").textContent(),
    );
    await expect.poll(() => button.textContent()).toBe("Copied");

    // The page's static snippets have copy buttons too.
    const daemonJson = page.locator(".snippet", { hasText: '"registry-mirrors"' }).last();
    await daemonJson.locator("button.copy").click();
    expect(JSON.parse(await page.evaluate(() => navigator.clipboard.readText()))).toEqual({
      "registry-mirrors": [stack.proxy.url],
      "insecure-registries": [host],
    });
  });

  it("copies without the Clipboard API too (plain HTTP on a LAN address has none)", async () => {
    const { page } = await open("/?image=nginx:1.27", { clipboardApi: false });
    expect(await page.evaluate(() => "clipboard" in navigator)).toBe(false);
    const snippet = page.locator("#answer .snippet").first();
    await snippet.locator("button.copy").click();
    await expect.poll(() => snippet.locator("button.copy").textContent()).toBe("Copied");
    // What the fallback copied, read through a page that has the API.
    const reader = await page.context().newPage();
    await reader.goto(`${stack.proxy.url}/`);
    expect(await reader.evaluate(() => navigator.clipboard.readText())).toBe(
      await snippet.locator("pre").textContent(),
    );
    await reader.close();
  });

  it("works without JavaScript: the form asks the Worker, which answers the same", async () => {
    const { page } = await open("/", { javaScript: false });
    expect(await page.inputValue("#image")).toBe("nginx:1.27");
    expect((await snippets(page))[0]).toContain(`docker pull ${host}/nginx:1.27`);
    // Copy buttons need the script: hidden without it.
    expect(await page.locator("button.copy").first().isVisible()).toBe(false);

    await page.fill("#image", "ghcr.io/org/tool:v1");
    await Promise.all([page.waitForURL(/\?image=/), page.click("#convert button[type=submit]")]);
    expect(new URL(page.url()).searchParams.get("image")).toBe("ghcr.io/org/tool:v1");
    expect((await snippets(page))[0]).toContain(`docker pull ${host}/ghcr.io/org/tool:v1`);

    await Promise.all([page.waitForURL(/pause/), page.click("a.example >> text=registry.k8s.io")]);
    expect((await snippets(page))[0]).toContain(`docker pull ${host}/registry.k8s.io/pause:3.10`);
  });

  it("keeps its CSP: the page's own script runs, any other inline script is refused", async () => {
    const { page, problems } = await open("/");
    expect(await page.evaluate(() => document.documentElement.classList.contains("js"))).toBe(true);
    const ran = await page.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "window.injected = true";
      document.body.append(script);
      return (window as unknown as { injected?: boolean }).injected ?? false;
    });
    expect(ran).toBe(false);
    await expect
      .poll(() => violations(page))
      .toEqual([expect.stringMatching(/^CSP refused inline \(script-src/)]);
    // That refusal was this test's doing: the browser reported it, and nothing else went wrong.
    expect(problems).toEqual([expect.stringMatching(/Content Security Policy/)]);
    problems.length = 0;
  });

  it("generates pull commands and a registries.conf that pull the seeded images", async () => {
    const home = await makeSkopeoHome(join(temp.path, "skopeo"));
    const { page } = await open("/");
    for (const [reference, registry, nameAndTag] of [
      ["alpine:3", "hub", "library/alpine:3"],
      ["ghcr.io/org/tool:v1", "ghcr", "org/tool:v1"],
    ] as const) {
      await page.fill("#image", reference);
      const expected = seededDigest(stack.images, registry, nameAndTag);

      // The pull command's reference, through this host.
      const pull = (await snippets(page))[0]!.split("\n")[0]!;
      expect(pull).toMatch(/^docker pull /);
      expect(await manifestDigest(home, pull.slice("docker pull ".length))).toBe(expected);

      // The plain reference, through the registries.conf the page gave (copied as a person would).
      await page.locator("#answer .snippet", { hasText: "[[registry]]" }).locator("button").click();
      const conf = join(temp.path, `registries-${registry}.conf`);
      await writeFile(conf, await page.evaluate(() => navigator.clipboard.readText()));
      const plain = registry === "hub" ? `docker.io/${nameAndTag}` : `ghcr.io/${nameAndTag}`;
      const inspected = await skopeo(
        home,
        ["inspect", "--raw", "--authfile", home.authFile, `docker://${plain}`],
        { registriesConf: conf },
      );
      expect(inspected.code, inspected.stderr).toBe(0);
      expect(sha256Digest(Buffer.from(inspected.stdout, "utf8"))).toBe(expected);
    }
  });
});
