/**
 * What one request did, as the layers learn it, written once at the end: one JSON log line
 * (Workers Logs) and, when the METRICS binding is there, one Analytics Engine data point.
 */

import columns from "./metric-columns.json";
import { remainingPulls } from "./rate-limit";
import type { Target } from "./routing";

/** Where an answer came from: the store, the upstream, or the store because the upstream failed. */
export type CacheStatus = "HIT" | "MISS" | "STALE";

/**
 * The Analytics Engine columns, in order: `blobs[i]` is column `blob<i+1>`, `doubles[i]` is
 * `double<i+1>`. They live in metric-columns.json because `npm run stats` (scripts/stats.mjs)
 * names the columns of its SQL from the same file. Add new columns at the end: the points already
 * written keep their positions for the dataset's three months.
 */
export const METRIC_BLOBS: readonly string[] = columns.blobs;
export const METRIC_DOUBLES: readonly string[] = columns.doubles;

export class Trace {
  readonly started = Date.now();
  target?: Target & { repository?: string };
  endpoint?: string;
  cache?: CacheStatus;
  upstreamStatus?: number;
  upstreamMs = 0;
  upstreamCalls = 0;
  /** Position of the owner's credential pair used, never the pair. */
  credential?: number;
  /** Docker Hub's `ratelimit-remaining`, when the upstream sent it. */
  rateLimitRemaining?: number;

  /** Records one upstream answer (its headers arrived after `ms`). */
  upstream(response: Response, ms: number, credential: number | undefined): void {
    this.upstreamStatus = response.status;
    this.upstreamMs += ms;
    this.upstreamCalls++;
    if (credential !== undefined) this.credential = credential;
    const remaining = remainingPulls(response.headers.get("ratelimit-remaining"));
    if (remaining !== undefined) this.rateLimitRemaining = remaining;
  }

  /** `Server-Timing` value: upstream wait and how many upstream requests it took. */
  serverTiming(): string {
    const n = this.upstreamCalls;
    return `upstream;dur=${this.upstreamMs};desc="${n} request${n === 1 ? "" : "s"}"`;
  }
}

/** What the log line says about the client; its address only when the owner asks for it. */
export interface Client {
  method: string;
  ip?: string | null;
}

/** Writes the request's log line and data point. Never a credential, token or query string. */
export function logRequest(
  trace: Trace,
  client: Client,
  response: Response,
  metrics: AnalyticsEngineDataset | undefined,
): void {
  const declared = Number(response.headers.get("content-length"));
  const bytes = client.method === "HEAD" || !Number.isFinite(declared) ? 0 : declared;
  const line = {
    message: "request",
    route: trace.target?.upstream.route,
    registry: trace.target?.upstream.name,
    repository: trace.target?.repository,
    endpoint: trace.endpoint,
    method: client.method,
    status: response.status,
    cache: trace.cache,
    bytes,
    upstreamStatus: trace.upstreamStatus,
    upstreamMs: trace.upstreamCalls ? trace.upstreamMs : undefined,
    upstreamRequests: trace.upstreamCalls || undefined,
    rateLimitRemaining: trace.rateLimitRemaining,
    credential: trace.credential,
    ms: Date.now() - trace.started,
    ...(client.ip ? { clientIp: client.ip } : {}),
  };
  console.log(JSON.stringify(line));
  if (!metrics) return;
  try {
    const blobs: Record<string, string> = {
      route: line.route ?? "",
      registry: line.registry ?? "",
      repository: line.repository ?? "",
      endpoint: line.endpoint ?? "",
      method: line.method,
      cache: line.cache ?? "",
    };
    const doubles: Record<string, number> = {
      status: line.status,
      bytes,
      upstreamStatus: line.upstreamStatus ?? 0,
      upstreamMs: line.upstreamMs ?? 0,
      rateLimitRemaining: line.rateLimitRemaining ?? -1,
      credential: line.credential ?? -1,
    };
    metrics.writeDataPoint({
      indexes: [line.registry ?? ""],
      blobs: METRIC_BLOBS.map((name) => valueOf(blobs, name)),
      doubles: METRIC_DOUBLES.map((name) => valueOf(doubles, name)),
    });
  } catch (error) {
    logProblem("metrics", error);
  }
}

/** A column's value; a column metric-columns.json names but nothing here fills is a bug, logged. */
function valueOf<T>(values: Record<string, T>, name: string): T {
  const value = values[name];
  if (value === undefined) throw new Error(`no value for the metric column ${name}`);
  return value;
}

/** Problems already logged by this isolate: a missing Cache API would say so on every request. */
const logged = new Set<string>();

/** One line for a problem that is not the client's (storage, metrics), once per isolate per message. */
export function logProblem(where: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  const key = `${where}\n${message}`;
  if (logged.has(key) || logged.size >= 100) return;
  logged.add(key);
  console.warn(JSON.stringify({ message: "problem", where, error: message }));
}
