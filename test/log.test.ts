import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../src/config";
import { logProblem, logRequest, METRIC_BLOBS, METRIC_DOUBLES, Trace } from "../src/log";
import { resolveRepository } from "../src/routing";
import { FakeNet, fakeRegistry, makeImage } from "./helpers/fake-registry";
import { callWorker, testEnv } from "./helpers/worker";

let lines: string[];
let warnings: string[];
beforeEach(() => {
  lines = [];
  warnings = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
  vi.spyOn(console, "warn").mockImplementation((line: string) => void warnings.push(line));
});
afterEach(() => {
  vi.restoreAllMocks();
});

const config = parseConfig({});
const target = resolveRepository(config, new URL("https://docker.example.com/v2/"), "nginx");
const lineOf = () => JSON.parse(lines.at(-1)!) as Record<string, unknown>;

describe("Trace", () => {
  it("adds up upstream answers", () => {
    const trace = new Trace();
    trace.upstream(new Response(null, { status: 401 }), 12, undefined);
    trace.upstream(
      new Response(null, { status: 200, headers: { "ratelimit-remaining": "76;w=21600" } }),
      30,
      2,
    );
    trace.upstream(new Response(null, { status: 206 }), 5, undefined);
    expect(trace).toMatchObject({
      upstreamStatus: 206,
      upstreamMs: 47,
      upstreamCalls: 3,
      credential: 2,
      rateLimitRemaining: 76,
    });
  });

  it.each([
    [0, 'upstream;dur=0;desc="0 requests"'],
    [1, 'upstream;dur=7;desc="1 request"'],
    [2, 'upstream;dur=14;desc="2 requests"'],
  ])("writes Server-Timing after %i upstream requests", (n, value) => {
    const trace = new Trace();
    for (let i = 0; i < n; i++) trace.upstream(new Response(null), 7, undefined);
    expect(trace.serverTiming()).toBe(value);
  });
});

describe("logRequest: the log line", () => {
  it("says what the request did", () => {
    const trace = new Trace();
    trace.target = target;
    trace.endpoint = "manifest";
    trace.cache = "MISS";
    trace.upstream(new Response(null, { headers: { "ratelimit-remaining": "9" } }), 40, 1);
    logRequest(
      trace,
      { method: "GET" },
      new Response("x", { headers: { "content-length": "123" } }),
      undefined,
    );
    const line = lineOf();
    expect(line).toMatchObject({
      message: "request",
      route: "docker",
      registry: "docker.io",
      repository: "library/nginx",
      endpoint: "manifest",
      method: "GET",
      status: 200,
      cache: "MISS",
      bytes: 123,
      upstreamStatus: 200,
      upstreamMs: 40,
      upstreamRequests: 1,
      rateLimitRemaining: 9,
      credential: 1,
    });
    expect(typeof line.ms).toBe("number");
    expect(line).not.toHaveProperty("clientIp");
  });

  it("leaves out what did not happen", () => {
    logRequest(new Trace(), { method: "GET" }, new Response("x"), undefined);
    expect(Object.keys(lineOf()).sort()).toEqual(["bytes", "message", "method", "ms", "status"]);
  });

  it.each([
    ["HEAD", "123", 0],
    ["GET", null, 0],
    ["GET", "abc", 0],
    ["GET", "0", 0],
  ])("counts bytes of a %s with Content-Length %s as %i", (method, length, bytes) => {
    const headers: Record<string, string> = length === null ? {} : { "content-length": length };
    logRequest(new Trace(), { method }, new Response(null, { headers }), undefined);
    expect(lineOf().bytes).toBe(bytes);
  });

  it("names the client's address only when given one", () => {
    logRequest(new Trace(), { method: "GET", ip: null }, new Response(null), undefined);
    expect(lineOf()).not.toHaveProperty("clientIp");
    logRequest(new Trace(), { method: "GET", ip: "203.0.113.7" }, new Response(null), undefined);
    expect(lineOf().clientIp).toBe("203.0.113.7");
  });

  it("carries nothing of the response's headers", () => {
    const response = new Response(null, {
      status: 401,
      headers: {
        "www-authenticate": 'Bearer realm="https://x/v2/auth?token=SECRET"',
        "set-cookie": "SECRET",
      },
    });
    logRequest(new Trace(), { method: "GET" }, response, undefined);
    expect(lines.at(-1)).not.toContain("SECRET");
  });
});

describe("logRequest through the Worker", () => {
  it("writes no credential, token, query string or client IP unless LOG_CLIENT_IP is set", async () => {
    const net = new FakeNet();
    const image = await makeImage("log");
    fakeRegistry(net, {
      host: "registry-1.docker.io",
      authHost: "auth.docker.io",
      repositories: { "library/nginx": image },
    });
    const secrets = ["hunter2", "s3cret-token", "QUERYSECRET", "203.0.113.77"];
    const init = {
      headers: {
        authorization: `Basic ${btoa("alice:hunter2")}`,
        "cf-connecting-ip": "203.0.113.77",
        cookie: "s3cret-token",
      },
    };
    const paths = [
      "/v2/auth?scope=repository:nginx:pull&account=QUERYSECRET",
      "/v2/nginx/manifests/latest?ns=docker.io&QUERYSECRET=1",
      "/v2/?QUERYSECRET",
    ];
    const env = testEnv({ TOKEN_SECRET: "test-token-secret-0123456789" });
    for (const path of paths) await callWorker(`https://docker.example.com${path}`, init, env);
    const requests = lines.filter((l) => l.includes('"message":"request"'));
    expect(requests).toHaveLength(paths.length);
    for (const line of [...requests, ...warnings]) {
      for (const secret of secrets) expect(line).not.toContain(secret);
    }

    lines.length = 0;
    const logged = testEnv({ LOG_CLIENT_IP: "true" });
    await callWorker("https://docker.example.com/v2/?x=QUERYSECRET", init, logged);
    const line = lines.find((l) => l.includes('"message":"request"'))!;
    expect(net.unexpected).toEqual([]);
    expect(JSON.parse(line).clientIp).toBe("203.0.113.77");
    expect(line).not.toContain("QUERYSECRET");
    expect(line).not.toContain("hunter2");
  });
});

describe("logRequest: the Analytics Engine data point", () => {
  it("keeps its column order: stats queries read columns by position", () => {
    expect(METRIC_BLOBS).toEqual([
      "route",
      "registry",
      "repository",
      "endpoint",
      "method",
      "cache",
    ]);
    expect(METRIC_DOUBLES).toEqual([
      "status",
      "bytes",
      "upstreamStatus",
      "upstreamMs",
      "rateLimitRemaining",
      "credential",
    ]);
  });

  it("writes one point, indexed by registry, in that order", () => {
    const writeDataPoint = vi.fn();
    const trace = new Trace();
    trace.target = target;
    trace.endpoint = "blob";
    trace.cache = "HIT";
    trace.upstream(
      new Response(null, { status: 200, headers: { "ratelimit-remaining": "5" } }),
      17,
      3,
    );
    logRequest(
      trace,
      { method: "GET" },
      new Response(null, { status: 206, headers: { "content-length": "4096" } }),
      { writeDataPoint } as AnalyticsEngineDataset,
    );
    expect(writeDataPoint).toHaveBeenCalledTimes(1);
    expect(writeDataPoint).toHaveBeenCalledWith({
      indexes: ["docker.io"],
      blobs: ["docker", "docker.io", "library/nginx", "blob", "GET", "HIT"],
      doubles: [206, 4096, 200, 17, 5, 3],
    });
  });

  it("fills the gaps of a request that never reached a repository", () => {
    const writeDataPoint = vi.fn();
    logRequest(new Trace(), { method: "POST" }, new Response(null, { status: 405 }), {
      writeDataPoint,
    } as AnalyticsEngineDataset);
    expect(writeDataPoint).toHaveBeenCalledWith({
      indexes: [""],
      blobs: ["", "", "", "", "POST", ""],
      doubles: [405, 0, 0, 0, -1, -1],
    });
  });

  it("survives a failing dataset, saying so once", () => {
    const broken = {
      writeDataPoint: () => {
        throw new Error(`dataset broken ${crypto.randomUUID()}`);
      },
    } as AnalyticsEngineDataset;
    expect(() =>
      logRequest(new Trace(), { method: "GET" }, new Response(null), broken),
    ).not.toThrow();
    expect(lines).toHaveLength(1);
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ message: "problem", where: "metrics" });
  });
});

describe("logProblem", () => {
  it("writes each problem once per isolate", () => {
    const message = `R2 unreachable ${crypto.randomUUID()}`;
    for (let i = 0; i < 3; i++) logProblem("content store", new Error(message));
    logProblem("content store", message); // the same text, not an Error
    logProblem("elsewhere", new Error(message));
    expect(warnings.map((w) => JSON.parse(w))).toEqual([
      { message: "problem", where: "content store", error: message },
      { message: "problem", where: "elsewhere", error: message },
    ]);
  });
});
