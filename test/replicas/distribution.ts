/**
 * What most registries share (they run distribution/distribution or copy its behaviour): stored
 * repositories, manifest negotiation by Accept, OCI error bodies and tags/list paging.
 * Each replica picks the rules its registry follows and adds its own quirks around them.
 */

import {
  LINUX_AMD64,
  MediaType,
  schema1,
  type Content,
  type Image,
  type Manifest,
} from "./content";

/** One repository: tags, manifests by digest (all of them, also those under an index), blobs. */
export class Repository {
  readonly tags = new Map<string, string>();
  readonly manifests = new Map<string, Manifest>();
  readonly blobs = new Map<string, Content>();

  constructor(readonly name: string) {}

  /** Stores an image and points `tags` at its root manifest. */
  add(image: Image, ...tags: string[]): this {
    for (const m of image.manifests) this.manifests.set(m.digest, m);
    for (const b of image.blobs) this.blobs.set(b.digest, b);
    for (const tag of tags) this.tags.set(tag, image.root.digest);
    return this;
  }
}

/** A registry's repositories by name. */
export class Catalog {
  private readonly repositories = new Map<string, Repository>();

  add(name: string, image: Image, ...tags: string[]): Repository {
    const repository = this.repositories.get(name) ?? new Repository(name);
    this.repositories.set(name, repository);
    return repository.add(image, ...tags);
  }

  get(name: string): Repository | undefined {
    return this.repositories.get(name);
  }
}

/**
 * How a registry picks the manifest it answers with from the client's Accept:
 * - `distribution`: distribution/distribution registry/handlers/manifests.go (registries.md §1
 *   "Accept handling" [S]): an OCI manifest or index the client does not accept is a 404
 *   MANIFEST_UNKNOWN; a Docker manifest list asked for by tag by a client that does not accept lists
 *   is answered with its linux/amd64 manifest (400 MANIFEST_INVALID if that is schema 2 and the
 *   client does not accept schema 2 either); everything else is served as stored.
 * - `quay`: quay endpoints/v2/manifest.py (registries.md §2 "Manifests" [S]): by tag, a stored type
 *   the client does not accept is converted, falling back to schema 1 of linux/amd64; with no Accept
 *   at all, schema 1. By digest, the manifest as stored, whatever the Accept.
 * - `schema1-without-accept`: mcr.microsoft.com (registries.md §8 [T]): no Accept at all gets
 *   schema 1; otherwise `distribution` (unknown in registries.md: assumed).
 */
export type AcceptRule = "distribution" | "quay" | "schema1-without-accept";

export type ManifestAnswer =
  | { ok: true; manifest: Manifest }
  | { ok: false; status: number; code: string; message: string };

/** Media types in an Accept header, parameters dropped, in order. */
export function acceptedTypes(accept: string | null): string[] {
  if (!accept) return [];
  return accept
    .split(",")
    .map((part) => part.split(";")[0]!.trim().toLowerCase())
    .filter(Boolean);
}

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Options of a registry's negotiation. */
export interface NegotiationOptions {
  rule: AcceptRule;
  /** ghcr.io writes "Accept header" where distribution writes "accept header" (registries.md §6 [T]). */
  acceptWord?: string;
}

/** The manifest (or the error) a registry answers for `reference` given the client's Accept. */
export async function negotiate(
  repository: Repository,
  reference: string,
  accept: string | null,
  options: NegotiationOptions,
): Promise<ManifestAnswer> {
  const byTag = !DIGEST.test(reference);
  const digest = byTag ? repository.tags.get(reference) : reference;
  const stored = digest ? repository.manifests.get(digest) : undefined;
  if (!stored) {
    return {
      ok: false,
      status: 404,
      code: "MANIFEST_UNKNOWN",
      message: byTag ? `manifest tagged by "${reference}" is not found` : "manifest unknown",
    };
  }
  const types = acceptedTypes(accept);
  const rule =
    options.rule === "schema1-without-accept"
      ? types.length === 0 && byTag
        ? "quay"
        : "distribution"
      : options.rule;

  if (rule === "quay") {
    if (!byTag || types.includes(stored.mediaType)) return { ok: true, manifest: stored };
    return schema1Fallback(repository, reference, stored);
  }

  const word = options.acceptWord ?? "accept";
  if (stored.mediaType === MediaType.ociManifest && !types.includes(MediaType.ociManifest)) {
    return unknown(`OCI manifest found, but ${word} header does not support OCI manifests`);
  }
  if (stored.mediaType === MediaType.ociIndex && !types.includes(MediaType.ociIndex)) {
    return unknown(`OCI index found, but ${word} header does not support OCI indexes`);
  }
  if (byTag && stored.mediaType === MediaType.dockerList && !types.includes(MediaType.dockerList)) {
    const amd64 = platformChild(repository, stored);
    if (!amd64) return unknown("manifest unknown");
    if (amd64.mediaType === MediaType.dockerManifest && !types.includes(MediaType.dockerManifest)) {
      return {
        ok: false,
        status: 400,
        code: "MANIFEST_INVALID",
        message: "Schema 2 manifest not supported by client",
      };
    }
    return { ok: true, manifest: amd64 };
  }
  return { ok: true, manifest: stored };
}

function unknown(message: string): ManifestAnswer {
  return { ok: false, status: 404, code: "MANIFEST_UNKNOWN", message };
}

/** The linux/amd64 manifest of an index (distribution's defaultArch/defaultOS). */
function platformChild(repository: Repository, index: Manifest): Manifest | undefined {
  const child = index.children.find(
    (d) =>
      d.platform?.architecture === LINUX_AMD64.architecture && d.platform.os === LINUX_AMD64.os,
  );
  return child ? repository.manifests.get(child.digest) : undefined;
}

async function schema1Fallback(
  repository: Repository,
  tag: string,
  stored: Manifest,
): Promise<ManifestAnswer> {
  if (stored.kind === "schema1") return { ok: true, manifest: stored };
  const image = stored.kind === "index" ? platformChild(repository, stored) : stored;
  const config = image ? repository.blobs.get(image.blobs[0]!.digest) : undefined;
  if (!image || !config) return unknown("manifest unknown");
  return { ok: true, manifest: await schema1(repository.name, tag, image, config) };
}

/** The OCI error body (`{"errors":[{code,message,detail}]}`). */
export function ociError(
  status: number,
  code: string,
  message: string,
  detail: unknown = null,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ errors: [{ code, message, detail }] }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** A manifest answer as distribution writes it: type, length, digest and ETag; HEAD without body. */
export function manifestResponse(
  request: Request,
  manifest: Manifest,
  extra: Record<string, string | null> = {},
): Response {
  const headers = new Headers({
    "content-type": manifest.mediaType,
    "content-length": String(manifest.bytes.length),
    "docker-content-digest": manifest.digest,
    etag: `"${manifest.digest}"`,
  });
  // A null value removes a header this registry does not send.
  for (const [name, value] of Object.entries(extra)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return new Response(request.method === "HEAD" ? null : manifest.bytes, { headers });
}

/** How a registry pages tags/list. */
export interface PagingOptions {
  /** Page size when the client gives no `n`; undefined = every tag at once. */
  defaultPage?: number;
  /** Distribution writes a relative `Link`; quay an absolute one (registries.md §2 [S]). */
  link: "relative" | "absolute";
  /** Origin for an absolute Link. */
  origin?: string;
  /** Order of the query in the Link: distribution writes `last` first, quay `n` first. */
  order?: "last-first" | "n-first";
  /** Extra fields of the JSON body (gcr.io's `child` and `manifest`). */
  extra?: (tags: string[]) => Record<string, unknown>;
}

/** tags/list with `n` and `last` (distribution registry/handlers/tags.go, registries.md §1 [S]). */
export function tagsList(repository: Repository, url: URL, options: PagingOptions): Response {
  const all = [...repository.tags.keys()].sort();
  const last = url.searchParams.get("last");
  const nParam = url.searchParams.get("n");
  const n = nParam !== null ? Number(nParam) : options.defaultPage;
  const after = last !== null ? all.filter((t) => t > last) : all;
  const page = n !== undefined ? after.slice(0, n) : after;
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (n !== undefined && page.length < after.length) {
    const query = new URLSearchParams();
    const lastTag = page[page.length - 1] ?? "";
    if (options.order === "n-first") {
      query.set("n", String(n));
      query.set("last", lastTag);
    } else {
      query.set("last", lastTag);
      query.set("n", String(n));
    }
    const path = `/v2/${repository.name}/tags/list?${query}`;
    const target = options.link === "absolute" ? `${options.origin}${path}` : path;
    headers.link = `<${target}>; rel="next"`;
  }
  const body = { name: repository.name, tags: page, ...(options.extra?.(page) ?? {}) };
  return new Response(JSON.stringify(body), { headers });
}

/** Splits a registry API path into repository, endpoint and reference. */
export function parseApiPath(
  pathname: string,
): { name: string; kind: "manifests" | "blobs" | "tags"; reference: string } | undefined {
  const m = /^\/v2\/(.+?)\/(?:(manifests|blobs)\/([^/]+)|tags\/list)$/.exec(pathname);
  if (!m) return undefined;
  return m[2]
    ? { name: m[1]!, kind: m[2] as "manifests" | "blobs", reference: m[3]! }
    : { name: m[1]!, kind: "tags", reference: "" };
}

/** Parameters of a challenge built the way each registry writes it (order kept). */
export function bearer(params: Array<[string, string | undefined]>): string {
  return `Bearer ${params
    .filter((p): p is [string, string] => p[1] !== undefined)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}`;
}
