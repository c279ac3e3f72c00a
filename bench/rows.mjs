// Turns the measurements into table rows: the value as measured, the target next to it, and whether it is met.
import { KiB, MiB, fixed, median, medianRecord } from "./stats.mjs";

/** @typedef {import("./table.mjs").Row} Row */

/**
 * @param {string} variant
 * @param {import("./workerd.mjs").Bundle} bundle
 * @returns {Row}
 */
export function bundleRow(variant, bundle) {
  return {
    group: "Bundle size",
    metric: `${variant}: bytes / gzip`,
    measured: `${fixed(bundle.bytes / KiB, 1)} KiB / ${fixed(bundle.gzipBytes / KiB, 1)} KiB`,
    target: "gzip < 30 KiB",
    met: bundle.gzipBytes < 30 * KiB,
  };
}

/**
 * @param {import("./throughput.mjs").TargetResult[]} results
 * @param {number} size
 * @returns {Row[]}
 */
export function throughputRows(results, size) {
  const group = `Blob throughput (${fixed(size / MiB)} MiB)`;
  const byName = Object.fromEntries(results.map((result) => [result.name, result]));
  const rate = (/** @type {string} */ name) => byName[name].medianMibPerSecond;
  // Rounds run the targets in turn, so each round's pair shares the machine's load of the moment:
  // the median of the per-round ratios cancels the drift that a ratio of medians keeps.
  const pairedRatio = (/** @type {string} */ a, /** @type {string} */ b) =>
    median(byName[a].mibPerSecond.map((rateA, round) => rateA / byName[b].mibPerSecond[round]));
  const vsPassThrough = pairedRatio("proxy", "pass-through");
  const proxyRss = byName.proxy.rssGrowth ?? NaN;
  return [
    { group, metric: "direct from the CDN", measured: `${fixed(rate("direct"))} MiB/s` },
    { group, metric: "pass-through Worker", measured: `${fixed(rate("pass-through"))} MiB/s` },
    { group, metric: "proxy", measured: `${fixed(rate("proxy"))} MiB/s` },
    {
      group,
      metric: "proxy ÷ pass-through",
      measured: fixed(vsPassThrough, 2),
      target: "≥ 0.9",
      met: vsPassThrough >= 0.9,
    },
    { group, metric: "proxy ÷ direct", measured: fixed(pairedRatio("proxy", "direct"), 2) },
    {
      group,
      metric: "proxy workerd: peak RSS growth",
      measured: `${fixed(proxyRss / MiB, 1)} MiB`,
      target: "< 32 MiB",
      met: proxyRss < 32 * MiB,
    },
    {
      group,
      metric: "pass-through workerd: peak RSS growth",
      measured: `${fixed((byName["pass-through"].rssGrowth ?? NaN) / MiB, 1)} MiB`,
    },
  ];
}

/**
 * @param {import("./fill.mjs").FillResult} result
 * @returns {Row[]}
 */
export function fillRows({ transfers, storedAfterMs }) {
  const group = "Big blob via wrangler dev + R2 (CACHE_BUCKET)";
  const cold = transfers.filter((t) => t.kind === "cold");
  const warm = transfers.filter((t) => t.kind === "warm");
  /** @param {typeof transfers} list */
  const statuses = (list) => [...new Set(list.map((t) => t.cacheStatus))].join("/");
  const warmUpstream = median(warm.map((t) => t.upstreamBlobRequests + t.cdnRequests));
  return [
    {
      group,
      metric: `cold GET (X-Cache ${statuses(cold)})`,
      measured: `${fixed(median(cold.map((t) => t.mibPerSecond)))} MiB/s`,
    },
    {
      group,
      metric: `warm GET (X-Cache ${statuses(warm)})`,
      measured: `${fixed(median(warm.map((t) => t.mibPerSecond)))} MiB/s`,
    },
    {
      group,
      metric: "warm: upstream blob GET+HEAD and CDN requests",
      measured: fixed(warmUpstream),
      target: "0",
      met: warmUpstream === 0,
    },
    {
      group,
      metric: "stored (HEAD says HIT) after the cold GET's last byte",
      measured: Number.isFinite(storedAfterMs)
        ? `${fixed(storedAfterMs / 1000, 1)} s`
        : "never (60 s)",
    },
  ];
}

/**
 * @param {import("./cpu.mjs").CpuResult[]} results
 * @returns {Row[]}
 */
export function cpuRows(results) {
  const group = "CPU per request (workerd utime+stime)";
  return results.map((result) => ({
    group,
    metric: `${result.name}: manifest/blob HEAD+GET`,
    measured: `${fixed(result.medianMicrosPerRequest)} µs`,
    ...(result.name === "proxy" && {
      target: "< 1000 µs",
      met: result.medianMicrosPerRequest < 1000,
    }),
  }));
}

/**
 * @param {import("./pull-counts.mjs").PullPair[]} pairs
 * @param {string} image  repository:tag that was pulled
 * @param {string[]} notes  gets a note when counts differ between pairs
 * @returns {Row[]}
 */
export function pullRows(pairs, image, notes) {
  const cold = medianRecord(pairs.map((pair) => pair.cold.counts));
  const warm = medianRecord(pairs.map((pair) => pair.warm.counts));
  for (const kind of /** @type {const} */ (["cold", "warm"])) {
    const distinct = new Set(pairs.map((pair) => JSON.stringify(pair[kind].counts)));
    if (distinct.size > 1)
      notes.push(`Pull: ${kind} request counts varied between pairs (medians shown).`);
  }
  const group = `Requests per pull (skopeo, ${image})`;
  /** @param {import("./pull-counts.mjs").PullCounts} c */
  const client = (c) =>
    `${c.clientTotal} (ping ${c.clientPing}, manifest GET ${c.clientManifestGet} HEAD ${c.clientManifestHead}, blob GET ${c.clientBlobGet} HEAD ${c.clientBlobHead}, token+other ${c.clientOther})`;
  /** @param {import("./pull-counts.mjs").PullCounts} c */
  const upstream = (c) =>
    `${c.upstreamTotal} (ping ${c.upstreamPing}, manifest GET ${c.upstreamManifestGet} HEAD ${c.upstreamManifestHead}, blob GET ${c.upstreamBlobGet} HEAD ${c.upstreamBlobHead}, other ${c.upstreamOther}); token server ${c.token} (anonymous ${c.tokenAnonymous}); CDN ${c.cdn}`;
  const warmBlobs = warm.upstreamBlobGet + warm.upstreamBlobHead;
  const coldSeconds = median(pairs.map((pair) => pair.cold.seconds));
  const warmSeconds = median(pairs.map((pair) => pair.warm.seconds));
  const timeGroup = "Pull time (skopeo)";
  return [
    { group, metric: "client → proxy, cold", measured: client(cold) },
    { group, metric: "client → proxy, warm", measured: client(warm) },
    { group, metric: "proxy → upstream, cold", measured: upstream(cold) },
    { group, metric: "proxy → upstream, warm", measured: upstream(warm) },
    {
      group,
      metric: "warm: upstream blob GET+HEAD",
      measured: String(warmBlobs),
      target: "0",
      met: warmBlobs === 0,
    },
    {
      group,
      metric: "warm: upstream manifest GET",
      measured: String(warm.upstreamManifestGet),
      target: "0",
      met: warm.upstreamManifestGet === 0,
    },
    {
      group,
      metric: "warm: upstream token requests (anonymous pull)",
      measured: String(warm.token),
      target: "0",
      met: warm.token === 0,
    },
    { group: timeGroup, metric: "cold pull (fresh proxy)", measured: `${fixed(coldSeconds, 2)} s` },
    { group: timeGroup, metric: "warm pull (same proxy)", measured: `${fixed(warmSeconds, 2)} s` },
    { group: timeGroup, metric: "warm ÷ cold", measured: fixed(warmSeconds / coldSeconds, 2) },
  ];
}
