/** Fetching from upstreams: manual redirects, header hygiene across hosts, and a bounded wait for headers. */

import { RegistryError } from "./errors";
import { parseHttpUrl } from "./http-url";
import { usableRange } from "./range";

/**
 * Client request headers an upstream may see: what the client asks for, never who it is (Host,
 * Cookie, CF-*). They all survive a redirect to another host (registry.k8s.io sends manifest
 * requests on to Artifact Registry, which negotiates `Accept` like a registry); Authorization is
 * the auth layer's decision, and never leaves the host it was meant for.
 */
const FORWARDED_HEADERS = [
  "accept",
  "user-agent",
  "range",
  "if-none-match",
  "if-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
];

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Docker Hub needs one hop (registry → CDN), registry.k8s.io three (→ Artifact Registry → download); more is a loop. */
const MAX_REDIRECTS = 5;

/** Every fetch this isolate made upstream, redirect hops included (the warm-up keeps count of its own). */
let fetches = 0;

/** How many upstream fetches this isolate has made so far. */
export function upstreamFetchCount(): number {
  return fetches;
}

/**
 * Picks the headers of a client request that may be forwarded to the upstream registry. A Range
 * goes only in the single-range form clients resume with; anything else is dropped.
 */
export function forwardableHeaders(source: Headers): Headers {
  const headers = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = name === "range" ? usableRange(source.get(name)) : source.get(name);
    if (value !== null) headers.set(name, value);
  }
  return headers;
}

/** One upstream request. */
export interface UpstreamInit {
  method: "GET" | "HEAD";
  headers: Headers;
  /** How long to wait for response headers, all hops together; then 504. */
  timeoutMs: number;
  /**
   * For a host that a redirect led to (another origin) and that answers 401 with its own
   * challenge (registry.k8s.io → Artifact Registry): an `Authorization` for that host, or
   * undefined to give the 401 back. Called at most once per hop.
   */
  hopAuthorization?: (challenge: string | null, url: URL) => Promise<string | undefined>;
  /** A redirect whose Location has no query keeps the request's own (registry.k8s.io's tags/list). */
  keepQuery?: boolean;
}

/**
 * Fetches `url`, following redirects inside the Worker with `redirect: "manual"`: on a hop to
 * another origin Authorization stays behind. A refused or failed
 * connection answers 502, no headers in time 504. The body is never touched: it streams to
 * whoever reads it.
 */
export async function fetchUpstream(url: string, init: UpstreamInit): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), init.timeoutMs);
  let current = new URL(url);
  let headers = init.headers;
  let redirected = false;
  try {
    for (let hop = 0; ; hop++) {
      fetches++;
      let response = await fetch(current, {
        method: init.method,
        headers,
        redirect: "manual",
        signal: controller.signal,
      });
      if (response.status === 401 && redirected && init.hopAuthorization) {
        const authorization = await init.hopAuthorization(
          response.headers.get("www-authenticate"),
          current,
        );
        if (authorization) {
          await response.body?.cancel();
          headers = new Headers(headers);
          headers.set("authorization", authorization);
          fetches++;
          response = await fetch(current, {
            method: init.method,
            headers,
            redirect: "manual",
            signal: controller.signal,
          });
        }
      }
      const location = response.headers.get("location");
      if (!REDIRECTS.has(response.status) || !location) return response;

      await response.body?.cancel();
      if (hop === MAX_REDIRECTS) throw badGateway("upstream redirected too many times", current);
      const next = parseHttpUrl(location, current);
      if (!next) throw badGateway("upstream redirected to a non-HTTP URL", current);
      if (init.keepQuery && !next.search) next.search = current.search;
      if (next.origin !== current.origin) {
        // A presigned URL refuses a second credential, and a token must not leak.
        headers = new Headers(headers);
        headers.delete("authorization");
        redirected = true;
      }
      current = next;
    }
  } catch (error) {
    if (error instanceof RegistryError) throw error;
    if (controller.signal.aborted) {
      throw new RegistryError(
        "UNAVAILABLE",
        `upstream did not answer within ${init.timeoutMs} ms`,
        { host: current.host },
        { status: 504 },
      );
    }
    throw badGateway("upstream is unreachable", current);
  } finally {
    clearTimeout(timer);
  }
}

function badGateway(message: string, url: URL): RegistryError {
  return new RegistryError("UNAVAILABLE", message, { host: url.host });
}
