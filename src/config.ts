/** Configuration from wrangler vars and secrets: parsed and validated once per isolate. */

import { BUILTIN_REGISTRIES, type Registry } from "./registries";

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
  /** Secret. `user:password` pairs, comma-separated: when set, clients must `docker login`. */
  PROXY_USERS?: string;
  /** Comma-separated globs over registry-qualified names; when set, only matching names are served. */
  ALLOW?: string;
  /** Comma-separated globs over registry-qualified names that are never served. Wins over ALLOW. */
  BLOCK?: string;
  /** Secret. JSON: route name → list of `user:token` the proxy pulls with for clients that sent none. */
  UPSTREAM_CREDENTIALS?: string;
  /** `true` to use UPSTREAM_CREDENTIALS without PROXY_USERS, i.e. for anyone on the internet. */
  UPSTREAM_CREDENTIALS_PUBLIC?: string;
}

/** One `user:password` (or `user:token`) pair. */
export interface Credential {
  readonly username: string;
  readonly password: string;
}

/** The validated configuration. */
export interface Config {
  /** Every route, built-ins first, in display order. */
  readonly registries: readonly Registry[];
  /** Route name → registry. */
  readonly byRoute: ReadonlyMap<string, Registry>;
  /** Registry name or alias (lower case) → registry; used by `ns` and path prefixes. */
  readonly byName: ReadonlyMap<string, Registry>;
  readonly defaultRegistry: Registry;
  readonly timeoutMs: number;
  readonly cacheNamespace: string;
  /** Proxy users (PROXY_USERS); empty when the proxy is open. */
  readonly users: ReadonlyMap<string, string>;
  /** The PROXY_USERS text, the source of the key that signs proxy tokens. */
  readonly usersSecret: string;
  readonly allow: readonly RegExp[];
  readonly block: readonly RegExp[];
  /** Route name → credentials the proxy pulls with for clients that sent none. */
  readonly upstreamCredentials: ReadonlyMap<string, readonly Credential[]>;
}

/** A configuration the Worker cannot run with; the message names the var and the fix. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
  }
}

const ROUTE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// host[:port], as a registry name appears in image references.
const REGISTRY_NAME = /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?$/;
const DEFAULT_TIMEOUT_MS = 8000;
const CACHE_NAMESPACE = /^[a-z0-9-]{1,64}$/;

const cache = new WeakMap<object, Config>();

/** Returns the configuration for `env`, parsing it on first use in this isolate. Throws ConfigError. */
export function loadConfig(env: ConfigVars): Config {
  let config = cache.get(env);
  if (!config) {
    config = parseConfig(env);
    cache.set(env, config);
  }
  return config;
}

/** Parses and validates the vars; collects every problem before throwing. */
export function parseConfig(env: ConfigVars): Config {
  const problems: string[] = [];
  const registries = applyUpstreams(env.UPSTREAMS, problems);

  const byRoute = new Map(registries.map((r) => [r.route, r]));
  const byName = new Map<string, Registry>();
  for (const r of registries) {
    for (const name of [r.registry, ...r.aliases]) {
      const other = byName.get(name);
      if (other && other !== r) {
        problems.push(
          `UPSTREAMS: routes "${other.route}" and "${r.route}" both use registry name "${name}"`,
        );
      }
      byName.set(name, r);
    }
  }

  const defaultName = (env.DEFAULT_ROUTE ?? "").trim() || "docker";
  const defaultRegistry = byRoute.get(defaultName);
  if (!defaultRegistry) {
    problems.push(
      `DEFAULT_ROUTE: "${defaultName}" is not a route (routes: ${[...byRoute.keys()].join(", ")})`,
    );
  }

  const timeoutMs = parseTimeout(env.UPSTREAM_TIMEOUT_MS, problems);
  const cacheNamespace = (env.CACHE_NAMESPACE ?? "").trim() || "v1";
  if (!CACHE_NAMESPACE.test(cacheNamespace)) {
    problems.push(
      `CACHE_NAMESPACE: expected 1-64 characters of a-z, 0-9 and -, got "${cacheNamespace}"`,
    );
  }

  const users = parseUsers(env.PROXY_USERS, problems);
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

  if (problems.length || !defaultRegistry) throw new ConfigError(problems);
  return {
    registries,
    byRoute,
    byName,
    defaultRegistry,
    timeoutMs,
    cacheNamespace,
    users,
    usersSecret: users.size ? (env.PROXY_USERS ?? "") : "",
    allow,
    block,
    upstreamCredentials,
  };
}

/** `user:password,user2:password2`. Problems never quote a password. */
function parseUsers(raw: string | undefined, problems: string[]): Map<string, string> {
  const users = new Map<string, string>();
  if (!raw?.trim()) return users;
  raw.split(",").forEach((entry, index) => {
    const credential = parseCredential(entry.trim());
    if (!credential) {
      problems.push(`PROXY_USERS: entry ${index + 1} is not user:password`);
    } else if (users.has(credential.username)) {
      problems.push(`PROXY_USERS: user "${credential.username}" appears twice`);
    } else {
      users.set(credential.username, credential.password);
    }
  });
  return users;
}

/** `{"docker": ["user:token", ...], ...}` keyed by route name. */
function parseUpstreamCredentials(
  raw: string | undefined,
  byRoute: ReadonlyMap<string, Registry>,
  problems: string[],
): Map<string, Credential[]> {
  const result = new Map<string, Credential[]>();
  if (!raw?.trim()) return result;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    problems.push('UPSTREAM_CREDENTIALS: not valid JSON (expected {"docker": ["user:token"]})');
    return result;
  }
  if (!isObject(parsed)) {
    problems.push("UPSTREAM_CREDENTIALS: must be a JSON object of route name → list of user:token");
    return result;
  }
  for (const [route, list] of Object.entries(parsed)) {
    if (!byRoute.has(route)) {
      problems.push(`UPSTREAM_CREDENTIALS.${route}: not a route`);
      continue;
    }
    const entries = typeof list === "string" ? [list] : list;
    const credentials = Array.isArray(entries)
      ? entries.map((e) => (typeof e === "string" ? parseCredential(e) : undefined))
      : [];
    if (!credentials.length || credentials.some((c) => !c)) {
      problems.push(`UPSTREAM_CREDENTIALS.${route}: expected a list of "user:token" strings`);
      continue;
    }
    result.set(route, credentials as Credential[]);
  }
  return result;
}

function parseCredential(entry: string): Credential | undefined {
  const colon = entry.indexOf(":");
  if (colon <= 0 || colon === entry.length - 1) return undefined;
  return { username: entry.slice(0, colon), password: entry.slice(colon + 1) };
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
  return globs.flatMap((glob) => {
    if (!GLOB.test(glob) || !glob.includes("/")) {
      problems.push(
        `${name}: "${glob}" is not a glob over registry/repository names such as docker.io/library/*`,
      );
      return [];
    }
    const pattern = glob.replace(/[.\-/:]/g, "\\$&").replace(/\*/g, ".*");
    return [new RegExp(`^${pattern}$`)];
  });
}

/** Built-in table with the UPSTREAMS overrides and additions applied. */
function applyUpstreams(raw: string | undefined, problems: string[]): Registry[] {
  const registries = [...BUILTIN_REGISTRIES];
  if (!raw || !raw.trim()) return registries;

  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    problems.push(
      'UPSTREAMS: not valid JSON (expected an object such as {"docker":"https://..."})',
    );
    return registries;
  }
  if (!isObject(parsed)) {
    problems.push("UPSTREAMS: must be a JSON object of route name → URL");
    return registries;
  }

  for (const [route, value] of Object.entries(parsed)) {
    const where = `UPSTREAMS.${route}`;
    if (!ROUTE_NAME.test(route)) {
      problems.push(`${where}: a route name must be one DNS label (a-z, 0-9, -)`);
      continue;
    }
    const spec = typeof value === "string" ? { url: value } : value;
    if (!isObject(spec) || typeof spec.url !== "string") {
      problems.push(`${where}: expected a URL string or {"url": "...", "registry": "..."}`);
      continue;
    }
    const url = parseUpstreamUrl(spec.url, where, problems);
    if (!url) continue;

    const index = registries.findIndex((r) => r.route === route);
    if (index >= 0) {
      // A built-in keeps its identity and quirks; only where it is fetched from changes.
      const builtin = registries[index]!;
      if (spec.registry !== undefined && spec.registry !== builtin.registry) {
        problems.push(
          `${where}.registry: built-in route "${route}" is always "${builtin.registry}"`,
        );
        continue;
      }
      registries[index] = { ...builtin, url };
      continue;
    }

    const name = spec.registry ?? new URL(url).host;
    if (typeof name !== "string" || !REGISTRY_NAME.test(name)) {
      problems.push(
        `${where}.registry: expected a registry host name such as "harbor.example.com"`,
      );
      continue;
    }
    registries.push({ route, registry: name, url, aliases: [], libraryPrefix: false });
  }
  return registries;
}

/** Accepts http(s) URLs without credentials, query or fragment; returns it without a trailing slash. */
function parseUpstreamUrl(raw: string, where: string, problems: string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(`${where}: "${raw}" is not a URL`);
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    problems.push(`${where}: must be an http(s) URL, got ${url.protocol}`);
  } else if (url.username || url.password) {
    problems.push(`${where}: credentials do not belong in the URL`);
  } else if (url.search || url.hash) {
    problems.push(`${where}: must not have a query or fragment`);
  } else {
    return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  }
  return undefined;
}

function parseTimeout(raw: string | undefined, problems: string[]): number {
  if (raw === undefined || raw.trim() === "") return DEFAULT_TIMEOUT_MS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 100 || value > 120_000) {
    problems.push(
      `UPSTREAM_TIMEOUT_MS: expected milliseconds between 100 and 120000, got "${raw}"`,
    );
    return DEFAULT_TIMEOUT_MS;
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
