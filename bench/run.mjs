// `npm run bench`: measures the proxy side by side with its baselines and prints one markdown table (also written to bench/results.md; a smoke run, BENCH_SMOKE=1, writes to the temp dir).
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { INSTALL_HINT, missingTools } from "../test/e2e/fixture/prerequisites.mjs";
import { startStack } from "../test/e2e/fixture/stack.mjs";
import { makeTempDir } from "../test/e2e/fixture/tempdir.mjs";
import { startBigUpstream } from "./big-upstream.mjs";
import { startCacheService } from "./cache-service.mjs";
import { measureCpuPerRequest } from "./cpu.mjs";
import { measureFill } from "./fill.mjs";
import { measureCrowd } from "./many-clients.mjs";
import { measurePulls } from "./pull-counts.mjs";
import { MiB, fixed, now } from "./stats.mjs";
import {
  bundleRow,
  cpuRows,
  crowdRows,
  fillRows,
  pullRows,
  slowClientRows,
  throughputRows,
} from "./rows.mjs";
import { describeMachine, renderReport } from "./table.mjs";
import { measureSlowClient, measureThroughput } from "./throughput.mjs";
import {
  buildBundle,
  readWranglerSettings,
  startWorkerd,
  workerdBinary,
  workerdVersion,
} from "./workerd.mjs";
import { MANIFEST_ACCEPT } from "../test/e2e/fixture/images.mjs";

const BENCH_DIR = fileURLToPath(new URL(".", import.meta.url));
const PASS_THROUGH = join(BENCH_DIR, "passthrough-worker.mjs");

/**
 * BENCH_SMOKE=1: every measurement at a tiny size, in well under a minute, to prove the harness
 * and the proxy's bytes right (CI runs it). Timings mean nothing then; only failures count.
 */
const SMOKE = process.env.BENCH_SMOKE === "1";

/** Every knob, from the environment (defaults: the full run, or the smoke run). */
const SETTINGS = {
  /** Size of the seeded image's one layer (random content): throughput, many clients, R2. */
  blobMiB: envInt("BENCH_BLOB_MIB", SMOKE ? 4 : 256),
  /** Timed throughput rounds (after one warm-up) and CPU rounds. */
  rounds: envInt("BENCH_ROUNDS", SMOKE ? 1 : 7),
  /** Requests per CPU round and target. */
  cpuRequests: envInt("BENCH_CPU_REQUESTS", SMOKE ? 20 : 300),
  /** Cold/warm skopeo pull pairs, each with a freshly started proxy. */
  pullPairs: envInt("BENCH_PULL_PAIRS", SMOKE ? 1 : 3),
  /** The huge blob, written straight into a registry's storage. */
  bigMiB: envInt("BENCH_BIG_MIB", SMOKE ? 8 : 2048),
  /** Timed rounds of the huge blob with a fast client. */
  bigRounds: envInt("BENCH_BIG_ROUNDS", SMOKE ? 1 : 3),
  /** How fast the slow client reads. */
  slowMiBps: envInt("BENCH_SLOW_MIBPS", 40),
  /** Clients pulling the same image at once. */
  clients: envInt("BENCH_CLIENTS", SMOKE ? 4 : 32),
};

/** Where the report goes: bench/results.md for a full run, never for a smoke run. */
const OUTPUT =
  process.env.BENCH_OUT ||
  (SMOKE ? join(tmpdir(), "cf-registry-proxy-bench-smoke.md") : join(BENCH_DIR, "results.md"));

/** The small multi-layer image for pulls and CPU (seeded by the e2e stack, Docker schema 2). */
const SMALL_IMAGE = { repository: "library/alpine", tag: "3" };
const BIG_IMAGE = { repository: "library/big", tag: "1" };

/**
 * @typedef {import("./table.mjs").Row} Row
 * @typedef {import("../test/e2e/fixture/stack.mjs").Stack} Stack
 * @typedef {import("./workerd.mjs").Workerd} Workerd
 */

/** @param {string} message */
const log = (message) => process.stderr.write(`${message}\n`);

/**
 * @param {string} name
 * @param {number} fallback
 */
function envInt(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1)
    throw new Error(`${name} must be a positive integer`);
  return number;
}

async function main() {
  const started = now();
  const missing = missingTools();
  if (missing.length) {
    log(`npm run bench needs ${missing.join(", ")}: ${INSTALL_HINT}`);
    process.exitCode = 1;
    return;
  }
  const settings = readWranglerSettings();
  const machine = describeMachine({ workerdVersion: await workerdVersion() });
  const temp = makeTempDir("cf-registry-proxy-bench-");
  /** @type {Row[]} */
  const rows = [];
  /** @type {string[]} */
  const notes = [];
  let failed = false;
  let passedSections = 0;
  let failedSections = 0;
  /**
   * Runs one part of the benchmark; a failure becomes a row and a note, and the rest still runs.
   * @param {string} group
   * @param {() => Promise<void>} part
   */
  const section = async (group, part) => {
    try {
      await part();
      passedSections++;
    } catch (error) {
      failed = true;
      failedSections++;
      const message = error instanceof Error ? error.message : String(error);
      log(`${group} failed: ${message}`);
      rows.push({
        group,
        metric: "error",
        measured: message.split("\n")[0],
        target: "runs",
        met: false,
      });
      notes.push(`${group} failed: ${message.split("\n").slice(0, 6).join(" / ")}`);
    }
  };

  /** @type {Stack | undefined} */
  let stack;
  /** @type {{ stop: () => Promise<void> }[]} workerd processes and helpers to stop, in order */
  const running = [];
  const stopRunning = async () => {
    for (const thing of running.splice(0).reverse()) await thing.stop().catch(() => {});
  };
  /**
   * Starts plain workerd and remembers to stop it.
   * @param {Parameters<typeof startWorkerd>[0]} options
   */
  const workerd = async (options) => {
    const started = await startWorkerd(options);
    running.push(started);
    return started;
  };
  /**
   * The proxy's bundle under plain workerd, with a fresh in-memory Cache API.
   * @param {string} name
   * @param {Record<string, string>} upstreams
   */
  const plainProxy = async (name, upstreams) => {
    if (!deployed) throw new Error("no bundle to measure: the build failed");
    const cache = await startCacheService();
    running.push(cache);
    const proxy = await workerd({
      dir: join(temp.path, `workerd-${name}`),
      name,
      modulePath: deployed.file,
      settings,
      cacheAddress: cache.address,
      bindings: {
        ...settings.vars,
        UPSTREAMS: JSON.stringify(upstreams),
        DEFAULT_ROUTE: "docker",
      },
    });
    return { ...proxy, cache };
  };
  /**
   * The pass-through Worker under plain workerd.
   * @param {string} name
   * @param {string} upstream
   */
  const plainPassThrough = (name, upstream) =>
    workerd({
      dir: join(temp.path, `workerd-${name}`),
      name,
      modulePath: PASS_THROUGH,
      settings,
      bindings: { UPSTREAM: upstream },
    });

  /** @type {import("./workerd.mjs").Bundle | undefined} */
  let deployed;
  try {
    log("Building the bundle (wrangler deploy --dry-run)...");
    await section("Bundle size", async () => {
      const logDir = join(temp.path, "wrangler-logs");
      deployed = await buildBundle(join(temp.path, "dist"), { logDir });
      const minified = await buildBundle(join(temp.path, "dist-min"), { minify: true, logDir });
      rows.push(
        bundleRow("as deployed (wrangler.toml)", deployed),
        bundleRow("--minify", minified),
      );
    });

    log(
      `Starting the e2e stack with a ${SETTINGS.blobMiB} MiB layer (registries, CDN, seeding)...`,
    );
    stack = await startStack({ bigLayerMiB: SETTINGS.blobMiB });
    const { hub, ghcr, cdn } = stack.info;
    const upstreams = { docker: hub.url, ghcr: ghcr.url };
    const bigImage = stack.info.images.find((i) => i.repository === BIG_IMAGE.repository);
    if (!bigImage) throw new Error(`the stack seeded no ${BIG_IMAGE.repository}`);

    log(`Starting plain workerd (${workerdBinary()}): the proxy and a pass-through Worker...`);
    const proxy = await plainProxy("proxy", upstreams);
    const passThrough = await plainPassThrough("pass-through", cdn.url);

    /** @type {{ digest: string, size: number } | undefined} */
    let bigLayer;
    await section("Blob throughput", async () => {
      const manifest = await fetchManifest(proxy.url, BIG_IMAGE);
      const layer = manifest.layers?.[0];
      if (!layer) throw new Error(`${BIG_IMAGE.repository} has no layer`);
      bigLayer = layer;
      const path = cdnPath(layer.digest);
      log(`Blob throughput: ${fixed(layer.size / MiB, 1)} MiB, ${SETTINGS.rounds} rounds...`);
      const results = await measureThroughput({
        size: layer.size,
        digest: layer.digest,
        rounds: SETTINGS.rounds,
        log,
        targets: [
          { name: "direct", url: cdn.url + path },
          { name: "pass-through", url: passThrough.url + path, pid: passThrough.pid },
          {
            name: "proxy",
            url: `${proxy.url}/v2/${BIG_IMAGE.repository}/blobs/${layer.digest}`,
            pid: proxy.pid,
          },
        ],
      });
      rows.push(...throughputRows(results, layer.size));
      notes.push(
        `Blob throughput: one GET at a time, the targets in turn within each round; the proxy answered with X-Cache ${cacheStatuses(results)} (plain workerd has no R2, and a body above 4 MiB is not put in the Cache API, so every GET goes upstream).`,
      );
    });

    await section("CPU per request", async () => {
      const image = stack?.info.images.find((i) => i.repository === SMALL_IMAGE.repository);
      if (!image) throw new Error(`the stack seeded no ${SMALL_IMAGE.repository}`);
      const manifest = await fetchManifest(proxy.url, SMALL_IMAGE);
      const config = manifest.config?.digest;
      const layer = manifest.layers?.[0]?.digest;
      if (!config || !layer)
        throw new Error(`${SMALL_IMAGE.repository} manifest without config or layer`);
      const base = `${proxy.url}/v2/${SMALL_IMAGE.repository}`;
      const headers = { accept: MANIFEST_ACCEPT };
      /** @type {[string, string][]} proxy path, the same content's CDN path */
      const pairs = [
        [`${base}/manifests/${SMALL_IMAGE.tag}`, cdnPath(image.digest)],
        [`${base}/blobs/${config}`, cdnPath(config)],
        [`${base}/blobs/${layer}`, cdnPath(layer)],
      ];
      /** @type {("HEAD" | "GET")[]} */
      const methods = ["HEAD", "GET"];
      log(`CPU per request: ${SETTINGS.cpuRequests} requests x ${SETTINGS.rounds} rounds...`);
      proxy.cache.resetCounts();
      const results = await measureCpuPerRequest({
        count: SETTINGS.cpuRequests,
        rounds: SETTINGS.rounds,
        log,
        targets: [
          {
            name: "proxy",
            pid: proxy.pid,
            requests: pairs.flatMap(([url]) => methods.map((method) => ({ method, url, headers }))),
          },
          {
            name: "pass-through",
            pid: passThrough.pid,
            requests: pairs.flatMap(([, path]) =>
              methods.map((method) => ({ method, url: passThrough.url + path })),
            ),
          },
        ],
      });
      rows.push(...cpuRows(results));
      const { hits, misses, puts } = proxy.cache.counts();
      notes.push(
        `CPU: one request at a time on a keep-alive connection; plain workerd got an in-memory Cache API (bench/cache-service.mjs), which saw ${hits} hits, ${misses} misses, ${puts} puts during the CPU rounds.`,
      );
      const failing = results.filter((r) => r.failures);
      if (failing.length) {
        throw new Error(
          failing
            .map((r) => `${r.name} answered ${r.failures} requests with a non-2xx status`)
            .join("; "),
        );
      }
    });
    await stopRunning();

    await section(`Huge blob`, async () => {
      const size = SETTINGS.bigMiB * MiB;
      log(`Huge blob: writing ${SETTINGS.bigMiB} MiB into a registry's storage...`);
      const dir = join(temp.path, "huge");
      const big = await startBigUpstream({ dir, size });
      running.push({
        stop: async () => {
          await big.stop();
          await rm(dir, { recursive: true, force: true });
        },
      });
      const hugeProxy = await plainProxy("proxy-huge", { docker: big.hubUrl });
      const hugePassThrough = await plainPassThrough("pass-through-huge", big.cdnUrl);
      const targets = [
        { name: "direct", url: big.cdnUrl + big.cdnPath },
        { name: "pass-through", url: hugePassThrough.url + big.cdnPath, pid: hugePassThrough.pid },
        {
          name: "proxy",
          url: `${hugeProxy.url}/v2/${big.repository}/blobs/${big.digest}`,
          pid: hugeProxy.pid,
        },
      ];
      log(`Huge blob: fast client, ${SETTINGS.bigRounds} rounds...`);
      const fast = await measureThroughput({
        size,
        digest: big.digest,
        rounds: SETTINGS.bigRounds,
        log,
        targets,
      });
      rows.push(...throughputRows(fast, size, "Huge blob, fast client"));
      log(`Huge blob: a client reading ${SETTINGS.slowMiBps} MiB/s...`);
      const slow = await measureSlowClient({
        size,
        digest: big.digest,
        mibPerSecond: SETTINGS.slowMiBps,
        log,
        targets: targets.slice(1).reverse(),
      });
      rows.push(...slowClientRows(slow, size, SETTINGS.slowMiBps, "Huge blob, slow client"));
      notes.push(
        `Huge blob: ${SETTINGS.bigMiB} MiB written straight into a registry's storage (one random 1 MiB block repeated, each copy numbered), pulled through the proxy (registry, token, 307 to the CDN) and the pass-through Worker (the CDN) under plain workerd, ${SETTINGS.bigRounds} fast rounds, then once each by a client that reads ${SETTINGS.slowMiBps} MiB/s; X-Cache ${cacheStatuses(fast)}. RSS growth is each workerd's peak during the transfers minus its RSS before them; with a slow client it shows whether anything buffers what the client has not read yet (it would grow with the blob).`,
      );
      await stopRunning();
    });

    await section("Many clients", async () => {
      if (!bigLayer) throw new Error("the image's layer is unknown (throughput failed)");
      const image = { ...BIG_IMAGE, digest: bigImage.digest };
      const crowdProxy = await plainProxy("proxy-crowd", upstreams);
      const crowdPassThrough = await plainPassThrough("pass-through-crowd", hub.url);
      /** @type {import("./many-clients.mjs").CrowdResult[]} */
      const results = [];
      for (const [name, target] of /** @type {const} */ ([
        ["proxy, cold", crowdProxy],
        ["pass-through", crowdPassThrough],
        ["proxy, warm", crowdProxy],
      ])) {
        log(
          `Many clients: ${SETTINGS.clients} pulls of ${BIG_IMAGE.repository}:${BIG_IMAGE.tag}, ${name}...`,
        );
        const result = await measureCrowd({
          name,
          registryUrl: target.url,
          pid: target.pid,
          clients: SETTINGS.clients,
          image,
          stack: /** @type {Stack} */ (stack),
        });
        log(
          `  ${result.correct}/${result.clients} correct, median ${fixed(result.medianSeconds, 1)} s`,
        );
        results.push(result);
      }
      rows.push(...crowdRows(results, `${BIG_IMAGE.repository}:${BIG_IMAGE.tag}`, bigLayer.size));
      notes.push(
        `Many clients: ${SETTINGS.clients} Node clients (bench/pull-client.mjs) start together, each with its own ping, anonymous token, manifest and blob GETs, every body's sha256 checked; first against a freshly started proxy (plain workerd, empty Cache API), then the pass-through Worker in front of the registry (it follows the 307 to the CDN itself), then the same ${SETTINGS.clients} against the now warm proxy. Upstream counts are what the registry's counting proxy, the token server and the CDN saw during each batch. Without R2 the layer goes upstream every time (above the 4 MiB the proxy hashes itself).`,
      );
      await stopRunning();
      const wrong = results.filter((r) => r.correct !== r.clients);
      if (wrong.length) {
        throw new Error(
          wrong
            .map((r) => `${r.name}: ${r.clients - r.correct} wrong pulls: ${r.problems.join("; ")}`)
            .join(" / "),
        );
      }
    });

    await section("Pull (skopeo)", async () => {
      log(
        `Pulls: ${SETTINGS.pullPairs} cold/warm pairs of ${SMALL_IMAGE.repository}:${SMALL_IMAGE.tag}...`,
      );
      const pairs = await measurePulls({
        stack: /** @type {Stack} */ (stack),
        repositoryAndTag: `${SMALL_IMAGE.repository}:${SMALL_IMAGE.tag}`,
        pairs: SETTINGS.pullPairs,
        dir: join(temp.path, "pulls"),
        log,
      });
      rows.push(...pullRows(pairs, `${SMALL_IMAGE.repository}:${SMALL_IMAGE.tag}`, notes));
    });

    await section("Big blob with CACHE_BUCKET (miniflare)", async () => {
      if (!bigLayer) throw new Error("the big blob's digest is unknown (throughput failed)");
      if (!deployed) throw new Error("no bundle to measure: the build failed");
      log("Big blob under miniflare with CACHE_BUCKET: cold (tee to R2), then warm...");
      const result = await measureFill({
        stack: /** @type {Stack} */ (stack),
        repository: BIG_IMAGE.repository,
        tag: BIG_IMAGE.tag,
        layer: bigLayer,
        cdnPath: cdnPath(bigLayer.digest),
        warmRounds: Math.min(SETTINGS.rounds, 3),
        slowMibPerSecond: SETTINGS.slowMiBps,
        bundle: deployed.file,
        passThroughModule: PASS_THROUGH,
        putModule: join(BENCH_DIR, "r2-put-worker.mjs"),
        settings,
        dir: join(temp.path, "fill"),
        log,
      });
      rows.push(...fillRows(result, bigLayer.size));
      notes.push(
        "CACHE_BUCKET: plain workerd cannot serve an R2 binding, so these rows run the same bundle under miniflare's programmatic API (wrangler dev's engine without wrangler's proxy in front), with the R2 bucket persisted to a temp dir, next to the pass-through Worker and a Worker that only puts the blob into R2 (bench/r2-put-worker.mjs) under the same miniflare. RSS is the workerd process miniflare starts, which also runs miniflare's R2 simulator (JavaScript, storing to local files), so the put alone is the baseline for the proxy's cold GET: its throughput (workerd's tee moves at the slower branch's pace, so a cold GET goes no faster than the put) and its RSS growth (the simulator's, which grows with the blob). The rows show that the cold GET's tee to R2 completes and stores the blob, what a slow client costs, and that warm GETs never reach the upstream; they do not measure Cloudflare's R2 (its speed, its limits, or how its put takes a stream).",
      );
    });
  } finally {
    await stopRunning();
    await stack?.stop().catch((error) => log(`stopping the stack: ${error}`));
    await temp.remove();
  }

  // Bundle rows were measured first but read best last.
  rows.sort((a, b) => Number(a.group === "Bundle size") - Number(b.group === "Bundle size"));
  notes.push(`Run took ${fixed((now() - started) / 1000)} s.`);
  const report = renderReport({
    machine,
    settings: [
      `blob ${SETTINGS.blobMiB} MiB (BENCH_BLOB_MIB)`,
      `${SETTINGS.rounds} rounds (BENCH_ROUNDS)`,
      `${SETTINGS.cpuRequests} requests per CPU round (BENCH_CPU_REQUESTS)`,
      `${SETTINGS.pullPairs} cold/warm pull pairs (BENCH_PULL_PAIRS)`,
      `huge blob ${SETTINGS.bigMiB} MiB (BENCH_BIG_MIB), ${SETTINGS.bigRounds} rounds (BENCH_BIG_ROUNDS)`,
      `slow client ${SETTINGS.slowMiBps} MiB/s (BENCH_SLOW_MIBPS)`,
      `${SETTINGS.clients} simultaneous clients (BENCH_CLIENTS)`,
      `compatibility date ${settings.compatibilityDate}`,
      ...(SMOKE
        ? ["SMOKE RUN (BENCH_SMOKE=1): sizes too small for the timings to mean anything"]
        : []),
    ].join(", "),
    rows,
    notes: [
      "Medians over the rounds; throughput ratios are medians of the per-round ratios (the targets run in turn within each round).",
      "Throughput, CPU, the huge blob and many clients: the bundle `wrangler deploy --dry-run` builds, under plain `workerd serve` (no wrangler, no miniflare); skopeo pulls: `wrangler dev` with an R2 bucket bound as CACHE_BUCKET and fresh state per cold pull; CACHE_BUCKET rows: miniflare. Targets are informative: a ✗ never fails the run, only wrong bytes, wrong statuses and crashes do.",
      ...notes,
    ],
  });
  process.stdout.write(`\n${report}`);
  await writeFile(OUTPUT, report);
  log(`\nWritten to ${OUTPUT}`);
  if (failed) {
    log("The benchmark FAILED: see the error rows above.");
    process.exitCode = 1;
  }
  // Each part checks the bytes and statuses it measures: the count for CI's log.
  process.stdout.write(`\nbench: ${passedSections} passed, ${failedSections} failed\n`);
}

/**
 * The manifest the proxy serves for an image (anonymous pull).
 * @param {string} proxyUrl
 * @param {{ repository: string, tag: string }} image
 * @returns {Promise<{ config?: { digest: string }, layers?: { digest: string, size: number }[] }>}
 */
async function fetchManifest(proxyUrl, { repository, tag }) {
  const url = `${proxyUrl}/v2/${repository}/manifests/${tag}`;
  const response = await fetch(url, { headers: { accept: MANIFEST_ACCEPT } });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return /** @type {Promise<{ config?: { digest: string }, layers?: { digest: string, size: number }[] }>} */ (
    response.json()
  );
}

/**
 * "MISS ×8"-style summary of the X-Cache answers the proxy gave.
 * @param {import("./throughput.mjs").TargetResult[]} results
 */
function cacheStatuses(results) {
  const statuses = Object.entries(results.find((r) => r.name === "proxy")?.cacheStatuses ?? {});
  return statuses.map(([status, n]) => `${status} ×${n}`).join(", ");
}

/**
 * Where the CDN (a static server over the registry's storage root) serves a blob: distribution's
 * filesystem layout, as the registry's redirect middleware points at it.
 * @param {string} digest  sha256:<hex>
 */
function cdnPath(digest) {
  const hex = digest.replace(/^sha256:/, "");
  return `/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
}

await main();
