// The Cron Trigger's warm-up: PREWARM's images into R2, within a subrequest budget, one run at a time.
import {
  createExecutionContext,
  createScheduledController,
  env as testBindings,
  waitOnExecutionContext,
} from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker, { type Bindings } from "../src/index";
import { isolateFor } from "../src/isolate";
import { prewarm } from "../src/prewarm";
import {
  FakeNet,
  fakeRegistry,
  makeImage,
  MANIFEST_ACCEPT,
  type FakeImage,
} from "./helpers/fake-registry";
import { callWorker, testEnv } from "./helpers/worker";

const HUB = "registry-1.docker.io";
const HUB_AUTH = "auth.docker.io";
const CDN = "production.cloudflare.docker.com";
const bucket = () => (testBindings as unknown as { CACHE_BUCKET: R2Bucket }).CACHE_BUCKET;

let net: FakeNet;
let images: FakeImage[];

beforeEach(async () => {
  net = new FakeNet();
  images = await Promise.all(
    ["a", "b", "c", "d"].map((seed) => makeImage(`${seed}-${crypto.randomUUID()}`)),
  );
  fakeRegistry(net, {
    host: HUB,
    authHost: HUB_AUTH,
    service: "registry.docker.io",
    cdnHost: CDN,
    repositories: Object.fromEntries(images.map((image, i) => [`library/app${i}`, image])),
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  expect(net.unexpected).toEqual([]);
});

function warmEnv(prewarm: string, overrides: Partial<Bindings> = {}): Bindings {
  return testEnv({ CACHE_BUCKET: bucket(), PREWARM: prewarm, ...overrides });
}

/** Runs the Cron Trigger as workerd would. */
async function cron(env: Bindings): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ cron: "*/30 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

const stored = async (env: Bindings, kind: string, digest: string) =>
  (await bucket().head(`${env.CACHE_NAMESPACE}/docker.io/${kind}/${digest}`)) !== null;

describe("warm-up", () => {
  it("puts each image's manifest and blobs into R2 and remembers its tag, so the first pull finds them", async () => {
    const env = warmEnv("docker.io/library/app0:latest, app1");
    await cron(env);
    for (const image of images.slice(0, 2)) {
      expect(await stored(env, "manifests", image.manifestDigest)).toBe(true);
      expect(await stored(env, "blobs", image.blobDigest)).toBe(true);
    }
    expect(
      await (
        await bucket().get(`${env.CACHE_NAMESPACE}/docker.io/tags/library/app0/latest`)
      )?.text(),
    ).toBe(images[0]!.manifestDigest);

    const before = net.to(CDN).length;
    const blob = await callWorker(
      `https://docker.example.com/v2/app0/blobs/${images[0]!.blobDigest}`,
      {},
      env,
    );
    expect(blob.headers.get("x-cache")).toBe("HIT");
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(images[0]!.blob);
    // The first pull in a colo confirms the repository with a HEAD; no blob is fetched again.
    expect(net.to(CDN).filter((s) => s.method === "GET").length).toBe(before);
    const manifest = await callWorker(
      "https://docker.example.com/v2/app0/manifests/latest",
      { headers: { accept: MANIFEST_ACCEPT } },
      env,
    );
    expect(manifest.headers.get("x-cache")).toBe("HIT");
  });

  it("stops within its subrequest budget and goes on where it left off on the next run", async () => {
    const env = warmEnv("app0,app1,app2,app3", { PREWARM_SUBREQUESTS: "10" });
    const isolate = isolateFor(env);
    const runs = [];
    for (let run = 0; run < 10; run++) {
      const fetchesBefore = net.seen.length;
      const report = await prewarm(isolate, bucket());
      // Ping and token requests count too: every request the run made is in net.seen.
      expect(net.seen.length - fetchesBefore).toBeLessThanOrEqual(10);
      runs.push(report);
      if (report.remaining === 0) break;
    }
    expect(runs.length).toBeGreaterThan(1);
    for (const image of images) expect(await stored(env, "blobs", image.blobDigest)).toBe(true);
    // Each blob was fetched once: what R2 holds is not fetched again.
    const blobGets = net
      .to(CDN)
      .filter((s) => s.method === "GET")
      .map((s) => s.url);
    expect(new Set(blobGets).size).toBe(blobGets.length);
  });

  it("refreshes the remembered tags on the next round, fetching nothing it already holds", async () => {
    const env = warmEnv("app0");
    await cron(env);
    const blobGets = () => net.to(CDN).filter((s) => s.method === "GET").length;
    const gets = blobGets();
    const moved = await makeImage(`moved-${crypto.randomUUID()}`);
    fakeRegistry(net, {
      host: HUB,
      authHost: HUB_AUTH,
      service: "registry.docker.io",
      cdnHost: CDN,
      repositories: { "library/app0": moved },
    });
    await cron(env);
    expect(
      await (
        await bucket().get(`${env.CACHE_NAMESPACE}/docker.io/tags/library/app0/latest`)
      )?.text(),
    ).toBe(moved.manifestDigest);
    expect(await stored(env, "blobs", moved.blobDigest)).toBe(true);
    expect(blobGets()).toBe(gets + 1);
  });

  it("lets one of two runs that start at once take the lease", async () => {
    const env = warmEnv("app0");
    const isolate = isolateFor(env);
    const reports = await Promise.all([prewarm(isolate, bucket()), prewarm(isolate, bucket())]);
    expect(reports.filter((r) => r.skipped)).toHaveLength(1);
    expect(net.to(CDN).filter((s) => s.method === "GET")).toHaveLength(1);
  });

  it("resolves an unchanged tag with a HEAD on the next round: no manifest GET, nothing fetched again", async () => {
    const env = warmEnv("app0");
    await cron(env);
    const manifestGets = () => net.to(HUB, /manifests/).filter((s) => s.method === "GET").length;
    const gets = manifestGets();
    const blobGets = net.to(CDN).filter((s) => s.method === "GET").length;
    await cron(env);
    expect(manifestGets()).toBe(gets);
    expect(net.to(CDN).filter((s) => s.method === "GET").length).toBe(blobGets);
  });

  it("does nothing while another run holds the lease", async () => {
    const env = warmEnv("app0");
    await bucket().put(`${env.CACHE_NAMESPACE}/prewarm/lease`, "", {
      customMetadata: { until: String(Date.now() + 60_000) },
    });
    const report = await prewarm(isolateFor(env), bucket());
    expect(report.skipped).toBe(true);
    expect(net.seen).toEqual([]);
  });

  it("says in the log what it did, and needs R2", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    vi.spyOn(console, "warn").mockImplementation((line: unknown) => void lines.push(String(line)));
    await cron(warmEnv("app0"));
    expect(JSON.parse(lines.find((l) => l.includes('"prewarm"'))!)).toMatchObject({
      message: "prewarm",
      images: 1,
      manifests: 1,
      blobs: 1,
      failed: 0,
      remaining: 0,
    });
    await cron(testEnv({ PREWARM: "app0" }));
    expect(lines.some((l) => l.includes("PREWARM needs the CACHE_BUCKET"))).toBe(true);
  });

  it.each([
    ["not a reference", "Not A Reference!"],
    ["a registry that is not an upstream", "evil.example.com/x:1"],
    ["a bad platform", "nginx:1 linux"],
  ])("refuses a PREWARM entry that is %s, quoting nothing", async (_, entry) => {
    const response = await callWorker("https://docker.example.com/v2/", {}, warmEnv(entry));
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).toMatch(/PREWARM: entry 1/);
    expect(text).not.toContain(entry.split(" ")[0]!.split("/")[0]);
  });
});
