/** cf-registry-proxy: the Worker's fetch handler. Parses config once, routes, dispatches; the only place that catches. */

import { authorizeRepository } from "./access";
import { handlePing, handleTokenRequest, resolvePull } from "./auth";
import { ConfigError, loadConfig, type ConfigVars } from "./config";
import { RegistryError } from "./errors";
import { helpPage } from "./help";
import { serveRepository } from "./cache";
import { ContentStore } from "./content-store";
import { hostRoute, parseEndpoint, requestRoute, resolveRepository } from "./routing";

/** Methods a pull-through proxy serves; POST only for containerd's OAuth2 token form. */
const READ_METHODS = new Set(["GET", "HEAD"]);

/** Vars (see config.ts) plus the optional R2 bucket that keeps a persistent copy of pulled content. */
export interface Bindings extends ConfigVars {
  CACHE_BUCKET?: R2Bucket;
}

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const url = new URL(request.url);
    let response: Response;
    try {
      response = await handle(request, url, env, ctx);
    } catch (error) {
      response = toErrorResponse(error, request.method);
    }
    response.headers.set("docker-distribution-api-version", "registry/2.0");
    // containerd's ns is echoed as OCI-Namespace (distribution-spec, "Registry proxying") when
    // it names an upstream of this proxy; a refused one is not repeated back.
    const ns = url.searchParams.get("ns");
    if (ns !== null && namesUpstream(env, ns)) response.headers.set("oci-namespace", ns);
    return response;
  },
} satisfies ExportedHandler<Bindings>;

async function handle(
  request: Request,
  url: URL,
  env: Bindings,
  ctx: ExecutionContext,
): Promise<Response> {
  const config = loadConfig(env);
  const endpoint = parseEndpoint(url.pathname);
  const method = request.method;
  if (!READ_METHODS.has(method) && !(method === "POST" && endpoint.kind === "auth")) {
    throw new RegistryError(
      "UNSUPPORTED",
      `${method} is not supported: this proxy is pull-only`,
      undefined,
      {
        headers: { allow: endpoint.kind === "auth" ? "GET, HEAD, POST" : "GET, HEAD" },
      },
    );
  }

  const byHost = hostRoute(config, url.hostname);
  const ns = url.searchParams.get("ns");
  switch (endpoint.kind) {
    case "help":
      return helpPage(url, config);
    case "auth":
      return handleTokenRequest(request, url, config, byHost);
    case "ping": {
      return handlePing(request, url, config, requestRoute(config, byHost, ns));
    }
    default: {
      const route = resolveRepository(config, byHost, ns, endpoint.name);
      authorizeRepository(config, route);
      const pull = await resolvePull(request, url, config, route);
      const store = new ContentStore(config.cacheNamespace, url.origin, env.CACHE_BUCKET, (p) =>
        ctx.waitUntil(p),
      );
      return serveRepository(
        { url, config, route, headers: request.headers, pull },
        endpoint,
        method === "HEAD" ? "HEAD" : "GET",
        store,
      );
    }
  }
}

function namesUpstream(env: Bindings, ns: string): boolean {
  try {
    return loadConfig(env).byName.has(ns.toLowerCase());
  } catch {
    return false;
  }
}

function toErrorResponse(error: unknown, method: string): Response {
  if (error instanceof RegistryError) return error.toResponse(method);
  if (error instanceof ConfigError) {
    console.error(error.message);
    return new RegistryError("UNKNOWN", "the proxy is misconfigured", error.problems).toResponse(
      method,
    );
  }
  // Anything else is a bug: log it, tell the client nothing about internals.
  console.error("unhandled error", error instanceof Error ? error.stack : String(error));
  return new RegistryError("UNKNOWN", "internal error").toResponse(method);
}
