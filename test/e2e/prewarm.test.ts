// The Cron Trigger's warm-up (PREWARM) under `wrangler dev --test-scheduled`: runs within their subrequest budget, go on where the last one stopped, fetch only the platforms asked for, make the first real pull upstream-free, and follow a tag that moved.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fetchCounts, resetCounts, seedImages } from "./fixture/control.mjs";
import { MULTI_ARCH } from "./fixture/images.mjs";
import { waitUntil } from "./fixture/net.mjs";
import { startProxy } from "./fixture/proxy.mjs";
import { registryFetch, tokenFor } from "./fixture/registry-http.mjs";
import { HUB_SERVICE } from "./fixture/replicas/docker-hub.mjs";
import { makeSkopeoHome, pullToDir, readPulledImage, type SkopeoHome } from "./fixture/skopeo.mjs";
import type { SeededImage, SeedSpec, StackCounts } from "./fixture/stack.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const KiB = 1024;
/** PREWARM_SUBREQUESTS: the smallest the proxy accepts, so that one run cannot do it all. */
const BUDGET = 10;
/** This machine's platform (what skopeo pulls from an index) and the other one of MULTI_ARCH. */
const WANTED = process.arch === "arm64" ? "linux/arm64" : "linux/amd64";
const OTHER = WANTED === "linux/amd64" ? "linux/arm64" : "linux/amd64";
/** Runs a round may take before the test gives up. */
const MAX_RUNS = 12;

/** The `{"message":"prewarm",...}` line each run writes (src/prewarm.ts). */
interface PrewarmReport {
  images: number;
  manifests: number;
  blobs: number;
  kept: number;
  failed: number;
  remaining: number;
  subrequests: number;
  skipped?: boolean;
}

interface Run {
  report: PrewarmReport;
  /** Requests the upstreams received during the run (the stack's counters). */
  upstream: number;
  counts: StackCounts;
}

/** Dedicated repositories: the tag of one is moved below, and no other file pulls them. */
const HUB_SPEC: SeedSpec = {
  registry: "hub",
  repository: "library/warm",
  tag: "1",
  layerSizes: [96 * KiB, 8 * KiB],
  platforms: MULTI_ARCH,
};
const GHCR_SPEC: SeedSpec = {
  registry: "ghcr",
  repository: "org/warm",
  tag: "v1",
  layerSizes: [48 * KiB, 4 * KiB],
};

/**
 * Every request the proxy's warm-up can have sent: to each replica's front and blob host, and to
 * auth.docker.io (the token server itself, for Docker Hub's service only: the other replicas'
 * own realms ask it too, and are counted at their fronts).
 */
function upstreamRequests(c: StackCounts): number {
  return (
    c.hub.total +
    c.cdn.total +
    (c.token.byService[HUB_SERVICE] ?? 0) +
    c.ghcr.total +
    c.ghcrCdn.total +
    c.k8s.total +
    c.k8sArtifactRegistry.total +
    c.k8sBucket.total +
    c.quay.total +
    c.quayCdn.total +
    c.ecr.total +
    c.ecrCdn.total
  );
}

const sum = (runs: Run[], pick: (run: Run) => number) =>
  runs.reduce((total, run) => total + pick(run), 0);

describe.skipIf(inject("e2eSkipReason"))("the Cron Trigger's warm-up (PREWARM)", () => {
  const stack = inject("stack");
  let temp: TempDir;
  let home: SkopeoHome;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let hubImage: SeededImage;
  let ghcrImage: SeededImage;
  let pulls = 0;

  beforeAll(async () => {
    temp = makeTempDir("cf-registry-proxy-prewarm-");
    home = await makeSkopeoHome(join(temp.path, "home"));
    [hubImage, ghcrImage] = (await seedImages(stack.controlUrl, [HUB_SPEC, GHCR_SPEC])) as [
      SeededImage,
      SeededImage,
    ];
    proxy = await startProxy({
      dir: join(temp.path, "proxy"),
      upstreams: { docker: stack.hub.url, ghcr: stack.ghcr.url },
      cacheBucket: true,
      vars: {
        // An official image by its short name (library/ completed) with one platform of two, and
        // a ghcr.io image with every platform it has (one).
        PREWARM: `docker.io/warm:1 ${WANTED}, ghcr.io/org/warm:v1`,
        PREWARM_SUBREQUESTS: String(BUDGET),
      },
      wranglerArgs: ["--test-scheduled"],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await temp?.remove();
  });

  /** The prewarm lines of the proxy's log so far. */
  async function reports(): Promise<PrewarmReport[]> {
    const marker = '{"message":"prewarm"';
    const log = await readFile(proxy.logFile, "utf8");
    return log
      .split("\n")
      .filter((line) => line.includes(marker))
      .map((line) => JSON.parse(line.slice(line.indexOf(marker))) as PrewarmReport);
  }

  /**
   * One Cron Trigger, as wrangler's `/__scheduled` fires it (on wrangler dev itself): the
   * handler hands the run to waitUntil, so the run is over when its log line is written.
   */
  async function runOnce(): Promise<Run> {
    const before = (await reports()).length;
    await resetCounts(stack.controlUrl);
    const fired = await fetch(
      `${proxy.workerUrl}/__scheduled?cron=${encodeURIComponent("0 5 * * *")}`,
    );
    expect(fired.status).toBe(200);
    expect(await fired.text()).toBe("Ran scheduled event");
    let report: PrewarmReport | undefined;
    await waitUntil(
      async () => {
        report = (await reports())[before];
        return report !== undefined;
      },
      { what: `a prewarm log line in ${proxy.logFile}`, timeoutMs: 60_000, intervalMs: 100 },
    );
    const counts = await fetchCounts(stack.controlUrl);
    return { report: report!, upstream: upstreamRequests(counts), counts };
  }

  /** Runs until a run says nothing remains. */
  async function round(): Promise<Run[]> {
    const runs: Run[] = [];
    do {
      if (runs.length === MAX_RUNS) throw new Error(`no end after ${MAX_RUNS} runs`);
      runs.push(await runOnce());
    } while (runs.at(-1)!.report.remaining > 0);
    return runs;
  }

  /** The index of the hub image, and the platform manifests it lists, from the replica itself. */
  async function hubIndex() {
    const { token } = await tokenFor(
      `${stack.hub.url}/v2/`,
      `repository:${HUB_SPEC.repository}:pull`,
    );
    const manifest = async (reference: string) => {
      const response = await registryFetch(
        `${stack.hub.url}/v2/${HUB_SPEC.repository}/manifests/${reference}`,
        { token },
      );
      expect(response.status).toBe(200);
      return {
        digest: response.headers.get("docker-content-digest")!,
        body: (await response.json()) as {
          manifests?: { digest: string; platform: { os: string; architecture: string } }[];
          config?: { digest: string };
          layers?: { digest: string }[];
        },
      };
    };
    const index = await manifest(HUB_SPEC.tag);
    const platform = async (wanted: string) => {
      const entry = index.body.manifests!.find(
        (m) => `${m.platform.os}/${m.platform.architecture}` === wanted,
      )!;
      const { body } = await manifest(entry.digest);
      return {
        digest: entry.digest,
        blobs: [body.config!.digest, ...body.layers!.map((l) => l.digest)],
      };
    };
    return { digest: index.digest, wanted: await platform(WANTED), other: await platform(OTHER) };
  }

  /** A skopeo pull through this proxy, and what the upstreams saw meanwhile. */
  async function pullThrough(reference: string) {
    const dir = join(temp.path, `pull-${++pulls}`);
    await resetCounts(stack.controlUrl);
    const result = await pullToDir(home, `${proxy.host}/${reference}`, dir);
    expect(result.code, result.stderr).toBe(0);
    const counts = await fetchCounts(stack.controlUrl);
    return { pulled: await readPulledImage(dir), counts };
  }

  /** X-Cache of a HEAD through the proxy (a HEAD stores nothing). */
  async function cacheStatus(repository: string, kind: "manifests" | "blobs", digest: string) {
    const { token } = await tokenFor(`${proxy.url}/v2/`, `repository:${repository}:pull`);
    const response = await registryFetch(`${proxy.url}/v2/${repository}/${kind}/${digest}`, {
      token,
      method: "HEAD",
    });
    expect(response.status, `${kind}/${digest}`).toBe(200);
    return response.headers.get("x-cache");
  }

  let firstRound: Run[];

  it("warms both images in several runs, each within PREWARM_SUBREQUESTS upstream requests", async () => {
    firstRound = await round();
    const reportsSeen = firstRound.map((run) => ({ ...run.report, counted: run.upstream }));
    console.log(`first round: ${JSON.stringify(reportsSeen)}`);

    expect(firstRound.length).toBeGreaterThan(1);
    for (const [i, run] of firstRound.entries()) {
      expect(run.report.skipped, `run ${i + 1}`).toBeUndefined();
      expect(run.report.failed, `run ${i + 1}`).toBe(0);
      // What the upstreams received, and what the run says it sent.
      expect(run.upstream, `run ${i + 1}: upstream requests`).toBeLessThanOrEqual(BUDGET);
      expect(run.report.subrequests, `run ${i + 1}`).toBe(run.upstream);
      expect(run.upstream, `run ${i + 1} did nothing`).toBeGreaterThan(0);
    }
    // Index + one platform's manifest + the ghcr manifest; that platform's config and two layers,
    // and the ghcr image's.
    expect(sum(firstRound, (r) => r.report.images)).toBe(2);
    expect(sum(firstRound, (r) => r.report.manifests)).toBe(3);
    expect(sum(firstRound, (r) => r.report.blobs)).toBe(6);
    expect(sum(firstRound, (r) => r.counts.hub.manifestGet)).toBe(2);
    expect(sum(firstRound, (r) => r.counts.ghcr.manifestGet)).toBe(1);
    expect(sum(firstRound, (r) => r.counts.hub.blobGet)).toBe(3);
    expect(sum(firstRound, (r) => r.counts.ghcr.blobGet)).toBe(3);
  });

  it("makes the first skopeo pull of each image fetch no manifest and no blob upstream", async () => {
    expect(firstRound, "the first round ran").toBeDefined();
    const index = await hubIndex();
    expect(index.digest).toBe(hubImage.digest);

    const hub = await pullThrough(`warm:${HUB_SPEC.tag}`);
    expect(hub.pulled.digest).toBe(index.wanted.digest);
    const ghcr = await pullThrough(`ghcr.io/${GHCR_SPEC.repository}:${GHCR_SPEC.tag}`);
    expect(ghcr.pulled.digest).toBe(ghcrImage.digest);

    for (const [name, { counts }] of [
      ["hub", hub],
      ["ghcr", ghcr],
    ] as const) {
      const heads = {
        manifestHead: counts.hub.manifestHead + counts.ghcr.manifestHead,
        blobHead: counts.hub.blobHead + counts.ghcr.blobHead,
      };
      console.log(`first ${name} pull after the warm-up, upstream: ${JSON.stringify(counts)}`);
      expect(counts.hub.manifestGet + counts.ghcr.manifestGet, name).toBe(0);
      expect(counts.hub.blobGet + counts.ghcr.blobGet, name).toBe(0);
      expect(counts.cdn.get + counts.ghcrCdn.get, name).toBe(0);
      // Only HEADs, at the registries and at their blob hosts (a HEAD follows the redirect).
      expect(counts.hub.total + counts.ghcr.total, name).toBe(heads.manifestHead + heads.blobHead);
      expect(counts.cdn.total + counts.ghcrCdn.total, name).toBe(
        counts.cdn.head + counts.ghcrCdn.head,
      );
      // At most the tag's, and one per stored manifest and blob to confirm this repository has
      // it (the warm-up stores content, not a repository's links to it).
      const [manifests, blobs] = name === "hub" ? [2, index.wanted.blobs.length] : [1, 3];
      expect(heads.manifestHead, name).toBeLessThanOrEqual(manifests);
      expect(heads.blobHead, name).toBeLessThanOrEqual(blobs);
    }
  });

  it("fetched the blobs of the platform PREWARM names, and not the other platform's", async () => {
    expect(firstRound, "the first round ran").toBeDefined();
    const index = await hubIndex();
    // Three blob GETs upstream in the whole round (first test), and all three of this platform
    // are stored: no blob of the other platform can have been fetched.
    for (const blob of index.wanted.blobs) {
      expect(await cacheStatus(HUB_SPEC.repository, "blobs", blob), blob).toBe("HIT");
    }
    expect(await cacheStatus(HUB_SPEC.repository, "manifests", index.other.digest)).toBe("MISS");
    for (const blob of index.other.blobs) {
      expect(await cacheStatus(HUB_SPEC.repository, "blobs", blob), blob).toBe("MISS");
    }
  });

  it("follows the tag to the new image it points at in the next round", async () => {
    expect(firstRound, "the first round ran").toBeDefined();
    // The tag moves upstream: a new image (new layers) under the same tag.
    const [moved] = (await seedImages(stack.controlUrl, [HUB_SPEC])) as [SeededImage];
    expect(moved.digest).not.toBe(hubImage.digest);
    const index = await hubIndex();
    expect(index.digest).toBe(moved.digest);

    // The next run resolves the tag afresh and stores the new index.
    const next = await runOnce();
    expect(next.report.images).toBe(2);
    expect(next.counts.hub.manifestGet).toBeGreaterThanOrEqual(1);
    expect(await cacheStatus(HUB_SPEC.repository, "manifests", moved.digest)).toBe("HIT");
    const second = [next, ...(next.report.remaining > 0 ? await round() : [])];
    console.log(
      `second round: ${JSON.stringify(second.map((run) => ({ ...run.report, counted: run.upstream })))}`,
    );
    for (const [i, run] of second.entries()) {
      expect(run.report.failed, `run ${i + 1}`).toBe(0);
      expect(run.upstream, `run ${i + 1}: upstream requests`).toBeLessThanOrEqual(BUDGET);
    }
    // Both tags resolved afresh with a HEAD; the new index and its platform's manifest stored, the
    // new platform's three blobs fetched; the unchanged ghcr tag's manifest and blobs kept from
    // round one, and not fetched again (a manifest GET would count as a Docker Hub pull).
    expect(sum(second, (r) => r.report.images)).toBe(2);
    expect(sum(second, (r) => r.report.manifests)).toBe(2);
    expect(sum(second, (r) => r.report.blobs)).toBe(3);
    expect(sum(second, (r) => r.report.kept)).toBe(4);
    expect(sum(second, (r) => r.counts.ghcr.manifestGet)).toBe(0);
    expect(sum(second, (r) => r.counts.ghcr.blobGet)).toBe(0);

    const hub = await pullThrough(`warm:${HUB_SPEC.tag}`);
    expect(hub.pulled.digest).toBe(index.wanted.digest);
    expect(hub.counts.hub.manifestGet).toBe(0);
    expect(hub.counts.hub.blobGet).toBe(0);
    expect(hub.counts.cdn.get).toBe(0);
  });
});
