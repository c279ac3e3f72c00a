/**
 * Configuration from wrangler vars and secrets, parsed and validated once per isolate. A problem
 * names the variable, the entry's position and the kind of problem, never a value: values may be
 * secrets, and the problems reach clients.
 */

import { parseCredential, type Credential } from "./basic-auth";
import { parseHttpUrl } from "./http-url";
import { parseImageReference } from "./image-reference";
import { BUILTIN_UPSTREAMS, type Upstream } from "./upstreams";

/** The vars this module reads; every one is optional (see wrangler.toml for each). */
export interface ConfigVars {
  /** JSON object: route name → base URL, or `{ "url", "registry" }` for a new route. */
  UPSTREAMS?: string;
  /** Route for hosts whose first label names no route. Default `docker`. */
  DEFAULT_ROUTE?: string;
  /** Milliseconds to wait for an upstream's response headers. Default 8000. */
  UPSTREAM_TIMEOUT_MS?: string;
  /** Prefix of every cache key; change it to start with an empty cache. Default `v1`. */
  CACHE_NAMESPACE?: string;
  /** Largest object the cache stores, in MiB; larger ones stream through unstored. Default 1024. */
  CACHE_MAX_OBJECT_MB?: string;
  /** Secret. `user:password` pairs, comma-separated: when set, clients must `docker login`. */
  PROXY_USERS?: string;
  /** Secret. Random text that keys the tokens the proxy hands out (see README "Security"). */
  TOKEN_SECRET?: string;
  /** Comma-separated globs over registry-qualified names; when set, only matching names are served. */
  ALLOW?: string;
  /** Comma-separated globs over registry-qualified names that are never served. Wins over ALLOW. */
  BLOCK?: string;
  /** Secret. JSON: route name → list of `user:token` the proxy pulls with for clients that sent none. */
  UPSTREAM_CREDENTIALS?: string;
  /** `true` to use UPSTREAM_CREDENTIALS without PROXY_USERS, i.e. for anyone on the internet. */
  UPSTREAM_CREDENTIALS_PUBLIC?: string;
  /** `true` to put the client's IP address in each request's log line. */
  LOG_CLIENT_IP?: string;
  /** Images the Cron Trigger keeps warm: references, comma- or newline-separated, each optionally followed by platforms. */
  PREWARM?: string;
  /** Upstream requests one warm-up run may make (the plan's subrequest limit, with room to spare). Default 40. */
  PREWARM_SUBREQUESTS?: string;
}

/** One image the Cron Trigger keeps warm. */
export interface PrewarmImage {
  readonly upstream: Upstream;
  readonly repository: string;
  /** The tag or digest to resolve. */
  readonly reference: string;
  /** `os/arch[/variant]` of an index to keep; empty means every platform. */
  readonly platforms: readonly string[];
}

/** The validated configuration. */
export interface Config {
  /** Every upstream, built-ins first, in display order. */
  readonly upstreams: readonly Upstream[];
  /** Route name → upstream. */
  readonly byRoute: ReadonlyMap<string, Upstream>;
  /** Registry name or alias (lower case) → upstream; used by `ns` and path prefixes. */
  readonly byName: ReadonlyMap<string, Upstream>;
  readonly defaultUpstream: Upstream;
  readonly timeoutMs: number;
  readonly cacheNamespace: string;
  /** Largest object the content store keeps, in bytes. */
  readonly maxStoredBytes: number;
  /** Proxy users (PROXY_USERS): name → password. Empty when the proxy is open. */
  readonly users: ReadonlyMap<string, string>;
  /** TOKEN_SECRET, when set. */
  readonly tokenSecret: string | undefined;
  readonly allow: readonly RegExp[];
  readonly block: readonly RegExp[];
  /** Route name → pairs the proxy pulls with for clients that sent none. */
  readonly upstreamCredentials: ReadonlyMap<string, readonly Credential[]>;
  readonly logClientIp: boolean;
  readonly prewarm: readonly PrewarmImage[];
  readonly prewarmSubrequests: number;
}

/** A configuration the Worker cannot run with. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
  }
}

/** True when clients must log in to this proxy (PROXY_USERS). */
export function isLocked(config: Config): boolean {
  return config.users.size > 0;
}

const ROUTE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// host[:port], as a registry name appears in image references.
const REGISTRY_NAME = /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?$/;
const CACHE_NAMESPACE = /^[a-z0-9-]{1,64}$/;
const MiB = 1024 * 1024;
/** A single R2 put from a Worker takes at most 5 GiB; nothing bigger can be stored whole. */
const MAX_OBJECT_MB = 5 * 1024;

/** Parses and validates the vars; collects every problem before throwing. */
export function parseConfig(env: ConfigVars): Config {
  const problems: string[] = [];
  const upstreams = applyUpstreams(env.UPSTREAMS, problems);

  const byRoute = new Map(upstreams.map((u) => [u.route, u]));
  const byName = new Map<string, Upstream>();
  for (const upstream of upstreams) {
    for (const name of [upstream.name, ...upstream.aliases]) {
      const other = byName.get(name);
      if (other && other !== upstream) problems.push("UPSTREAMS: two routes use one registry name");
      byName.set(name, upstream);
    }
  }

  const defaultUpstream = byRoute.get((env.DEFAULT_ROUTE ?? "").trim() || "docker");
  if (!defaultUpstream) problems.push("DEFAULT_ROUTE: names no route");

  const timeoutMs = parseInteger(
    "UPSTREAM_TIMEOUT_MS",
    env.UPSTREAM_TIMEOUT_MS,
    8000,
    [100, 120_000],
    problems,
  );
  const maxStoredMb = parseInteger(
    "CACHE_MAX_OBJECT_MB",
    env.CACHE_MAX_OBJECT_MB,
    1024,
    [0, MAX_OBJECT_MB],
    problems,
  );
  const cacheNamespace = (env.CACHE_NAMESPACE ?? "").trim() || "v1";
  if (!CACHE_NAMESPACE.test(cacheNamespace)) {
    problems.push("CACHE_NAMESPACE: expected 1-64 characters of a-z, 0-9 and -");
  }

  const users = parseUsers(env.PROXY_USERS, problems);
  const tokenSecret = env.TOKEN_SECRET?.trim() || undefined;
  if (tokenSecret && tokenSecret.length < 16) {
    problems.push("TOKEN_SECRET: use at least 16 random characters");
  }
  const allow = parseGlobs("ALLOW", env.ALLOW, problems);
  const block = parseGlobs("BLOCK", env.BLOCK, problems);
  const upstreamCredentials = parseUpstreamCredentials(env.UPSTREAM_CREDENTIALS, byRoute, problems);
  if (
    upstreamCredentials.size &&
    !users.size &&
    env.UPSTREAM_CREDENTIALS_PUBLIC?.trim() !== "true"
  ) {
    problems.push(
      "UPSTREAM_CREDENTIALS is set but PROXY_USERS is not: anyone who finds this proxy would pull " +
        "with your registry accounts (their rate limits, their private repositories). Set PROXY_USERS, " +
        'or set UPSTREAM_CREDENTIALS_PUBLIC = "true" if that is really what you want',
    );
  }

  const prewarm = parsePrewarm(env.PREWARM, byName, problems);
  const prewarmSubrequests = parseInteger(
    "PREWARM_SUBREQUESTS",
    env.PREWARM_SUBREQUESTS,
    40,
    [10, 10_000],
    problems,
  );

  if (problems.length || !defaultUpstream) throw new ConfigError(problems);
  return {
    upstreams,
    byRoute,
    byName,
    defaultUpstream,
    timeoutMs,
    cacheNamespace,
    maxStoredBytes: maxStoredMb * MiB,
    users,
    tokenSecret,
    allow,
    block,
    upstreamCredentials,
    logClientIp: env.LOG_CLIENT_IP?.trim() === "true",
    prewarm,
    prewarmSubrequests,
  };
}

const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/;

/** `docker.io/library/nginx:1.27 linux/amd64 linux/arm64, ghcr.io/org/app:v1`. */
function parsePrewarm(
  raw: string | undefined,
  byName: ReadonlyMap<string, Upstream>,
  problems: string[],
): PrewarmImage[] {
  if (!raw?.trim()) return [];
  const entries = raw
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter(Boolean);
  return entries.flatMap((entry, index) => {
    const where = `PREWARM: entry ${index + 1}`;
    const [text, ...platforms] = entry.split(/\s+/) as [string, ...string[]];
    const reference = parseImageReference(text);
    const upstream = reference && byName.get(reference.registry);
    if (!reference) {
      problems.push(`${where} is not an image reference`);
    } else if (!upstream) {
      problems.push(`${where} names a registry that is not an upstream of this proxy`);
    } else if (!platforms.every((p) => PLATFORM.test(p))) {
      problems.push(`${where}: platforms are written os/arch or os/arch/variant`);
    } else {
      const repository =
        upstream.libraryPrefix && !reference.repository.includes("/")
          ? `library/${reference.repository}`
          : reference.repository;
      return [{ upstream, repository, reference: reference.digest ?? reference.tag!, platforms }];
    }
    return [];
  });
}

/** `user:password,user2:password2`. */
function parseUsers(raw: string | undefined, problems: string[]): Map<string, string> {
  const users = new Map<string, string>();
  if (!raw?.trim()) return users;
  raw.split(",").forEach((entry, index) => {
    const credential = parseCredential(entry.trim());
    if (!credential) {
      problems.push(`PROXY_USERS: entry ${index + 1} is not user:password`);
    } else if (users.has(credential.username)) {
      problems.push(`PROXY_USERS: entry ${index + 1} repeats a user name`);
    } else {
      users.set(credential.username, credential.password);
    }
  });
  return users;
}

/** `{"docker": ["user:token", ...], ...}` keyed by route name. */
function parseUpstreamCredentials(
  raw: string | undefined,
  byRoute: ReadonlyMap<string, Upstream>,
  problems: string[],
): Map<string, Credential[]> {
  const result = new Map<string, Credential[]>();
  if (!raw?.trim()) return result;
  const value = parseJsonObject(
    "UPSTREAM_CREDENTIALS",
    raw,
    '{"docker": ["user:token"]}',
    problems,
  );
  Object.entries(value ?? {}).forEach(([route, list], index) => {
    const where = `UPSTREAM_CREDENTIALS: entry ${index + 1}`;
    if (!byRoute.has(route)) {
      problems.push(`${where} is not keyed by a route name`);
      return;
    }
    const entries = typeof list === "string" ? [list] : list;
    const credentials = Array.isArray(entries)
      ? entries.map((e) => (typeof e === "string" ? parseCredential(e) : undefined))
      : [];
    if (!credentials.length || credentials.some((c) => !c)) {
      problems.push(`${where} is not a list of "user:token" strings`);
      return;
    }
    result.set(route, credentials as Credential[]);
  });
  return result;
}

const GLOB = /^[a-z0-9._\-/:*]+$/;

/**
 * Comma-separated globs over registry-qualified names (`docker.io/library/*`); `*` matches any
 * run of characters, slashes included.
 */
function parseGlobs(name: string, raw: string | undefined, problems: string[]): RegExp[] {
  if (!raw?.trim()) return [];
  const globs = raw
    .split(",")
    .map((g) => g.trim().toLowerCase())
    .filter(Boolean);
  return globs.flatMap((glob, index) => {
    if (!GLOB.test(glob) || !glob.includes("/")) {
      problems.push(
        `${name}: entry ${index + 1} is not a glob over registry/repository names such as docker.io/library/*`,
      );
      return [];
    }
    const pattern = glob.replace(/[.\-/:]/g, "\\$&").replace(/\*/g, ".*");
    return [new RegExp(`^${pattern}$`)];
  });
}

/** Built-in table with the UPSTREAMS overrides and additions applied. */
function applyUpstreams(raw: string | undefined, problems: string[]): Upstream[] {
  const upstreams = [...BUILTIN_UPSTREAMS];
  if (!raw?.trim()) return upstreams;
  const value = parseJsonObject("UPSTREAMS", raw, '{"docker": "https://..."}', problems);

  Object.entries(value ?? {}).forEach(([route, entry], index) => {
    const where = `UPSTREAMS: entry ${index + 1}`;
    if (!ROUTE_NAME.test(route)) {
      problems.push(`${where}: a route name must be one DNS label (a-z, 0-9, -)`);
      return;
    }
    const spec = typeof entry === "string" ? { url: entry } : entry;
    if (!isObject(spec) || typeof spec.url !== "string") {
      problems.push(`${where}: expected a URL string or {"url": "...", "registry": "..."}`);
      return;
    }
    const url = parseUpstreamUrl(spec.url, where, problems);
    if (!url) return;

    const builtinIndex = upstreams.findIndex((u) => u.route === route);
    if (builtinIndex >= 0) {
      // A built-in keeps its identity and quirks; only where it is fetched from changes.
      const builtin = upstreams[builtinIndex]!;
      if (spec.registry !== undefined && spec.registry !== builtin.name) {
        problems.push(`${where}: a built-in route keeps its registry name`);
        return;
      }
      // Moved, Docker Hub's search goes where its registry went.
      const searchUrl = builtin.searchUrl && `${url}/v1/search`;
      upstreams[builtinIndex] = { ...builtin, url, ...(searchUrl ? { searchUrl } : {}) };
      return;
    }

    const name = spec.registry ?? new URL(url).host;
    if (typeof name !== "string" || !REGISTRY_NAME.test(name)) {
      problems.push(`${where}: "registry" must be a registry host name such as harbor.example.com`);
      return;
    }
    upstreams.push({ route, name, url, aliases: [], libraryPrefix: false });
  });
  return upstreams;
}

/** Accepts http(s) URLs without credentials, query or fragment; returns it without a trailing slash. */
function parseUpstreamUrl(raw: string, where: string, problems: string[]): string | undefined {
  const url = parseHttpUrl(raw);
  if (!url) {
    problems.push(`${where}: not an http(s) URL`);
  } else if (url.username || url.password) {
    problems.push(`${where}: credentials do not belong in the URL`);
  } else if (url.search || url.hash) {
    problems.push(`${where}: the URL must not have a query or fragment`);
  } else {
    return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  }
  return undefined;
}

function parseJsonObject(
  name: string,
  raw: string,
  example: string,
  problems: string[],
): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    problems.push(`${name}: not valid JSON (expected an object such as ${example})`);
    return undefined;
  }
  if (!isObject(value)) {
    problems.push(`${name}: expected a JSON object such as ${example}`);
    return undefined;
  }
  return value;
}

function parseInteger(
  name: string,
  raw: string | undefined,
  fallback: number,
  [min, max]: [number, number],
  problems: string[],
): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name}: expected a whole number between ${min} and ${max}`);
    return fallback;
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
