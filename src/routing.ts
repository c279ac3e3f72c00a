/** Routing: which upstream a request is for, and which repository on it a name means. */

import type { Config } from "./config";
import { RegistryError } from "./errors";
import { assertName, truncate } from "./reference";
import type { Upstream } from "./upstreams";

/**
 * How the upstream was chosen. The proxy's token realm carries an `ns` whenever the host alone
 * would not pick the same upstream again (`ns` and path-prefix modes), so the choice survives the
 * client's round trip through `/v2/auth`.
 */
export type Via = "host" | "default" | "ns" | "prefix";

/** The upstream a request goes to, and why. */
export interface Target {
  readonly upstream: Upstream;
  readonly via: Via;
}

/** A repository on an upstream, as the client named it and as the upstream knows it. */
export interface RepositoryTarget extends Target {
  /** The name in the client's request path, prefix included (`ghcr.io/org/tool`, `nginx`). */
  readonly clientName: string;
  /** The name on the upstream (`org/tool`, `library/nginx`). */
  readonly repository: string;
}

/** The upstream the Host picks: its first DNS label names a route, else the default route. */
export function hostTarget(config: Config, hostname: string): Target {
  const label = hostname.toLowerCase().split(".", 1)[0] ?? "";
  const upstream = config.byRoute.get(label);
  return upstream
    ? { upstream, via: "host" }
    : { upstream: config.defaultUpstream, via: "default" };
}

/**
 * The upstream a request picks before any repository name: containerd's `ns` if given (a
 * registry this proxy does not serve is refused, never contacted), else the host's.
 */
export function requestTarget(config: Config, url: URL): Target {
  const ns = url.searchParams.get("ns");
  if (ns === null) return hostTarget(config, url.hostname);
  const upstream = config.byName.get(ns.toLowerCase());
  if (!upstream) throw unknownRegistry(ns);
  return { upstream, via: "ns" };
}

/**
 * The upstream and repository a name means. Precedence: a registry-name path prefix
 * (`ghcr.io/org/tool`), then containerd's `ns`, then the host. A prefix that names a registry
 * this proxy does not serve is refused: no open proxy. Docker Hub's one-component names get
 * `library/`.
 */
export function resolveRepository(config: Config, url: URL, clientName: string): RepositoryTarget {
  let target: Target;
  let name = clientName;

  const slash = clientName.indexOf("/");
  const first = slash > 0 ? clientName.slice(0, slash) : "";
  const prefixed = first ? config.byName.get(first) : undefined;
  if (prefixed) {
    target = { upstream: prefixed, via: "prefix" };
    name = clientName.slice(slash + 1);
  } else if (first && looksLikeRegistry(first)) {
    // Docker's own rule: a first component with a dot or colon, or "localhost", is a registry host.
    throw unknownRegistry(first);
  } else {
    target = requestTarget(config, url);
  }

  const repository =
    target.upstream.libraryPrefix && !name.includes("/") ? `library/${name}` : name;
  assertName(repository);
  return { ...target, clientName, repository };
}

function looksLikeRegistry(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost";
}

function unknownRegistry(name: string): RegistryError {
  return new RegistryError("NAME_UNKNOWN", "registry is not an upstream of this proxy", {
    registry: truncate(name, 64),
  });
}
