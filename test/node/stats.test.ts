// npm run stats against a local fake of Cloudflare's Analytics Engine SQL API: the requests it
// makes, the table it prints, its errors, and that the token never appears in any output.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SCRIPT = join(ROOT, "scripts/stats.mjs");
const ACCOUNT = "0123456789abcdef0123456789abcdef";
const TOKEN = "test-token-Zx81qQ0s7t3Ap4kLm2vN";
const DATASET = "cf_registry_proxy";

/** `blob<n>`/`double<n>` as Analytics Engine names the n-th blob or double of a data point. */
const columns = JSON.parse(readFileSync(join(ROOT, "src/metric-columns.json"), "utf8")) as {
  blobs: string[];
  doubles: string[];
};
function col(name: string): string {
  const blob = columns.blobs.indexOf(name);
  if (blob >= 0) return `blob${blob + 1}`;
  const double = columns.doubles.indexOf(name);
  if (double >= 0) return `double${double + 1}`;
  throw new Error(`no column ${name}`);
}

// ---- the fake SQL API ----------------------------------------------------------------------------

interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
  sql: string;
}
type Answer = { status?: number; json?: unknown; text?: string };
type Kind = "totals" | "rate-limit" | "top" | "tables";

/** The API's JSON format: column types in `meta`, 64-bit integers written as strings. */
function result(columnTypes: Record<string, string>, data: Record<string, unknown>[]): Answer {
  return {
    json: {
      meta: Object.entries(columnTypes).map(([name, type]) => ({ name, type })),
      data,
      rows: data.length,
      rows_before_limit_at_least: data.length,
    },
  };
}

const TOTALS_TYPES = {
  requests: "UInt64",
  pulls: "UInt64",
  cache_hits: "UInt64",
  cache_misses: "UInt64",
  bytes_from_cache: "Float64",
  bytes_from_upstreams: "Float64",
  upstream_429: "UInt64",
  upstream_5xx: "UInt64",
};
const ZERO_TOTALS = result(TOTALS_TYPES, [
  {
    requests: "0",
    pulls: "0",
    cache_hits: "0",
    cache_misses: "0",
    bytes_from_cache: 0,
    bytes_from_upstreams: 0,
    upstream_429: "0",
    upstream_5xx: "0",
  },
]);
const TOP_REPOSITORIES = [
  ["docker.io", "library/nginx", 12345],
  ["docker.io", "library/alpine", 2048],
  ["ghcr.io", "org/tool", 977],
  ["docker.io", "library/postgres", 512],
  ["registry.k8s.io", "pause", 300],
  ["quay.io", "prometheus/node-exporter", 120],
  ["docker.io", "library/redis", 64],
  ["gcr.io", "distroless/static", 33],
  ["docker.io", "library/busybox", 7],
  ["public.ecr.aws", "docker/library/node", 1],
] as const;

/** What a healthy dataset answers. */
function healthy(kind: Kind): Answer {
  switch (kind) {
    case "totals":
      return result(TOTALS_TYPES, [
        {
          requests: "45678",
          pulls: "1234",
          cache_hits: "12345",
          cache_misses: "865",
          bytes_from_cache: 13207024435.2, // 12.3 GiB
          bytes_from_upstreams: 1288490188.8, // 1.2 GiB
          upstream_429: "3",
          upstream_5xx: "17",
        },
      ]);
    case "rate-limit":
      return result({ answers: "UInt64", lowest: "Float64", lowest_at: "DateTime" }, [
        { answers: "40", lowest: 12, lowest_at: "2026-11-30 14:02:11" },
      ]);
    case "top":
      return result(
        { registry: "String", repository: "String", pulls: "UInt64" },
        TOP_REPOSITORIES.map(([registry, repository, pulls]) => ({
          registry,
          repository,
          pulls: String(pulls),
        })),
      );
    case "tables":
      return result({ dataset: "String" }, [{ dataset: "other_dataset" }, { dataset: DATASET }]);
  }
}

let server: Server;
let base: string;
let seen: Seen[];
/** What the fake found wrong with a request; every test expects none. */
let problems: string[];
let answer: (kind: Kind, sql: string) => Answer;

function kindOf(sql: string): Kind | undefined {
  if (sql.trim() === "SHOW TABLES") return "tables";
  if (/\bAS cache_hits\b/.test(sql)) return "totals";
  if (/\bAS lowest\b/.test(sql)) return "rate-limit";
  if (/GROUP BY registry, repository/.test(sql)) return "top";
  return undefined;
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const sql = await bodyOf(request);
    const path = request.url ?? "";
    seen.push({
      method: request.method ?? "",
      path,
      authorization: request.headers.authorization,
      sql,
    });
    const kind = kindOf(sql);
    if (request.method !== "POST") problems.push(`method ${request.method}`);
    if (path !== `/client/v4/accounts/${ACCOUNT}/analytics_engine/sql`)
      problems.push(`path ${path}`);
    if (request.headers.authorization !== `Bearer ${TOKEN}`) problems.push("authorization");
    if (!kind) problems.push(`unknown SQL: ${sql}`);
    if (kind && kind !== "tables") {
      if (!sql.includes(`FROM ${DATASET}\n`)) problems.push(`${kind}: not FROM ${DATASET}`);
      if (!/\nWHERE timestamp > NOW\(\) - INTERVAL '\d+' (MINUTE|HOUR|DAY)\b/.test(sql)) {
        problems.push(`${kind}: no period`);
      }
      if (!sql.includes("SUM(_sample_interval")) problems.push(`${kind}: counts ignore sampling`);
    }
    const {
      status = 200,
      json,
      text,
    } = kind ? answer(kind, sql) : { status: 422, text: "Input was invalid" };
    response.writeHead(status, {
      "content-type": json === undefined ? "text/plain" : "application/json",
    });
    response.end(json === undefined ? text : JSON.stringify(json));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

let dir: string;
let config: string;
beforeEach(() => {
  seen = [];
  problems = [];
  answer = healthy;
  dir = mkdtempSync(join(tmpdir(), "stats-test-"));
  config = join(dir, "wrangler.toml");
  writeFileSync(
    config,
    [
      'name = "cf-registry-proxy"',
      "",
      "[vars]",
      'DEFAULT_ROUTE = "docker"',
      "",
      "# [[analytics_engine_datasets]]",
      '# binding = "METRICS"',
      '# dataset = "commented_out"',
      "",
      "[[analytics_engine_datasets]]",
      'binding = "OTHER"',
      'dataset = "other_dataset"',
      "",
      "[[analytics_engine_datasets]]",
      'binding = "METRICS"',
      `dataset = "${DATASET}" # the proxy's`,
      "",
      "[observability]",
      "enabled = true",
    ].join("\n"),
  );
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  expect(problems).toEqual([]);
});

// ---- running the script ------------------------------------------------------------------------

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node scripts/stats.mjs` (asynchronously: the fake answers from this process). */
async function stats(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? "" };
  const all = {
    CLOUDFLARE_ACCOUNT_ID: ACCOUNT,
    CLOUDFLARE_API_TOKEN: TOKEN,
    CLOUDFLARE_API_BASE_URL: base,
    ...env,
  };
  for (const [key, value] of Object.entries(all)) if (value !== undefined) childEnv[key] = value;
  const run = await new Promise<Run>((resolve) => {
    execFile(
      process.execPath,
      [SCRIPT, ...args],
      { cwd: dir, env: childEnv, timeout: 15_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
  // Whatever happened, the token is in no output, and no stack trace is either.
  expect(run.stdout + run.stderr).not.toContain(TOKEN);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  return run;
}

// ---- the table ---------------------------------------------------------------------------------

describe("npm run stats", () => {
  it("prints the period's figures and the top repositories, one request per query", async () => {
    const run = await stats(["--config", config]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        "cf-registry-proxy: dataset cf_registry_proxy, the last 24 hours",
        "",
        "  requests                                         45,678",
        "  pulls (manifest GETs answered 2xx)                1,234",
        "  cache hit ratio (HIT+STALE of HIT+STALE+MISS)     93.5%  12,345 of 13,210",
        "  bytes served from the cache                    12.3 GiB",
        "  bytes served from upstreams                     1.2 GiB",
        "  upstream 429s                                         3",
        "  upstream 5xx                                         17",
        "  Docker Hub lowest ratelimit-remaining                12  at 2026-11-30 14:02:11 UTC",
        "",
        "Top 10 repositories by pulls",
        "   1  docker.io/library/nginx             12,345",
        "   2  docker.io/library/alpine             2,048",
        "   3  ghcr.io/org/tool                       977",
        "   4  docker.io/library/postgres             512",
        "   5  registry.k8s.io/pause                  300",
        "   6  quay.io/prometheus/node-exporter       120",
        "   7  docker.io/library/redis                 64",
        "   8  gcr.io/distroless/static                33",
        "   9  docker.io/library/busybox                7",
        "  10  public.ecr.aws/docker/library/node       1",
        "",
      ].join("\n"),
    );
    expect(seen.map((s) => kindOf(s.sql))).toEqual(["totals", "rate-limit", "top"]);
  });

  it("reads the columns where the Worker writes them (src/metric-columns.json)", async () => {
    await stats(["--config", config, "--since", "7d"]);
    const [totals, rateLimit, top] = seen.map((s) => s.sql);
    const pull = `${col("endpoint")} = 'manifest' AND ${col("method")} = 'GET' AND ${col("status")} >= 200 AND ${col("status")} < 300`;
    expect(totals).toContain(`SUM(if(${pull}, _sample_interval, 0)) AS pulls`);
    expect(totals).toContain(`SUM(if(${col("cache")} IN ('HIT', 'STALE'), _sample_interval, 0))`);
    expect(totals).toContain(
      `SUM(if(${col("cache")} = 'MISS', _sample_interval * ${col("bytes")}, 0))`,
    );
    expect(totals).toContain(`SUM(if(${col("upstreamStatus")} = 429, _sample_interval, 0))`);
    expect(totals).toContain("INTERVAL '7' DAY");
    expect(rateLimit).toContain(`MIN(${col("rateLimitRemaining")}) AS lowest`);
    expect(rateLimit).toContain(`${col("registry")} = 'docker.io'`);
    expect(top).toContain(`${col("registry")} AS registry`);
    expect(top).toContain(`${col("repository")} AS repository`);
    expect(top).toContain(pull);
    expect(top).toMatch(/\nLIMIT 10$/);
  });

  it("takes --dataset over wrangler.toml, and --since in minutes, hours or days", async () => {
    answer = (kind) => (kind === "totals" ? ZERO_TOTALS : healthy(kind));
    const run = await stats(["--dataset", DATASET, "--since", "90m", "--config", "/nonexistent"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("the last 90 minutes");
    expect(seen[0]!.sql).toContain("INTERVAL '90' MINUTE");
  });

  it("prints dashes, not zeros, for what it cannot know", async () => {
    answer = (kind) => {
      if (kind === "totals") return ZERO_TOTALS;
      if (kind === "rate-limit") {
        // ClickHouse answers an aggregate over no rows with zeros, not NULL.
        return result({ answers: "UInt64", lowest: "Float64", lowest_at: "DateTime" }, [
          { answers: "0", lowest: 0, lowest_at: "1970-01-01 00:00:00" },
        ]);
      }
      if (kind === "top") return result({ registry: "String" }, []);
      return healthy(kind);
    };
    const run = await stats(["--config", config]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/cache hit ratio \(HIT\+STALE of HIT\+STALE\+MISS\) +—\n/);
    expect(run.stdout).toMatch(/Docker Hub lowest ratelimit-remaining +— +no answer carried it\n/);
    expect(run.stdout).toContain("Top 10 repositories by pulls\n  none in this period");
    // No requests: it checked that the dataset exists (SHOW TABLES) before printing zeros.
    expect(seen.map((s) => kindOf(s.sql))).toEqual(["totals", "tables", "rate-limit", "top"]);
  });
});

describe("npm run stats -- --sql", () => {
  it("prints the SQL it runs, without credentials and without asking anyone", async () => {
    const printed = await stats(["--config", config, "--sql"], {
      CLOUDFLARE_ACCOUNT_ID: undefined,
      CLOUDFLARE_API_TOKEN: undefined,
    });
    expect(printed.code).toBe(0);
    expect(seen).toEqual([]);
    const sections = printed.stdout.trim().split("\n\n");
    expect(sections.map((s) => s.split("\n")[0])).toEqual([
      expect.stringMatching(/^-- totals: /),
      expect.stringMatching(/^-- rate-limit: /),
      expect.stringMatching(/^-- top: /),
    ]);

    await stats(["--config", config]);
    expect(sections.map((s) => s.split("\n").slice(1).join("\n"))).toEqual(seen.map((s) => s.sql));
  });
});

// ---- errors ------------------------------------------------------------------------------------

describe("npm run stats: errors", () => {
  it("names a missing token or account ID, and asks nobody", async () => {
    const noToken = await stats(["--config", config], { CLOUDFLARE_API_TOKEN: undefined });
    expect(noToken.code).toBe(1);
    expect(noToken.stdout).toBe("");
    expect(noToken.stderr).toMatch(
      /^stats: CLOUDFLARE_API_TOKEN is not set: create an API token with Account → Account Analytics → Read/,
    );
    const noAccount = await stats(["--config", config], { CLOUDFLARE_ACCOUNT_ID: "" });
    expect(noAccount.code).toBe(1);
    expect(noAccount.stderr).toMatch(/^stats: CLOUDFLARE_ACCOUNT_ID is not set/);
    const badAccount = await stats(["--config", config], { CLOUDFLARE_ACCOUNT_ID: "../../zones" });
    expect(badAccount.stderr).toMatch(/^stats: CLOUDFLARE_ACCOUNT_ID is not an account ID/);
    expect(seen).toEqual([]);
  });

  it.each([
    [
      401,
      /^stats: the Cloudflare API refused the token \(HTTP 401: Invalid API Token\): check CLOUDFLARE_API_TOKEN\n$/,
    ],
    [
      403,
      /^stats: the token may not read this account's analytics \(HTTP 403: Authentication error\): it needs Account → Account Analytics → Read for account 0123456789abcdef0123456789abcdef\n$/,
    ],
  ])("explains HTTP %i from the API", async (status, message) => {
    answer = () => ({
      status,
      json: {
        success: false,
        errors: [
          { code: 10000, message: status === 401 ? "Invalid API Token" : "Authentication error" },
        ],
        messages: [],
        result: null,
      },
    });
    const run = await stats(["--config", config]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(message);
    expect(seen).toHaveLength(1);
  });

  it("says the dataset does not exist yet when the API refuses the query and SHOW TABLES lacks it", async () => {
    answer = (kind) =>
      kind === "tables"
        ? result({ dataset: "String" }, [{ dataset: "other_dataset" }])
        : { status: 422, text: `Input was invalid: unknown table ${DATASET}` };
    const run = await stats(["--config", config]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `stats: the dataset ${DATASET} does not exist yet: Analytics Engine creates it with the first data point. Bind it as METRICS (wrangler.toml), deploy, and send the proxy a request\n`,
    );
    expect(seen.map((s) => kindOf(s.sql))).toEqual(["totals", "tables"]);
  });

  it("says the same when the API answers an unknown dataset with no rows", async () => {
    answer = (kind) =>
      kind === "tables"
        ? result({ dataset: "String" }, [])
        : kind === "totals"
          ? ZERO_TOTALS
          : healthy(kind);
    const run = await stats(["--config", config]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^stats: the dataset cf_registry_proxy does not exist yet/);
  });

  it("passes any other refusal on in one line, with the token scrubbed", async () => {
    answer = (kind) =>
      kind === "tables"
        ? healthy(kind)
        : { status: 400, text: `Input was invalid:\n  bad query (sent with Bearer ${TOKEN})` };
    const run = await stats(["--config", config]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "stats: the SQL API answered HTTP 400: Input was invalid: bad query (sent with Bearer [token])\n",
    );
  });

  it("says so when the API cannot be reached, or answers no JSON", async () => {
    const closed = await stats(["--config", config], {
      CLOUDFLARE_API_BASE_URL: "http://127.0.0.1:9/client/v4",
    });
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(
      /^stats: cannot reach the Cloudflare API at http:\/\/127\.0\.0\.1:9: /,
    );

    answer = () => ({ text: "<html>maintenance</html>" });
    const html = await stats(["--config", config]);
    expect(html.code).toBe(1);
    expect(html.stderr).toBe(
      "stats: the SQL API answered something that is not JSON: <html>maintenance</html>\n",
    );
  });

  it("sends the token over plain http only to this machine", async () => {
    const run = await stats(["--config", config], {
      CLOUDFLARE_API_BASE_URL: "http://api.example.com/client/v4",
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^stats: CLOUDFLARE_API_BASE_URL must be https/);
  });

  it("needs a dataset: the METRICS binding of wrangler.toml, or --dataset", async () => {
    const commented = await stats([], {}); // this repository's wrangler.toml, block commented out
    const repo = await stats(["--config", join(ROOT, "wrangler.toml")]);
    for (const run of [commented, repo]) {
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /binds no METRICS dataset: uncomment its \[\[analytics_engine_datasets\]\] block and deploy, or pass --dataset NAME\n$/,
      );
    }
    const injected = await stats(["--dataset", "x; DROP TABLE y"]);
    expect(injected.code).toBe(2);
    expect(injected.stderr).toMatch(/letters, digits and underscores/);
    expect(seen).toEqual([]);
  });

  it.each([
    [["--since", "100d"], /three months; ask for 90d or less/],
    [["--since", "0h"], /expected <n>m, <n>h or <n>d/],
    [["--since", "yesterday"], /expected <n>m, <n>h or <n>d/],
    [["--bogus"], /Unknown option '--bogus'/],
    [["extra"], /Unexpected argument 'extra'/],
  ])("refuses %j with usage exit code 2", async (args, message) => {
    const run = await stats(["--config", config, ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(seen).toEqual([]);
  });
});
