// npm run stats: what the proxy did over a period, read from its Workers Analytics Engine dataset
// through Cloudflare's SQL API. The Worker writes one data point per request (src/log.ts); the
// columns are named in src/metric-columns.json, which this script reads too, so its SQL and the
// Worker cannot disagree about which column is which.
//
// SQL API: https://developers.cloudflare.com/analytics/analytics-engine/sql-api/
// Counts and sums are weighted by _sample_interval, as the docs ask of sampled data:
// https://developers.cloudflare.com/analytics/analytics-engine/sampling/
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const USAGE = `Usage: npm run stats -- [--since 24h] [--dataset NAME] [--config wrangler.toml] [--sql]

  --since PERIOD   the period to report: <n>m, <n>h or <n>d, up to 90d (default 24h)
  --dataset NAME   the Analytics Engine dataset (default: the METRICS binding in wrangler.toml)
  --config FILE    the wrangler.toml to read the binding from (default: this repository's)
  --sql            print the SQL of each figure and exit; needs no credentials

Environment:
  CLOUDFLARE_ACCOUNT_ID    the account the Worker runs in
  CLOUDFLARE_API_TOKEN     an API token with Account > Account Analytics > Read
  CLOUDFLARE_API_BASE_URL  the API's base URL, as wrangler reads it (for tests; default
                           https://api.cloudflare.com/client/v4)`;

const DEFAULT_API = "https://api.cloudflare.com/client/v4";
const ROOT = new URL("..", import.meta.url);
/** Analytics Engine keeps data points for three months (docs, "Limits"). */
const MAX_DAYS = 90;
/** @type {Record<"m" | "h" | "d", [unit: string, days: number]>} */
const UNITS = { m: ["MINUTE", 1 / 1440], h: ["HOUR", 1 / 24], d: ["DAY", 1] };
/** Where Docker Hub's `ratelimit-remaining` comes from: the registry as src/upstreams.ts names it. */
const DOCKER_HUB = "docker.io";
const TOP = 10;

/** `blob<n>` / `double<n>` for a column name. @typedef {(name: string) => string} Columns */
/** A `--since` period: its SQL interval and a label. @typedef {{ sql: string, label: string }} Period */
/** One query of the table. @typedef {{ name: string, about: string, sql: string }} Query */
/** Where and as whom the SQL API is asked. @typedef {{ url: URL, account: string, token: string }} Api */
/** One row of the SQL API's JSON answer. @typedef {Record<string, unknown>} Row */
/**
 * @typedef {object} Totals
 * @property {number} requests
 * @property {number} pulls
 * @property {number} cache_hits
 * @property {number} cache_misses
 * @property {number} bytes_from_cache
 * @property {number} bytes_from_upstreams
 * @property {number} upstream_429
 * @property {number} upstream_5xx
 */
/**
 * What the table shows, as read from the SQL API.
 * @typedef {object} Figures
 * @property {Totals} totals
 * @property {{ lowest: number, at: string } | undefined} rateLimit
 * @property {{ name: string, pulls: number }[]} top
 */

/** An error the user can act on: printed as one line, never with a stack. */
class StatsError extends Error {
  /**
   * @param {string} message
   * @param {number} [exitCode]  the process's exit code (2: a usage error)
   */
  constructor(message, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
    /** @type {number | undefined} The HTTP status, when the SQL API answered an error. */
    this.status = undefined;
  }
}

// ---- columns and SQL -------------------------------------------------------------------------

/**
 * `blob<n>` / `double<n>` for a column name of src/metric-columns.json.
 * @param {URL | string} [file]
 * @returns {Columns}
 */
function columnsOf(file = new URL("src/metric-columns.json", ROOT)) {
  const { blobs, doubles } = JSON.parse(readFileSync(file, "utf8"));
  return (name) => {
    if (blobs.includes(name)) return `blob${blobs.indexOf(name) + 1}`;
    if (doubles.includes(name)) return `double${doubles.indexOf(name) + 1}`;
    throw new Error(`src/metric-columns.json names no column ${name}`);
  };
}

/**
 * `24h` → the SQL interval and a label; refuses anything else, and more than the retention.
 * @param {string | undefined} text
 * @returns {Period}
 */
function parsePeriod(text) {
  const m = /^(\d{1,6})([mhd])$/.exec(text ?? "");
  if (!m || Number(m[1]) === 0) {
    throw new StatsError(`--since ${text}: expected <n>m, <n>h or <n>d, such as 24h or 7d`, 2);
  }
  const n = Number(m[1]);
  const [unit, days] = UNITS[/** @type {"m" | "h" | "d"} */ (m[2])];
  if (n * days > MAX_DAYS) {
    throw new StatsError(
      `--since ${text}: Analytics Engine keeps data for three months; ask for ${MAX_DAYS}d or less`,
      2,
    );
  }
  return {
    sql: `INTERVAL '${n}' ${unit}`,
    label: `${n} ${unit.toLowerCase()}${n === 1 ? "" : "s"}`,
  };
}

/**
 * The queries behind the table, each with what it answers. Pure: `--sql` prints exactly these.
 * @param {string} dataset
 * @param {Period} period
 * @param {Columns} [col]
 * @returns {[totals: Query, rateLimit: Query, top: Query]}
 */
function buildQueries(dataset, period, col = columnsOf()) {
  const since = `timestamp > NOW() - ${period.sql}`;
  const pull = `${col("endpoint")} = 'manifest' AND ${col("method")} = 'GET' AND ${col("status")} >= 200 AND ${col("status")} < 300`;
  const cached = `${col("cache")} IN ('HIT', 'STALE')`;
  const missed = `${col("cache")} = 'MISS'`;
  const upstream = col("upstreamStatus");
  return [
    {
      name: "totals",
      about:
        "requests; pulls (manifest GETs answered 2xx); cache HIT+STALE and MISS; bytes by source; upstream 429s and 5xx",
      sql: [
        "SELECT",
        "  SUM(_sample_interval) AS requests,",
        `  SUM(if(${pull}, _sample_interval, 0)) AS pulls,`,
        `  SUM(if(${cached}, _sample_interval, 0)) AS cache_hits,`,
        `  SUM(if(${missed}, _sample_interval, 0)) AS cache_misses,`,
        `  SUM(if(${cached}, _sample_interval * ${col("bytes")}, 0)) AS bytes_from_cache,`,
        `  SUM(if(${missed}, _sample_interval * ${col("bytes")}, 0)) AS bytes_from_upstreams,`,
        `  SUM(if(${upstream} = 429, _sample_interval, 0)) AS upstream_429,`,
        `  SUM(if(${upstream} >= 500 AND ${upstream} < 600, _sample_interval, 0)) AS upstream_5xx`,
        `FROM ${dataset}`,
        `WHERE ${since}`,
      ].join("\n"),
    },
    {
      name: "rate-limit",
      about: "Docker Hub's lowest ratelimit-remaining, and when (-1 is written when it sent none)",
      sql: [
        "SELECT",
        "  SUM(_sample_interval) AS answers,",
        `  MIN(${col("rateLimitRemaining")}) AS lowest,`,
        `  argMin(timestamp, ${col("rateLimitRemaining")}) AS lowest_at`,
        `FROM ${dataset}`,
        `WHERE ${since} AND ${col("registry")} = '${DOCKER_HUB}' AND ${col("rateLimitRemaining")} >= 0`,
      ].join("\n"),
    },
    {
      name: "top",
      about: `the top ${TOP} repositories by pulls`,
      sql: [
        "SELECT",
        `  ${col("registry")} AS registry,`,
        `  ${col("repository")} AS repository,`,
        "  SUM(_sample_interval) AS pulls",
        `FROM ${dataset}`,
        `WHERE ${since} AND ${pull}`,
        "GROUP BY registry, repository",
        "ORDER BY pulls DESC, registry, repository",
        `LIMIT ${TOP}`,
      ].join("\n"),
    },
  ];
}

// ---- configuration ---------------------------------------------------------------------------

/**
 * The dataset bound as METRICS in wrangler.toml's top-level `[[analytics_engine_datasets]]`.
 * @param {string} file
 * @returns {string}
 */
function datasetFromWrangler(file) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const error = /** @type {NodeJS.ErrnoException} */ (e);
    throw new StatsError(
      `cannot read ${file} (${error.code ?? error.message}): pass --dataset NAME`,
    );
  }
  /** @typedef {{ binding?: string, dataset?: string }} DatasetBlock */
  /** @type {DatasetBlock | null} */
  let block = null;
  /** @type {DatasetBlock[]} */
  const blocks = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("#") || line === "") continue;
    if (/^\[\[\s*analytics_engine_datasets\s*\]\]/.test(line)) blocks.push((block = {}));
    else if (line.startsWith("[")) block = null;
    else if (block) {
      const kv = /^(binding|dataset)\s*=\s*(?:"([^"]*)"|'([^']*)')/.exec(line);
      if (kv) block[/** @type {"binding" | "dataset"} */ (kv[1])] = kv[2] ?? kv[3];
    }
  }
  const metrics = blocks.find((b) => b.binding === "METRICS");
  if (!metrics) {
    throw new StatsError(
      `${file} binds no METRICS dataset: uncomment its [[analytics_engine_datasets]] block and deploy, or pass --dataset NAME`,
    );
  }
  if (!metrics.dataset) {
    throw new StatsError(`${file} binds METRICS without a dataset name: pass --dataset NAME`);
  }
  return metrics.dataset;
}

/**
 * Dataset names go into the SQL text as they are, so only plain identifiers are accepted.
 * @param {string} name
 * @returns {string}
 */
function checkDataset(name) {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) {
    throw new StatsError(
      `dataset ${JSON.stringify(name)}: this script reads datasets named with letters, digits and underscores`,
      2,
    );
  }
  return name;
}

/**
 * The SQL API's URL; plain http only to this machine (the tests' fake), never with a real token elsewhere.
 * @param {NodeJS.ProcessEnv} env
 * @param {string} account
 * @returns {URL}
 */
function apiUrl(env, account) {
  const base = (env.CLOUDFLARE_API_BASE_URL || DEFAULT_API).replace(/\/+$/, "");
  let url;
  try {
    url = new URL(`${base}/accounts/${account}/analytics_engine/sql`);
  } catch {
    throw new StatsError(`CLOUDFLARE_API_BASE_URL is not a URL`);
  }
  const local = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) {
    throw new StatsError(`CLOUDFLARE_API_BASE_URL must be https (plain http only to localhost)`);
  }
  return url;
}

/**
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ account: string, token: string }}
 */
function credentials(env) {
  const account = env.CLOUDFLARE_ACCOUNT_ID?.trim();
  const token = env.CLOUDFLARE_API_TOKEN?.trim();
  if (!account) {
    throw new StatsError(
      "CLOUDFLARE_ACCOUNT_ID is not set: export the ID of the account the Worker runs in (`npx wrangler whoami` lists it)",
    );
  }
  if (!/^[0-9a-f]{32}$/i.test(account)) {
    throw new StatsError("CLOUDFLARE_ACCOUNT_ID is not an account ID (32 hexadecimal digits)");
  }
  if (!token) {
    throw new StatsError(
      "CLOUDFLARE_API_TOKEN is not set: create an API token with Account → Account Analytics → Read (https://dash.cloudflare.com/profile/api-tokens) and export it",
    );
  }
  return { account, token };
}

// ---- the SQL API -----------------------------------------------------------------------------

/**
 * Runs one query; answers its rows, or throws what went wrong in words, the token scrubbed.
 * @param {Api} api
 * @param {string} sql
 * @returns {Promise<Row[]>}
 */
async function query(api, sql) {
  let response;
  try {
    response = await fetch(api.url, {
      method: "POST",
      headers: { authorization: `Bearer ${api.token}`, "content-type": "text/plain" },
      body: sql,
      signal: AbortSignal.timeout(60_000),
    });
  } catch (e) {
    // fetch's TypeError carries the network error (ECONNREFUSED, ENOTFOUND, ...) as its cause.
    const error = /** @type {Error & { cause?: NodeJS.ErrnoException }} */ (e);
    const why = error.cause?.code ?? error.cause?.message ?? error.message;
    throw new StatsError(`cannot reach the Cloudflare API at ${api.url.origin}: ${why}`);
  }
  const text = await response.text();
  if (!response.ok) {
    const error = new StatsError(explain(api, response.status, text));
    error.status = response.status;
    throw error;
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new StatsError(`the SQL API answered something that is not JSON: ${excerpt(api, text)}`);
  }
  if (!Array.isArray(body?.data)) {
    throw new StatsError(`the SQL API answered JSON without data rows: ${excerpt(api, text)}`);
  }
  return body.data;
}

/**
 * @param {Api} api
 * @param {number} status
 * @param {string} text
 * @returns {string}
 */
function explain(api, status, text) {
  const said = excerpt(api, text);
  if (status === 401) {
    return `the Cloudflare API refused the token (HTTP 401: ${said}): check CLOUDFLARE_API_TOKEN`;
  }
  if (status === 403) {
    return `the token may not read this account's analytics (HTTP 403: ${said}): it needs Account → Account Analytics → Read for account ${api.account}`;
  }
  return `the SQL API answered HTTP ${status}: ${said}`;
}

/**
 * What the API said, in one short line: its `errors[].message` when it sent JSON.
 * @param {Api} api
 * @param {string} text
 * @returns {string}
 */
function excerpt(api, text) {
  let said = text;
  try {
    const messages = JSON.parse(text)
      ?.errors?.map((/** @type {{ message?: unknown } | null} */ e) => e?.message)
      .filter(Boolean);
    if (messages?.length) said = messages.join("; ");
  } catch {
    // not JSON: the text itself
  }
  said = said.split(api.token).join("[token]").replace(/\s+/g, " ").trim();
  if (said === "") return "no message";
  return said.length > 300 ? `${said.slice(0, 300)}…` : said;
}

/**
 * Whether SHOW TABLES lists the dataset; undefined when that cannot be told.
 * @param {Api} api
 * @param {string} dataset
 * @returns {Promise<boolean | undefined>}
 */
async function datasetExists(api, dataset) {
  try {
    const rows = await query(api, "SHOW TABLES");
    return rows.some((row) => Object.values(row ?? {}).includes(dataset));
  } catch {
    return undefined;
  }
}

/**
 * @param {string} dataset
 * @returns {StatsError}
 */
function missingDataset(dataset) {
  return new StatsError(
    `the dataset ${dataset} does not exist yet: Analytics Engine creates it with the first data point. Bind it as METRICS (wrangler.toml), deploy, and send the proxy a request`,
  );
}

/**
 * A number from a JSON row: the API writes 64-bit integers as strings.
 * @param {Row | undefined} row
 * @param {string} key
 * @returns {number}
 */
function num(row, key) {
  const value = row?.[key];
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN;
  if (!Number.isFinite(n)) {
    throw new StatsError(`the SQL API answered no number for ${key}: ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * @param {Api} api
 * @param {string} dataset
 * @param {ReturnType<typeof buildQueries>} queries
 * @returns {Promise<Figures>}
 */
async function collect(api, dataset, queries) {
  const [totalsQuery, rateLimitQuery, topQuery] = queries;
  let totalsRows;
  try {
    totalsRows = await query(api, totalsQuery.sql);
  } catch (e) {
    const error = /** @type {Error & { status?: number }} */ (e);
    if (error.status && error.status !== 401 && error.status !== 403 && error.status < 500) {
      if ((await datasetExists(api, dataset)) === false) throw missingDataset(dataset);
    }
    throw error;
  }
  const row = totalsRows[0] ?? {};
  const totals = /** @type {Totals} */ ({});
  for (const key of /** @type {(keyof Totals)[]} */ ([
    "requests",
    "pulls",
    "cache_hits",
    "cache_misses",
    "bytes_from_cache",
    "bytes_from_upstreams",
    "upstream_429",
    "upstream_5xx",
  ])) {
    totals[key] = totalsRows.length === 0 ? 0 : num(row, key);
  }
  if (totals.requests === 0 && (await datasetExists(api, dataset)) === false) {
    throw missingDataset(dataset);
  }
  const rateRow = (await query(api, rateLimitQuery.sql))[0];
  const rateLimit =
    rateRow && num(rateRow, "answers") > 0
      ? { lowest: num(rateRow, "lowest"), at: String(rateRow.lowest_at ?? "") }
      : undefined;
  const top = (await query(api, topQuery.sql)).map((r) => ({
    name: [r.registry, r.repository].filter(Boolean).join("/") || "(none)",
    pulls: num(r, "pulls"),
  }));
  return { totals, rateLimit, top };
}

// ---- the table -------------------------------------------------------------------------------

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/**
 * @param {number} n
 * @returns {string}
 */
function formatBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${integer.format(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * @param {{ dataset: string, period: Period } & Figures} figures
 * @returns {string}
 */
function render({ dataset, period, totals, rateLimit, top }) {
  const looked = totals.cache_hits + totals.cache_misses;
  /** @type {[label: string, value: string, note?: string][]} */
  const rows = [
    ["requests", integer.format(totals.requests)],
    ["pulls (manifest GETs answered 2xx)", integer.format(totals.pulls)],
    [
      "cache hit ratio (HIT+STALE of HIT+STALE+MISS)",
      looked ? `${((100 * totals.cache_hits) / looked).toFixed(1)}%` : "—",
      looked ? `${integer.format(totals.cache_hits)} of ${integer.format(looked)}` : "",
    ],
    ["bytes served from the cache", formatBytes(totals.bytes_from_cache)],
    ["bytes served from upstreams", formatBytes(totals.bytes_from_upstreams)],
    ["upstream 429s", integer.format(totals.upstream_429)],
    ["upstream 5xx", integer.format(totals.upstream_5xx)],
    [
      "Docker Hub lowest ratelimit-remaining",
      rateLimit ? integer.format(rateLimit.lowest) : "—",
      rateLimit ? `at ${rateLimit.at} UTC` : "no answer carried it",
    ],
  ];
  const labelWidth = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => r[1].length));
  const lines = [`cf-registry-proxy: dataset ${dataset}, the last ${period.label}`, ""];
  for (const [label, value, note] of rows) {
    lines.push(
      `  ${label.padEnd(labelWidth)}  ${value.padStart(valueWidth)}${note ? `  ${note}` : ""}`.trimEnd(),
    );
  }
  lines.push("", `Top ${TOP} repositories by pulls`);
  if (top.length === 0) lines.push("  none in this period");
  const nameWidth = Math.max(0, ...top.map((r) => r.name.length));
  const pullsWidth = Math.max(0, ...top.map((r) => integer.format(r.pulls).length));
  top.forEach((r, i) => {
    const rank = String(i + 1).padStart(String(top.length).length);
    lines.push(
      `  ${rank}  ${r.name.padEnd(nameWidth)}  ${integer.format(r.pulls).padStart(pullsWidth)}`,
    );
  });
  return lines.join("\n");
}

// ---- main ------------------------------------------------------------------------------------

/**
 * @param {string[]} argv
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<void>}
 */
async function main(argv, env) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        since: { type: "string", default: "24h" },
        dataset: { type: "string" },
        config: { type: "string" },
        sql: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new StatsError(`${/** @type {Error} */ (error).message}\n\n${USAGE}`, 2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const period = parsePeriod(values.since);
  const config = values.config ?? fileURLToPath(new URL("wrangler.toml", ROOT));
  const dataset = checkDataset(values.dataset ?? datasetFromWrangler(config));
  const queries = buildQueries(dataset, period);
  if (values.sql) {
    console.log(queries.map((q) => `-- ${q.name}: ${q.about}\n${q.sql}`).join("\n\n"));
    return;
  }
  const { account, token } = credentials(env);
  const api = { url: apiUrl(env, account), account, token };
  const figures = await collect(api, dataset, queries);
  console.log(render({ dataset, period, ...figures }));
}

try {
  await main(process.argv.slice(2), process.env);
} catch (error) {
  const known = error instanceof StatsError;
  const message = known
    ? error.message
    : `unexpected error: ${/** @type {{ message?: string } | null | undefined} */ (error)?.message ?? String(error)}`;
  // Belt and braces: no message, whatever produced it, carries the token.
  const token = process.env.CLOUDFLARE_API_TOKEN?.trim();
  console.error(`stats: ${token ? message.split(token).join("[token]") : message}`);
  process.exitCode = known ? error.exitCode : 1;
}
