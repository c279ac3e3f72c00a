// `npm run bench`: measures the proxy side by side with its baselines and prints one markdown table (also written to bench/results.md).
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { INSTALL_HINT, missingTools } from "../test/e2e/fixture/prerequisites.mjs";
import { startStack } from "../test/e2e/fixture/stack.mjs";
import { makeTempDir } from "../test/e2e/fixture/tempdir.mjs";
import { startCacheService } from "./cache-service.mjs";
import { measureCpuPerRequest } from "./cpu.mjs";
import { measureFill } from "./fill.mjs";
import { measurePulls } from "./pull-counts.mjs";
import { MiB, fixed, now } from "./stats.mjs";
import { bundleRow, cpuRows, fillRows, pullRows, throughputRows } from "./rows.mjs";
import { describeMachine, renderReport } from "./table.mjs";
import { measureThroughput } from "./throughput.mjs";
import {
  buildBundle,
  readWranglerSettings,
  startWorkerd,
  workerdBinary,
  workerdVersion,
} from "./workerd.mjs";
import { MANIFEST_ACCEPT } from "../test/e2e/fixture/images.mjs";

const BENCH_DIR = fileURLToPath(new URL(".", import.meta.url));

/** Every knob, from the environment. */
const SETTINGS = {
  /** Size of the big blob's random content; the issue asks for at least 256. */
  blobMiB: envInt("BENCH_BLOB_MIB", 256),
  /** Timed throughput rounds (after one warm-up) and CPU rounds. */
  rounds: envInt("BENCH_ROUNDS", 7),
  /** Requests per CPU round and target. */
  cpuRequests: envInt("BENCH_CPU_REQUESTS", 300),
  /** Cold/warm skopeo pull pairs, each with a freshly started proxy. */
  pullPairs: envInt("BENCH_PULL_PAIRS", 3),
};

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
  /**
   * Runs one part of the benchmark; a failure becomes a row and a note, and the rest still runs.
   * @param {string} group
   * @param {() => Promise<void>} part
   */
  const section = async (group, part) => {
    try {
      await part();
    } catch (error) {
      failed = true;
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
  /** @type {Workerd[]} */
  const workerds = [];
  /** @type {import("./cache-service.mjs").CacheService | undefined} */
  let cache;
  try {
    log("Building the bundle (wrangler deploy --dry-run)...");
    /** @type {import("./workerd.mjs").Bundle | undefined} */
    let deployed;
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

    log(`Starting plain workerd (${workerdBinary()}): the proxy and a pass-through Worker...`);
    if (!deployed) throw new Error("no bundle to measure: the build failed");
    // Plain workerd has no Cache API of its own: give the proxy one, so "warm" means cached.
    cache = await startCacheService();
    const proxy = await startWorkerd({
      dir: join(temp.path, "workerd-proxy"),
      name: "proxy",
      modulePath: deployed.file,
      settings,
      cacheAddress: cache.address,
      bindings: {
        ...settings.vars,
        UPSTREAMS: JSON.stringify({ docker: hub.url, ghcr: ghcr.url }),
        DEFAULT_ROUTE: "docker",
      },
    });
    workerds.push(proxy);
    const passThrough = await startWorkerd({
      dir: join(temp.path, "workerd-pass-through"),
      name: "pass-through",
      modulePath: join(BENCH_DIR, "passthrough-worker.mjs"),
      settings,
      bindings: { UPSTREAM: cdn.url },
    });
    workerds.push(passThrough);

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
      const statuses = Object.entries(results.find((r) => r.name === "proxy")?.cacheStatuses ?? {});
      notes.push(
        `Throughput: the proxy answered the big blob (no CACHE_BUCKET in plain workerd) with X-Cache ${statuses.map(([status, n]) => `${status} ×${n}`).join(", ")}.`,
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
      cache?.resetCounts();
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
      const { hits, misses, puts } = cache?.counts() ?? { hits: 0, misses: 0, puts: 0 };
      notes.push(
        `CPU: plain workerd got an in-memory Cache API (bench/cache-service.mjs); during the CPU rounds it saw ${hits} hits, ${misses} misses, ${puts} puts.`,
      );
      for (const result of results.filter((r) => r.failures)) {
        notes.push(
          `CPU: ${result.name} answered ${result.failures} requests with a non-2xx status.`,
        );
      }
    });

    // The pulls run under wrangler dev; plain workerd is no longer needed.
    for (const workerd of workerds.splice(0)) await workerd.stop();

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

    await section("Blob fill (wrangler dev + R2)", async () => {
      if (!bigLayer) throw new Error("the big blob's digest is unknown (throughput failed)");
      log("Big blob through wrangler dev with CACHE_BUCKET: cold (fills R2), then warm...");
      const result = await measureFill({
        stack: /** @type {Stack} */ (stack),
        repository: BIG_IMAGE.repository,
        tag: BIG_IMAGE.tag,
        layer: bigLayer,
        warmRounds: Math.min(SETTINGS.rounds, 3),
        dir: join(temp.path, "fill"),
        log,
      });
      rows.push(...fillRows(result));
      notes.push(
        "Big blob via wrangler dev: a cold GET is bound by wrangler dev's outbound fetch (a bare `fetch` pass-through Worker under wrangler dev also runs at a few MiB/s and grows workerd by hundreds of MiB), so neither its speed nor its memory says anything about the proxy; the rows show that the copy gets stored and that warm GETs never reach the upstream.",
      );
    });
  } finally {
    for (const workerd of workerds.splice(0)) await workerd.stop().catch(() => {});
    await cache?.stop().catch(() => {});
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
      `compatibility date ${settings.compatibilityDate}`,
    ].join(", "),
    rows,
    notes: [
      "Medians over the rounds; throughput ratios are medians of the per-round ratios (the targets run in turn within each round).",
      "Throughput and CPU: the built bundle under plain `workerd serve`; pulls: `wrangler dev` with an R2 bucket bound as CACHE_BUCKET and fresh state per cold pull.",
      ...notes,
    ],
  });
  process.stdout.write(`\n${report}`);
  await writeFile(join(BENCH_DIR, "results.md"), report);
  log(`\nWritten to ${join(BENCH_DIR, "results.md")}`);
  if (failed) process.exitCode = 1;
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
 * Where the CDN (a static server over the registry's storage root) serves a blob: distribution's
 * filesystem layout, as the registry's redirect middleware points at it.
 * @param {string} digest  sha256:<hex>
 */
function cdnPath(digest) {
  const hex = digest.replace(/^sha256:/, "");
  return `/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
}

await main();
