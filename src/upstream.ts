/** Fetching from upstreams: manual redirects, header hygiene across hosts, and a bounded wait for headers. */

import { RegistryError } from "./errors";
import { usableRange } from "./range";

/** What survives a redirect to another host: a presigned URL rejects the rest, and tokens must not leak. */
const CROSS_HOST_HEADERS = [
  "range",
  "if-none-match",
  "if-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
];

/**
 * Client request headers an upstream registry may see. Everything else (Host, Cookie, CF-*) stays
 * here; Authorization is the auth layer's decision, not a copy.
 */
const FORWARDED_HEADERS = ["accept", "user-agent", ...CROSS_HOST_HEADERS];

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Docker Hub needs one hop (registry → CDN), registry.k8s.io two; more than this is a loop. */
const MAX_REDIRECTS = 5;

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

/**
 * Fetches `url`, following redirects inside the Worker with `redirect: "manual"`: on a hop to
 * another origin only Range and If-* headers go along (never Authorization). Waits at most
 * `timeoutMs` for response headers (all hops together), then answers 504; a refused or failed
 * connection answers 502. The body is never touched: it streams to whoever reads it.
 */
export async function fetchUpstream(
  url: string,
  init: { method: "GET" | "HEAD"; headers: Headers },
  timeoutMs: number,
): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let current = new URL(url);
  let headers = init.headers;
  try {
    for (let hop = 0; ; hop++) {
      const response = await fetch(current, {
        method: init.method,
        headers,
        redirect: "manual",
        signal: controller.signal,
      });
      const location = response.headers.get("location");
      if (!REDIRECTS.has(response.status) || !location) return response;

      await response.body?.cancel();
      if (hop === MAX_REDIRECTS) {
        throw new RegistryError(
          "UNAVAILABLE",
          "upstream redirected too many times",
          { host: current.host },
          { status: 502 },
        );
      }
      const next = new URL(location, current);
      if (next.protocol !== "https:" && next.protocol !== "http:") {
        throw new RegistryError(
          "UNAVAILABLE",
          "upstream redirected to a non-HTTP URL",
          { host: current.host },
          { status: 502 },
        );
      }
      if (next.origin !== current.origin) headers = crossHostHeaders(headers);
      current = next;
    }
  } catch (error) {
    if (error instanceof RegistryError) throw error;
    if (controller.signal.aborted) {
      throw new RegistryError(
        "UNAVAILABLE",
        `upstream did not answer within ${timeoutMs} ms`,
        { host: current.host },
        { status: 504 },
      );
    }
    throw new RegistryError(
      "UNAVAILABLE",
      "upstream is unreachable",
      { host: current.host },
      { status: 502 },
    );
  } finally {
    clearTimeout(timer);
  }
}

function crossHostHeaders(headers: Headers): Headers {
  const kept = new Headers();
  for (const [name, value] of headers) {
    if (CROSS_HOST_HEADERS.includes(name)) kept.set(name, value);
  }
  return kept;
}

/**
 * Reads at most `limit` bytes of a body as text, stopping as soon as it is exceeded.
 * Returns undefined for a longer body: the caller decides whose fault that is.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<string | undefined> {
  if (!body) return "";
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    text += decoder.decode(value, { stream: true });
  }
}
