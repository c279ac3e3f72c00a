/**
 * registry.k8s.io replica (registries.md §5): archeio on registry.k8s.io that only redirects, the
 * regional Artifact Registry where manifests and missing blobs land, the public blob bucket behind
 * CloudFront; and k8s.gcr.io (§4), which redirects everything to registry.k8s.io.
 */

import { serveBytes } from "../helpers/fake-registry";
import { buildImage, LINUX_AMD64, LINUX_ARM64, type Content } from "./content";
import { bearer, Catalog, ociError } from "./distribution";
import {
  blobsOf,
  expectFrom,
  hexOf,
  pullScopeName,
  registryHandler,
  requestedScopes,
  signature,
  xmlError,
  type Replica,
} from "./registry";
import type { World } from "./world";

export const K8S = "registry.k8s.io";
export const K8S_GCR = "k8s.gcr.io";
/** registries.md §5: the region varies with the Cloud Run instance; us-west1 is one seen [T]. */
export const AR = "us-west1-docker.pkg.dev";
/** registries.md §5: the default blob bucket since 2026-07-29 [S]. */
export const K8S_BUCKET = "d1be1w964nk82h.cloudfront.net";
/** registries.md §5: UPSTREAM_REGISTRY_ENDPOINT + /v2/k8s-artifacts-prod/images/… [S]. */
const AR_PREFIX = "k8s-artifacts-prod/images";

export interface K8sOptions {
  /**
   * registries.md §5 "AR (*-docker.pkg.dev)": `/v2/` answers a Bearer challenge and repository
   * paths add service and scope [T] (apple/container#2274, 2026); ggcr added a per-host anonymous
   * token exchange for exactly this (§ cross-cutting 8, 2026-07). Older reports say public
   * repositories need no token at all (§3 [S][T], 2021). Default: the 2026 behaviour.
   */
  arRequiresToken?: boolean;
}

export async function registryK8s(world: World, options: K8sOptions = {}): Promise<Replica> {
  const requiresToken = options.arRequiresToken ?? true;
  world.trust(AR, AR);

  // pause is published as a Docker manifest list; the e2e busybox as a single schema 2 image.
  const pause = await buildImage({
    seed: "registry.k8s.io/pause",
    format: "docker",
    platforms: [LINUX_AMD64, LINUX_ARM64],
    layerSizes: [1024],
  });
  const busybox = await buildImage({
    seed: "registry.k8s.io/e2e-test-images/busybox",
    format: "docker",
    platforms: [LINUX_AMD64],
  });
  // The catalog is Artifact Registry's: every name lives under k8s-artifacts-prod/images/.
  const catalog = new Catalog();
  const tags = ["3.10", "3.2", "3.4.1", "3.5", "3.6", "3.7", "3.8", "3.9"];
  catalog.add(`${AR_PREFIX}/pause`, pause, ...tags);
  catalog.add(`${AR_PREFIX}/e2e-test-images/busybox`, busybox, "1.36.1-1");
  // unknown in registries.md: Artifact Registry's Accept handling; assumed distribution's.
  const negotiation = { rule: "distribution" } as const;
  const blobs = blobsOf([pause, busybox]);
  // The bucket is filled by a sync job; configs are left out so both blob paths get exercised
  // (registries.md §5 "Blob absent in the bucket → 307 to AR" [S]).
  const configs = new Set(
    [pause, busybox].flatMap((i) => i.manifests.map((m) => m.blobs[0]?.digest)),
  );
  const inBucket = (digest: string) => blobs.has(digest) && !configs.has(digest);

  const arChallenge = (name?: string) =>
    bearer([
      ["realm", `https://${AR}/v2/token`],
      ["service", name ? AR : undefined],
      ["scope", name ? `repository:${name}:pull` : undefined],
    ]);

  // --- registry.k8s.io (archeio) ---
  world.serve(K8S, "registry", (request, url) => {
    // registries.md §5 "Only GET and HEAD; anything else → 405" [S].
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Only GET and HEAD are allowed.", { status: 405 });
    }
    // registries.md §5 "GET /v2/ or /v2 → 200 with no auth" [S][T].
    if (url.pathname === "/v2/" || url.pathname === "/v2") {
      return new Response(null, {
        headers: {
          "docker-distribution-api-version": "registry/2.0",
          "content-type": "text/html",
          "content-length": "0",
          server: "Google Frontend",
        },
      });
    }
    if (url.pathname === "/v2/_catalog") {
      return new Response("_catalog is not supported", { status: 404 });
    }
    // registries.md §5 "Blobs": in the bucket → 307 there (literal sha256: in the path); else → AR.
    const blob = /^\/v2\/.*\/blobs\/([^/]+:[a-zA-Z0-9=_-]+)$/.exec(url.pathname);
    if (blob && inBucket(blob[1]!)) {
      return new Response(null, {
        status: 307,
        headers: { location: `https://${K8S_BUCKET}/containers/images/${blob[1]}` },
      });
    }
    if (url.pathname.startsWith("/v2/")) {
      // registries.md §5 "All redirects are 307" and "The query string is dropped" [S].
      const rest = url.pathname.slice("/v2/".length);
      return new Response(null, {
        status: 307,
        headers: { location: `https://${AR}/v2/${AR_PREFIX}/${rest}` },
      });
    }
    return new Response("404 page not found", { status: 404 });
  });

  // --- Artifact Registry ---
  const downloads = new Map<string, Content>();
  const arHandler = registryHandler({
    catalog,
    negotiation,
    // unknown in registries.md: AR's paging; assumed distribution's (n/last, relative Link, every
    // tag without n).
    paging: { link: "relative" },
    routes(request, url) {
      if (url.pathname === "/v2/token") {
        // unknown in registries.md: AR's anonymous token response; assumed {"token","expires_in"}
        // granting pull on any public k8s-artifacts-prod name.
        const granted = requestedScopes(url)
          .map(pullScopeName)
          .filter((n): n is string => n !== undefined && n.startsWith(`${AR_PREFIX}/`));
        return Response.json({ token: world.mint(AR, granted, 3600), expires_in: 3600 });
      }
      const download =
        /^\/artifacts-downloads\/namespaces\/k8s-artifacts-prod\/repositories\/images\/downloads\/([A-Za-z0-9_-]+)$/.exec(
          url.pathname,
        );
      if (download) {
        // registries.md §5: the download "works without Authorization" [R].
        const blob = downloads.get(download[1]!);
        if (!blob) return ociError(404, "NOT_FOUND", "download not found");
        return serveBytes(request, blob.bytes, { "content-type": "application/octet-stream" });
      }
      return undefined;
    },
    // registries.md §5 "AR": `/v2/` → Bearer realm, no service [T].
    ping: () =>
      ociError(401, "UNAUTHORIZED", "Unauthenticated request.", null, {
        "www-authenticate": arChallenge(),
      }),
    authorize(request, name) {
      if (!requiresToken) return undefined;
      const auth = world.authorization(request, AR);
      if (auth.kind === "bearer" && auth.grant.repositories.includes(name)) return undefined;
      // unknown in registries.md: the body of AR's repository 401; assumed distribution's.
      return ociError(401, "UNAUTHORIZED", "Unauthenticated request.", null, {
        "www-authenticate": arChallenge(name),
      });
    },
    // registries.md §5 "AR blob GET → 302 Found with a relative Location" [R], ~1068-char token.
    blob(_request, blob) {
      const token = `${signature(blob.digest)}${"A".repeat(1060)}`;
      downloads.set(token, blob);
      return new Response(null, {
        status: 302,
        headers: {
          location: `/artifacts-downloads/namespaces/k8s-artifacts-prod/repositories/images/downloads/${token}`,
          "docker-content-digest": blob.digest,
        },
      });
    },
  });
  world.serve(AR, "registry", arHandler);

  // --- the blob bucket ---
  world.serve(K8S_BUCKET, "storage", (request, url) => {
    const m = /^\/containers\/images\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    const blob = m && inBucket(m[1]!) ? blobs.get(m[1]!) : undefined;
    if (!blob) return xmlError(404, "NoSuchKey", "The specified key does not exist.");
    // registries.md §5: "An S3 bucket receiving a Bearer header answers 400 InvalidArgument
    // Unsupported Authorization Type" [T generic S3]; CloudFront in front of it assumed to pass it on.
    if (request.headers.has("authorization")) {
      return xmlError(400, "InvalidArgument", "Unsupported Authorization Type");
    }
    // registries.md §5 "The S3 and CloudFront URLs are unsigned" [R].
    return serveBytes(request, blob.bytes, {
      "content-type": "binary/octet-stream",
      server: "AmazonS3",
      "x-cache": "Hit from cloudfront",
      etag: `"${hexOf(blob.digest).slice(0, 32)}"`,
    });
  });

  return {
    registry: "registry.k8s.io",
    route: "k8s",
    hosts: [K8S, AR, K8S_BUCKET],
    images: [
      { repository: "pause", tag: "3.10", image: pause },
      { repository: "e2e-test-images/busybox", tag: "1.36.1-1", image: busybox },
    ],
    paged: { repository: "pause", tags },
    missingRepository: "does-not-exist",
    expectManifest: (repository, reference, accept) =>
      expectFrom(catalog, negotiation)(`${AR_PREFIX}/${repository}`, reference, accept),
  };
}

/**
 * k8s.gcr.io (registries.md §4): frozen since 2023-04, every request an HTTP 3xx to registry.k8s.io
 * [R]; `GET /v2/` → 302 [T]. unknown in registries.md: the exact Location; assumed the same path
 * and query on https://registry.k8s.io, with 302 for everything.
 */
export async function k8sGcr(world: World, options: K8sOptions = {}): Promise<Replica> {
  const k8s = await registryK8s(world, options);
  world.serve(K8S_GCR, "redirector", (_request, url) => {
    const target = `https://${K8S}${url.pathname}${url.search}`;
    return new Response(`<a href="${target}">Found</a>.\n\n`, {
      status: 302,
      headers: { location: target, "content-type": "text/html; charset=utf-8" },
    });
  });
  return {
    ...k8s,
    registry: "k8s.gcr.io",
    route: "k8s-gcr",
    hosts: [K8S_GCR, ...k8s.hosts],
    images: [{ ...k8s.images[0]!, tag: "3.9" }, ...k8s.images.slice(1)],
  };
}
