/** What a request's path asks for, checked against the distribution-spec grammar, and which methods it takes. */

import { RegistryError } from "./errors";
import { assertDigest, assertName, isDigest, isValidTag, truncate } from "./reference";

/** The endpoints the proxy serves. */
export type Endpoint =
  | { kind: "help" }
  | { kind: "ping" }
  | { kind: "token" }
  | { kind: "search" }
  | { kind: "manifest"; name: string; reference: string }
  | { kind: "blob"; name: string; digest: string }
  | { kind: "tags"; name: string }
  | { kind: "referrers"; name: string; digest: string };

/** Repository endpoints, the ones that carry a name. */
export type RepositoryEndpoint = Extract<Endpoint, { name: string }>;

/** Methods of a pull-only registry; the token endpoint also takes containerd's OAuth2 POST form. */
const READ = ["GET", "HEAD"] as const;
const TOKEN = ["GET", "HEAD", "POST"] as const;

const REPOSITORY_PATH =
  /^\/v2\/(.+)\/(?:(manifests)\/([^/]+)|(blobs)\/([^/]+)|(tags)\/list|(referrers)\/([^/]+))$/;

/**
 * Maps a path to an endpoint and checks every name and digest against the spec grammar.
 * Throws NOT_FOUND for paths the proxy does not serve and UNSUPPORTED for push endpoints.
 */
export function parseEndpoint(pathname: string): Endpoint {
  if (pathname === "/" || pathname === "") return { kind: "help" };
  if (pathname === "/v2" || pathname === "/v2/") return { kind: "ping" };
  if (pathname === "/v2/auth") return { kind: "token" };
  if (pathname === "/v1/search") return { kind: "search" };

  if (pathname.startsWith("/v2/")) {
    if (/\/blobs\/uploads(?:\/|$)/.test(pathname)) {
      throw new RegistryError(
        "UNSUPPORTED",
        "this proxy is pull-only: pushing is not supported",
        undefined,
        {
          headers: { allow: READ.join(", ") },
        },
      );
    }
    const m = REPOSITORY_PATH.exec(pathname);
    if (m) {
      const name = m[1]!;
      assertName(name);
      if (m[2]) return { kind: "manifest", name, reference: checkReference(m[3]!) };
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

/**
 * A manifest reference: a digest must be well formed (400 DIGEST_INVALID); a reference that is
 * neither a digest nor a tag names no manifest, so it is unknown (404), as registries answer it
 * (distribution-spec conformance, "GET request to invalid manifest reference").
 */
function checkReference(reference: string): string {
  if (isDigest(reference)) assertDigest(reference);
  else if (!isValidTag(reference)) {
    throw new RegistryError("MANIFEST_UNKNOWN", "manifest unknown: not a valid tag or digest", {
      reference: truncate(reference),
    });
  }
  return reference;
}

/** The methods an endpoint takes; anything else is 405 with this list in `Allow`. */
export function allowedMethods(endpoint: Endpoint): readonly string[] {
  return endpoint.kind === "token" ? TOKEN : READ;
}

/** Throws 405 UNSUPPORTED unless the endpoint takes the method. */
export function checkMethod(endpoint: Endpoint, method: string): void {
  const allowed = allowedMethods(endpoint);
  if (!allowed.includes(method)) {
    throw new RegistryError(
      "UNSUPPORTED",
      `${truncate(method, 16)} is not supported: this proxy is pull-only`,
      undefined,
      {
        headers: { allow: allowed.join(", ") },
      },
    );
  }
}
