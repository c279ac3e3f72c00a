/**
 * The skeleton every replica registry host shares: route a request to ping, a repository endpoint
 * or a host-specific path, and leave every decision that differs between registries to the replica.
 */

import { serveBytes } from "../helpers/fake-registry";
import type { Content, Image, Manifest } from "./content";
import {
  manifestResponse,
  negotiate,
  ociError,
  parseApiPath,
  tagsList,
  type Catalog,
  type ManifestAnswer,
  type NegotiationOptions,
  type PagingOptions,
  type Repository,
} from "./distribution";

export type Endpoint = "manifests" | "blobs" | "tags";
type Answer = Response | Promise<Response>;

/** What one replica registry host does; everything optional has distribution's default. */
export interface RegistrySpec {
  catalog: Catalog;
  negotiation: NegotiationOptions;
  paging: PagingOptions;
  /** `GET /v2/`. */
  ping(request: Request): Answer;
  /** Access to a repository endpoint: a refusal, or undefined to serve it. Runs before the lookup. */
  authorize(request: Request, name: string, endpoint: Endpoint): Answer | undefined;
  /** Paths of this host outside the repository API (a token endpoint, blob downloads). */
  routes?(request: Request, url: URL): Answer | undefined;
  /** Default: 404 NAME_UNKNOWN, as distribution answers a granted pull of a missing repository. */
  unknownRepository?(request: Request, name: string): Answer;
  /** Extra manifest headers, or a refusal (Docker Hub's rate limit). */
  manifest?(request: Request, manifest: Manifest): Record<string, string | null> | Response;
  /** Default: the bytes, straight from the registry (distribution's filesystem storage). */
  blob?(request: Request, blob: Content, name: string): Answer;
  /** Default: distribution's answer for a path it does not know. */
  notFound?(request: Request, url: URL): Answer;
}

export function registryHandler(spec: RegistrySpec) {
  return async (request: Request, url: URL): Promise<Response> => {
    const extra = spec.routes?.(request, url);
    if (extra) return extra;
    if (url.pathname === "/v2/" || url.pathname === "/v2") return spec.ping(request);
    const api = parseApiPath(url.pathname);
    if (!api) {
      return spec.notFound
        ? spec.notFound(request, url)
        : new Response("404 page not found\n", {
            status: 404,
            headers: { "content-type": "text/plain; charset=utf-8" },
          });
    }
    const refused = await spec.authorize(request, api.name, api.kind);
    if (refused) return refused;
    const repository = spec.catalog.get(api.name);
    if (!repository) {
      return spec.unknownRepository
        ? spec.unknownRepository(request, api.name)
        : ociError(404, "NAME_UNKNOWN", "repository name not known to registry", {
            name: api.name,
          });
    }
    if (api.kind === "tags") return tagsList(repository, url, spec.paging);
    if (api.kind === "manifests") return manifest(spec, request, repository, api.reference);
    const blob = repository.blobs.get(api.reference);
    if (!blob) return ociError(404, "BLOB_UNKNOWN", "blob unknown to registry", api.reference);
    return spec.blob
      ? spec.blob(request, blob, api.name)
      : serveBytes(request, blob.bytes, {
          "content-type": "application/octet-stream",
          "docker-content-digest": blob.digest,
          etag: `"${blob.digest}"`,
        });
  };
}

async function manifest(
  spec: RegistrySpec,
  request: Request,
  repository: Repository,
  reference: string,
): Promise<Response> {
  const answer = await negotiate(
    repository,
    reference,
    request.headers.get("accept"),
    spec.negotiation,
  );
  if (!answer.ok) return ociError(answer.status, answer.code, answer.message);
  const extra = spec.manifest?.(request, answer.manifest) ?? {};
  if (extra instanceof Response) return extra;
  return manifestResponse(request, answer.manifest, extra);
}

/** One image a replica holds, under the repository name clients (and the registry) use. */
export interface ReplicaImage {
  readonly repository: string;
  readonly tag: string;
  readonly image: Image;
}

/** A replica of one built-in registry, and what tests may ask it. */
export interface Replica {
  /** The registry's name, as in `ns=` and path prefixes. */
  readonly registry: string;
  /** The proxy's route name for it (`<route>.example.com`). */
  readonly route: string;
  /** Every host of the replica. */
  readonly hosts: readonly string[];
  /** `[0]` a multi-arch index, `[1]` a single-platform image; more may follow. */
  readonly images: readonly ReplicaImage[];
  /** A repository with enough tags to page through. */
  readonly paged: { readonly repository: string; readonly tags: readonly string[] };
  /** A repository name this registry does not have. */
  readonly missingRepository: string;
  /** What the registry itself answers a client with this Accept for a manifest. */
  expectManifest(
    repository: string,
    reference: string,
    accept: string | null,
  ): Promise<ManifestAnswer>;
}

/** `expectManifest` for a replica whose repositories are in `catalog`. */
export function expectFrom(catalog: Catalog, negotiation: NegotiationOptions) {
  return async (
    repository: string,
    reference: string,
    accept: string | null,
  ): Promise<ManifestAnswer> => {
    const repo = catalog.get(repository);
    if (!repo) {
      return {
        ok: false,
        status: 404,
        code: "NAME_UNKNOWN",
        message: "repository name not known to registry",
      };
    }
    return negotiate(repo, reference, accept, negotiation);
  };
}

/** The `scope` parameters of a token request. */
export function requestedScopes(url: URL): string[] {
  return url.searchParams
    .getAll("scope")
    .flatMap((s) => s.split(" "))
    .filter(Boolean);
}

/** The repository of a `repository:<name>:pull` scope, if it is one. */
export function pullScopeName(scope: string): string | undefined {
  const m = /^repository(?:\([^)]*\))?:(.+):([a-z*,]+)$/.exec(scope);
  return m && m[2]!.split(",").includes("pull") ? m[1] : undefined;
}

/** Hex of a sha256 digest. */
export function hexOf(digest: string): string {
  return digest.slice("sha256:".length);
}

/** A short deterministic signature, so storage hosts can check their presigned URLs. */
export function signature(...parts: string[]): string {
  let h = 5381;
  for (const c of parts.join("|")) h = (Math.imul(h, 33) ^ c.charCodeAt(0)) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** Every blob of a catalog by digest, as a registry's shared storage sees them. */
export function blobsOf(images: readonly Image[]): Map<string, Content> {
  const blobs = new Map<string, Content>();
  for (const image of images) for (const b of image.blobs) blobs.set(b.digest, b);
  return blobs;
}

/** An XML error page, as S3, R2, GCS and Azure storage answer. */
export function xmlError(status: number, code: string, message: string): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    { status, headers: { "content-type": "application/xml" } },
  );
}
