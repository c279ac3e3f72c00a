/** Routing: which upstream a request is for, and which repository and endpoint it names. */

import type { Config } from "./config";
import { RegistryError } from "./errors";
import { assertDigest, assertName, assertReference, truncate } from "./reference";
import type { Registry } from "./registries";

/**
 * How the registry was chosen. The proxy's token realm must carry an `ns` whenever the host
 * alone would not pick the same registry again (`ns` and path-prefix modes), so the route
 * survives the client's round trip through `/v2/auth`.
 */
export type RouteSource = "host" | "default" | "ns" | "prefix";

/** The upstream a request goes to and why. */
export interface Route {
  readonly registry: Registry;
  readonly source: RouteSource;
}

/** A repository on an upstream, as the client named it and as the upstream knows it. */
export interface RepositoryRoute extends Route {
  /** The name in the client's request path, prefix included (`ghcr.io/org/tool`, `nginx`). */
  readonly clientName: string;
  /** The name on the upstream (`org/tool`, `library/nginx`). */
  readonly repository: string;
}

/** The endpoints the proxy serves. */
export type Endpoint =
  | { kind: "help" }
  | { kind: "ping" }
  | { kind: "auth" }
  | { kind: "manifest"; name: string; reference: string }
  | { kind: "blob"; name: string; digest: string }
  | { kind: "tags"; name: string }
  | { kind: "referrers"; name: string; digest: string };

/** Repository endpoints, the ones that carry a name. */
export type RepositoryEndpoint = Extract<Endpoint, { name: string }>;

const REPOSITORY_PATH =
  /^\/v2\/(.+)\/(?:(manifests)\/([^/]+)|(blobs)\/([^/]+)|(tags)\/list|(referrers)\/([^/]+))$/;

/**
 * Maps a path to an endpoint and checks every name, tag and digest against the spec grammar.
 * Throws NOT_FOUND for paths the proxy does not serve and UNSUPPORTED for push endpoints.
 */
export function parseEndpoint(pathname: string): Endpoint {
  if (pathname === "/" || pathname === "") return { kind: "help" };
  if (pathname === "/v2" || pathname === "/v2/") return { kind: "ping" };
  if (pathname === "/v2/auth") return { kind: "auth" };

  if (pathname.startsWith("/v2/")) {
    if (/\/blobs\/uploads(?:\/|$)/.test(pathname)) {
      throw new RegistryError(
        "UNSUPPORTED",
        "this proxy is pull-only: pushing is not supported",
        undefined,
        {
          headers: { allow: "GET, HEAD" },
        },
      );
    }
    const m = REPOSITORY_PATH.exec(pathname);
    if (m) {
      const name = m[1]!;
      assertName(name);
      if (m[2]) {
        assertReference(m[3]!);
        return { kind: "manifest", name, reference: m[3]! };
      }
      if (m[4]) {
        assertDigest(m[5]!);
        return { kind: "blob", name, digest: m[5]! };
      }
      if (m[6]) return { kind: "tags", name };
      assertDigest(m[8]!);
      return { kind: "referrers", name, digest: m[8]! };
    }
  }
  throw new RegistryError("NOT_FOUND", "no such endpoint on this registry proxy", {
    path: truncate(pathname),
  });
}

/** The route the Host header picks: its first DNS label names a route, else the default. */
export function hostRoute(config: Config, hostname: string): Route {
  const label = hostname.toLowerCase().split(".", 1)[0] ?? "";
  const registry = config.byRoute.get(label);
  return registry
    ? { registry, source: "host" }
    : { registry: config.defaultRegistry, source: "default" };
}

/**
 * Resolves the route and upstream repository for a name the client used.
 * Precedence: a registry-name path prefix (`ghcr.io/org/tool`), then containerd's `ns`, then the host.
 * A prefix or `ns` that names a registry that is not configured is refused: no open proxy.
 */
export function resolveRepository(
  config: Config,
  byHost: Route,
  ns: string | null,
  clientName: string,
): RepositoryRoute {
  let route: Route;
  let name = clientName;

  const slash = clientName.indexOf("/");
  const first = slash > 0 ? clientName.slice(0, slash) : "";
  const prefixed = first ? config.byName.get(first) : undefined;
  if (prefixed) {
    route = { registry: prefixed, source: "prefix" };
    name = clientName.slice(slash + 1);
  } else if (first && looksLikeRegistry(first)) {
    // Docker's own rule: a first component with a dot or colon, or "localhost", is a registry host.
    throw unknownRegistry(first);
  } else {
    route = requestRoute(config, byHost, ns);
  }

  const repository = route.registry.libraryPrefix && !name.includes("/") ? `library/${name}` : name;
  assertName(repository);
  return { ...route, clientName, repository };
}

/** The route a request picks before any repository name: containerd's `ns` if given, else the host's. */
export function requestRoute(config: Config, byHost: Route, ns: string | null): Route {
  return ns === null ? byHost : { registry: namespaceRegistry(config, ns), source: "ns" };
}

/** The registry an `ns` parameter names, or NAME_UNKNOWN. */
function namespaceRegistry(config: Config, ns: string): Registry {
  const registry = config.byName.get(ns.toLowerCase());
  if (!registry) throw unknownRegistry(ns);
  return registry;
}

function looksLikeRegistry(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost";
}

function unknownRegistry(name: string): RegistryError {
  return new RegistryError("NAME_UNKNOWN", "registry is not an upstream of this proxy", {
    registry: truncate(name, 64),
  });
}
