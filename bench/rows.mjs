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
 * @param {string} [label]  what the group is called
 * @returns {Row[]}
 */
export function throughputRows(results, size, label = "Blob throughput") {
  const group = `${label} (${fixed(size / MiB)} MiB)`;
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
 * The slow client's rows: the proxy's and the pass-through's RSS growth while a client reads slowly.
 * @param {import("./throughput.mjs").SlowResult[]} results
 * @param {number} size
 * @param {number} mibPerSecond  the client's limit
 * @param {string} label
 * @returns {Row[]}
 */
export function slowClientRows(results, size, mibPerSecond, label) {
  const group = `${label} (${fixed(size / MiB)} MiB)`;
  return results.map((result) => {
    const growth = result.rssGrowth ?? NaN;
    return {
      group,
      metric: `${result.name} workerd: peak RSS growth, client reading ${mibPerSecond} MiB/s (half the body / all)`,
      measured: `${fixed((result.rssGrowthHalfway ?? NaN) / MiB, 1)} MiB / ${fixed(growth / MiB, 1)} MiB`,
      ...(result.name === "proxy" && { target: "< 32 MiB", met: growth < 32 * MiB }),
    };
  });
}

/**
 * @param {import("./fill.mjs").FillResult} result
 * @param {number} size
 * @returns {Row[]}
 */
export function fillRows(result, size) {
  const { transfers, storedAfterMs, passThrough, slowCold, slowPassThrough } = result;
  const group = `Big blob with CACHE_BUCKET (miniflare's R2, ${fixed(size / MiB)} MiB)`;
  const cold = transfers.filter((t) => t.kind === "cold");
  const warm = transfers.filter((t) => t.kind === "warm");
  /** @param {typeof transfers} list */
  const statuses = (list) => [...new Set(list.map((t) => t.cacheStatus))].join("/");
  /** @param {typeof transfers} list */
  const rate = (list) => median(list.map((t) => t.mibPerSecond));
  /** @param {typeof transfers} list */
  const growth = (list) => Math.max(...list.map((t) => t.rssGrowth));
  const warmUpstream = median(warm.map((t) => t.upstreamBlobRequests + t.cdnRequests));
  /** @param {number} ms */
  const stored = (ms) => (Number.isFinite(ms) ? `${fixed(ms / 1000, 1)} s` : "never (60 s)");
  const coldGrowth = growth(cold);
  const slowGrowth = slowCold.rssGrowth ?? NaN;
  const putGrowth = result.putAlone.rssGrowth;
  return [
    {
      group,
      metric: "R2 put alone (a Worker that only stores the blob): throughput / peak RSS growth",
      measured: `${fixed(result.putAlone.mibPerSecond)} MiB/s / ${fixed(putGrowth / MiB, 1)} MiB`,
    },
    {
      group,
      metric: "pass-through Worker under miniflare: throughput / peak RSS growth",
      measured: `${fixed(passThrough.medianMibPerSecond)} MiB/s / ${fixed((passThrough.rssGrowth ?? NaN) / MiB, 1)} MiB`,
    },
    {
      group,
      metric: `proxy, cold GET (X-Cache ${statuses(cold)}, tee to R2): throughput / peak RSS growth`,
      measured: `${fixed(rate(cold))} MiB/s / ${fixed(coldGrowth / MiB, 1)} MiB`,
    },
    {
      group,
      metric: "proxy cold ÷ pass-through; proxy cold ÷ R2 put alone",
      measured: `${fixed(rate(cold) / passThrough.medianMibPerSecond, 2)}; ${fixed(rate(cold) / result.putAlone.mibPerSecond, 2)}`,
    },
    {
      group,
      metric: "stored (HEAD says HIT) after the cold GET's last byte",
      measured: stored(storedAfterMs),
      target: "stored",
      met: Number.isFinite(storedAfterMs),
    },
    {
      group,
      metric: `proxy, warm GET (X-Cache ${statuses(warm)}): throughput / peak RSS growth`,
      measured: `${fixed(rate(warm))} MiB/s / ${fixed(growth(warm) / MiB, 1)} MiB`,
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
      metric: `proxy, cold GET by a client reading ${result.slowMibPerSecond} MiB/s: peak RSS growth (half the body / all)`,
      measured: `${fixed((slowCold.rssGrowthHalfway ?? NaN) / MiB, 1)} MiB / ${fixed(slowGrowth / MiB, 1)} MiB`,
      target: "< put alone + 32 MiB",
      met: slowGrowth < putGrowth + 32 * MiB,
    },
    {
      group,
      metric: `pass-through, client reading ${result.slowMibPerSecond} MiB/s: peak RSS growth (half / all)`,
      measured: `${fixed((slowPassThrough.rssGrowthHalfway ?? NaN) / MiB, 1)} MiB / ${fixed((slowPassThrough.rssGrowth ?? NaN) / MiB, 1)} MiB`,
    },
    {
      group,
      metric: "slow cold GET: stored after its last byte",
      measured: stored(result.slowStoredAfterMs),
      target: "stored",
      met: Number.isFinite(result.slowStoredAfterMs),
    },
  ];
}

/**
 * @param {import("./many-clients.mjs").CrowdResult[]} results
 * @param {string} image  repository:tag
 * @param {number} layerBytes
 * @returns {Row[]}
 */
export function crowdRows(results, image, layerBytes) {
  const clients = results[0]?.clients ?? 0;
  const group = `${clients} clients pull one image at once (${image}, ${fixed(layerBytes / MiB)} MiB layer)`;
  return results.flatMap((result) => {
    const u = result.upstream;
    const isProxy = result.name.startsWith("proxy");
    return [
      {
        group,
        metric: `${result.name}: correct pulls (every digest checked)`,
        measured: `${result.correct} of ${result.clients}${result.problems.length ? ` (${result.problems[0]})` : ""}`,
        target: "all",
        met: result.correct === result.clients,
      },
      {
        group,
        metric: `${result.name}: pull time median / slowest; workerd peak RSS growth`,
        measured: `${fixed(result.medianSeconds, 1)} s / ${fixed(result.maxSeconds, 1)} s; ${fixed(result.rssGrowth / MiB, 1)} MiB`,
        ...(isProxy && { target: "< 64 MiB", met: result.rssGrowth < 64 * MiB }),
      },
      {
        group,
        metric: `${result.name}: upstream requests`,
        measured: `registry: ping ${u.ping}, manifest GET ${u.manifestGet} HEAD ${u.manifestHead}, blob GET ${u.blobGet} HEAD ${u.blobHead}, other ${u.other}; token server ${u.token}; CDN GET ${u.cdnGet}`,
      },
    ];
  });
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
