// The Analytics Engine data point of a request through the whole Worker, read as `npm run stats`
// reads it: columns named by src/metric-columns.json, the n-th blob being SQL column blob<n>.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import columns from "../src/metric-columns.json";
import { FakeNet, makeImage, type FakeImage } from "./helpers/fake-registry";
import { callWorker, testEnv } from "./helpers/worker";

const HUB = "registry-1.docker.io";

/** The SQL column of a named column, as scripts/stats.mjs names it. */
function col(name: string): string {
  if (columns.blobs.includes(name)) return `blob${columns.blobs.indexOf(name) + 1}`;
  if (columns.doubles.includes(name)) return `double${columns.doubles.indexOf(name) + 1}`;
  throw new Error(`src/metric-columns.json names no column ${name}`);
}

/** A data point as the SQL API returns its row: index1, blob1…, double1…. */
function rowOf(point: AnalyticsEngineDataPoint): Record<string, unknown> {
  return Object.fromEntries([
    ...(point.indexes ?? []).map((v, i) => [`index${i + 1}`, v]),
    ...(point.blobs ?? []).map((v, i) => [`blob${i + 1}`, v]),
    ...(point.doubles ?? []).map((v, i) => [`double${i + 1}`, v]),
  ]);
}

let net: FakeNet;
let image: FakeImage;
let points: AnalyticsEngineDataPoint[];
let env: ReturnType<typeof testEnv>;

beforeEach(async () => {
  vi.spyOn(console, "log").mockImplementation(() => {}); // the request log lines: log.test.ts
  image = await makeImage("metrics");
  net = new FakeNet();
  // Docker Hub as far as one anonymous manifest GET needs it, with its rate-limit headers.
  net.on(HUB, (request, url) => {
    if (url.pathname === "/v2/") return new Response("{}");
    if (url.pathname !== "/v2/library/nginx/manifests/latest") {
      return new Response("404 page not found", { status: 404 });
    }
    return new Response(request.method === "HEAD" ? null : image.manifest, {
      headers: {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "content-length": String(image.manifest.length),
        "docker-content-digest": image.manifestDigest,
        "ratelimit-limit": "100;w=21600",
        "ratelimit-remaining": "76;w=21600",
      },
    });
  });
  points = [];
  const METRICS = {
    writeDataPoint: (point?: AnalyticsEngineDataPoint) => void points.push(point ?? {}),
  } satisfies AnalyticsEngineDataset;
  env = testEnv({ METRICS });
});

afterEach(() => {
  vi.restoreAllMocks();
  expect(net.unexpected).toEqual([]);
});

describe("the METRICS data point", () => {
  it("is one per request, with each column where the stats SQL reads it", async () => {
    const response = await callWorker(
      "https://docker.example.com/v2/nginx/manifests/latest",
      { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } },
      env,
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(image.manifest);

    expect(points).toHaveLength(1);
    const point = points[0]!;
    expect(point.indexes).toEqual(["docker.io"]);
    expect(point.blobs).toHaveLength(columns.blobs.length);
    expect(point.doubles).toHaveLength(columns.doubles.length);

    const row = rowOf(point);
    const read = Object.fromEntries(
      [...columns.blobs, ...columns.doubles].map((name) => [name, row[col(name)]]),
    );
    // Every column the file names, with what this request did: a pull (a manifest GET answered
    // 2xx) from the upstream, whose answer carried Docker Hub's ratelimit-remaining.
    expect(read).toEqual({
      route: "docker",
      registry: "docker.io",
      repository: "library/nginx",
      endpoint: "manifest",
      method: "GET",
      cache: "MISS",
      status: 200,
      bytes: image.manifest.length,
      upstreamStatus: 200,
      upstreamMs: expect.any(Number),
      rateLimitRemaining: 76,
      credential: -1,
    });
    expect(row.index1).toBe("docker.io");
  });

  it("is written for every request, whatever it asked for", async () => {
    const requests: [string, RequestInit][] = [
      ["https://docker.example.com/v2/", {}],
      ["https://docker.example.com/v2/nginx/manifests/latest", { method: "HEAD" }],
      ["https://docker.example.com/v2/nginx/manifests/latest", { method: "DELETE" }],
      ["https://docker.example.com/nowhere", {}],
    ];
    for (const [url, init] of requests) await (await callWorker(url, init, env)).arrayBuffer();
    expect(points).toHaveLength(requests.length);
    const reads = points.map(rowOf).map((row) => ({
      endpoint: row[col("endpoint")],
      method: row[col("method")],
      status: row[col("status")],
      bytes: row[col("bytes")],
    }));
    expect(reads).toEqual([
      { endpoint: "ping", method: "GET", status: 200, bytes: expect.any(Number) },
      { endpoint: "manifest", method: "HEAD", status: 200, bytes: 0 },
      { endpoint: "manifest", method: "DELETE", status: 405, bytes: expect.any(Number) },
      { endpoint: "", method: "GET", status: 404, bytes: expect.any(Number) },
    ]);
  });
});
