/** cf-registry-proxy: the Worker's fetch handler. It composes the layers, answers HEAD once, and is the only place that catches. */

import { requireLogin } from "./client-auth";
import { ConfigError, isLocked, type ConfigVars } from "./config";
import { checkMethod, parseEndpoint } from "./endpoint";
import { RegistryError } from "./errors";
import { helpPage } from "./help";
import { isolateFor, type Isolate } from "./isolate";
import { logProblem, logRequest, Trace } from "./log";
import { servePing } from "./ping";
import { prewarm } from "./prewarm";
import { serveRepository } from "./repository";
import { serveSearch } from "./search";
import { serveToken } from "./token-endpoint";

/** Vars (config.ts) and the optional bindings. */
export interface Bindings extends ConfigVars {
  /** R2 bucket that keeps a persistent copy of pulled content. */
  CACHE_BUCKET?: R2Bucket;
  /** Workers Analytics Engine dataset: one data point per request (log.ts). */
  METRICS?: AnalyticsEngineDataset;
}

/** What a locked proxy serves before the login: the help page (how to log in) and the login itself. */
const BEFORE_LOGIN = new Set(["/", "/v2/auth"]);

/** Every answer: upstream content types (even text/html) pass through, so nothing may render as a page. */
const REGISTRY_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const url = new URL(request.url);
    const trace = new Trace();
    let response: Response;
    let logClientIp = false;
    try {
      const isolate = isolateFor(env);
      logClientIp = isolate.config.logClientIp;
      response = await handle(isolate, request, url, env, ctx, trace);
    } catch (error) {
      response = errorResponse(error);
    }
    response = finish(request, url, response, trace);
    logRequest(
      trace,
      { method: request.method, ip: logClientIp ? request.headers.get("cf-connecting-ip") : null },
      response,
      env.METRICS,
    );
    return response;
  },

  /** The Cron Trigger (wrangler.toml `[triggers]`): the warm-up of PREWARM. */
  async scheduled(_controller, env, ctx): Promise<void> {
    ctx.waitUntil(prewarm(isolateFor(env), env.CACHE_BUCKET));
  },
} satisfies ExportedHandler<Bindings>;

/** Login gate (locked proxy) → endpoint → method → the endpoint's handler. */
async function handle(
  isolate: Isolate,
  request: Request,
  url: URL,
  env: Bindings,
  ctx: ExecutionContext,
  trace: Trace,
): Promise<Response> {
  if (isLocked(isolate.config) && !BEFORE_LOGIN.has(url.pathname)) {
    await requireLogin(isolate, request, url);
  }
  const endpoint = parseEndpoint(url.pathname);
  trace.endpoint = endpoint.kind;
  checkMethod(endpoint, request.method);
  switch (endpoint.kind) {
    case "help":
      return helpPage(url, isolate.config);
    case "ping":
      return servePing(isolate, request, url, trace);
    case "token":
      return serveToken(isolate, request, url, trace);
    case "search":
      return serveSearch(isolate, url, trace);
    default: {
      const platform = {
        bucket: env.CACHE_BUCKET,
        waitUntil: (p: Promise<unknown>) => ctx.waitUntil(p),
      };
      return serveRepository(isolate, request, url, endpoint, platform, trace);
    }
  }
}

/**
 * What every answer gets: no body for HEAD (HTTP: the headers of the GET, without its body), the
 * registry API version, `nosniff` and a restrictive CSP, containerd's `ns` echoed as
 * `OCI-Namespace` when it chose the upstream (distribution-spec, "Registry proxying"), and for a
 * repository answer `X-Cache` and `Server-Timing`. One copy of the headers for all of it.
 */
function finish(request: Request, url: URL, response: Response, trace: Trace): Response {
  let body = response.body;
  if (request.method === "HEAD" && body) {
    void body.cancel();
    body = null;
  }
  const headers = new Headers(response.headers);
  headers.set("docker-distribution-api-version", "registry/2.0");
  headers.set("x-content-type-options", "nosniff");
  if (!headers.has("content-security-policy")) headers.set("content-security-policy", REGISTRY_CSP);
  const ns = url.searchParams.get("ns");
  if (ns !== null && trace.target?.via === "ns") headers.set("oci-namespace", ns);
  if (trace.cache) {
    // A repository answer: where it came from, and no caching advice meant for the store.
    headers.delete("cache-control");
    headers.set("x-cache", trace.cache);
    headers.set("server-timing", trace.serverTiming());
  }
  return new Response(body, { status: response.status, headers });
}

function errorResponse(error: unknown): Response {
  if (error instanceof RegistryError) return error.toResponse();
  if (error instanceof ConfigError) {
    // Problems name variables and positions, never values: they may reach anyone.
    logProblem("configuration", error);
    return new RegistryError("UNKNOWN", "the proxy is misconfigured", error.problems).toResponse();
  }
  // Anything else is a bug: log it, tell the client nothing about internals.
  console.error(
    JSON.stringify({
      message: "unhandled error",
      error: error instanceof Error ? error.stack : String(error),
    }),
  );
  return new RegistryError("UNKNOWN", "internal error").toResponse();
}
