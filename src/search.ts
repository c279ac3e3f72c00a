/**
 * `docker search <this host>/<term>`: Docker's v1 search API (`GET /v1/search?q=&n=&page=`, as the
 * Docker daemon and Synology's registry client send it), answered from Docker Hub's search for
 * the Docker Hub route, in Docker's JSON format, with the same access control as pulls.
 */

import { RegistryError } from "./errors";
import { fetchUpstream } from "./fetch-upstream";
import type { Isolate } from "./isolate";
import type { Trace } from "./log";
import { checkPolicy } from "./policy";
import { truncate } from "./reference";
import { requestTarget } from "./routing";
import { readCapped, upstreamError } from "./upstream-error";

/** Docker Hub's own bounds: 1 to 100 results a page (25 by default). */
const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE = 1000;
const MAX_QUERY = 255;
/** A page of 100 results is some tens of KiB; more is not a search answer. */
const MAX_BODY = 1024 * 1024;

/** One result, as Docker's `registry.SearchResult` reads it. */
interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

/**
 * Forwards the query to the route's search (Docker Hub only; other routes answer 404 NOT_FOUND
 * with why) and answers with the results this proxy would serve: a name refused by ALLOW / BLOCK
 * is left out.
 */
export async function serveSearch(isolate: Isolate, url: URL, trace: Trace): Promise<Response> {
  const { config } = isolate;
  const target = requestTarget(config, url);
  trace.target = target;
  const searchUrl = target.upstream.searchUrl;
  if (!searchUrl) {
    throw new RegistryError("NOT_FOUND", "only Docker Hub has docker search", {
      registry: target.upstream.name,
    });
  }
  const query = url.searchParams.get("q") ?? "";
  if (!query || query.length > MAX_QUERY) {
    throw new RegistryError("PARAMETER_INVALID", `q must be 1 to ${MAX_QUERY} characters`);
  }
  const pageSize = parseBounded(url.searchParams.get("n"), DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, "n");
  const page = parseBounded(url.searchParams.get("page"), 1, MAX_PAGE, "page");

  const upstreamUrl = new URL(searchUrl);
  upstreamUrl.searchParams.set("q", query);
  upstreamUrl.searchParams.set("n", String(pageSize));
  upstreamUrl.searchParams.set("page", String(page));
  const started = Date.now();
  const upstream = await fetchUpstream(upstreamUrl.href, {
    method: "GET",
    headers: new Headers({ accept: "application/json" }),
    timeoutMs: config.timeoutMs,
  });
  trace.upstream(upstream, Date.now() - started, undefined);
  if (!upstream.ok) throw await upstreamError(upstream, "upstream search");
  const text = await readCapped(upstream.body, MAX_BODY);
  const body = parseJson(text);
  if (!body || !Array.isArray(body.results)) {
    throw new RegistryError("UNAVAILABLE", "upstream search did not answer with results");
  }

  const results = body.results.flatMap((raw): SearchResult[] => {
    const result = readResult(raw);
    return result && served(isolate, url, result.name) ? [result] : [];
  });
  return Response.json({
    num_pages: number(body.num_pages, 1),
    num_results: number(body.num_results, results.length),
    results,
    page_size: pageSize,
    query,
    page,
  });
}

/** True when ALLOW / BLOCK let this proxy serve the repository a result names. */
function served(isolate: Isolate, url: URL, name: string): boolean {
  try {
    const repository = name.includes("/") ? name : `library/${name}`;
    checkPolicy(isolate.config, {
      ...requestTarget(isolate.config, url),
      clientName: name,
      repository,
    });
    return true;
  } catch {
    return false;
  }
}

function readResult(raw: unknown): SearchResult | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  // Docker Hub's newer answers name it `repo_name`; Docker reads `name`.
  const name = typeof r.name === "string" ? r.name : r.repo_name;
  if (typeof name !== "string" || !name) return undefined;
  return {
    name: truncate(name, 255),
    description: typeof r.description === "string" ? truncate(r.description, 1000) : "",
    star_count: number(r.star_count, 0),
    is_official: r.is_official === true,
    is_automated: r.is_automated === true,
  };
}

function parseBounded(raw: string | null, fallback: number, max: number, name: string): number {
  if (raw === null || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RegistryError("PARAMETER_INVALID", `${name} must be a whole number from 1 to ${max}`);
  }
  return value;
}

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text ?? "");
    return typeof value === "object" && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function number(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : fallback;
}
