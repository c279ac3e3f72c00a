/** gcr.io replica (registries.md §3): registry and token endpoint on gcr.io, blobs in a public GCS bucket. */

import { serveBytes } from "../helpers/fake-registry";
import { buildImage, LINUX_AMD64, LINUX_ARM64 } from "./content";
import { bearer, Catalog, ociError } from "./distribution";
import {
  blobsOf,
  expectFrom,
  hexOf,
  pullScopeName,
  registryHandler,
  requestedScopes,
  xmlError,
  type Replica,
} from "./registry";
import type { World } from "./world";

export const GCR = "gcr.io";
export const GCS = "storage.googleapis.com";

export async function gcr(world: World): Promise<Replica> {
  world.trust(GCR, GCR);

  const distroless = await buildImage({
    seed: "gcr.io/distroless/static",
    format: "oci",
    platforms: [LINUX_AMD64, LINUX_ARM64],
    layerSizes: [2048, 3000],
  });
  const busybox = await buildImage({
    seed: "gcr.io/google-containers/busybox",
    format: "docker",
    platforms: [LINUX_AMD64],
  });
  const catalog = new Catalog();
  const tags = ["debug", "debug-nonroot", "latest", "nonroot", "nonroot-amd64", "nonroot-arm64"];
  catalog.add("distroless/static", distroless, ...tags);
  catalog.add("google-containers/busybox", busybox, "1.27");
  // unknown in registries.md: how Artifact Registry-backed gcr.io negotiates; assumed distribution.
  const negotiation = { rule: "distribution" } as const;
  const blobs = blobsOf([distroless, busybox]);

  // registries.md §3 "Ping/401" [T]: JSON, Server: Docker Registry, realm and service.
  // unknown in registries.md: the body; assumed distribution's UNAUTHORIZED.
  const challenge = bearer([
    ["realm", "https://gcr.io/v2/token"],
    ["service", "gcr.io"],
  ]);

  world.serve(
    GCR,
    "registry",
    registryHandler({
      catalog,
      negotiation,
      // unknown in registries.md: gcr.io paging; assumed distribution's (n/last, relative Link).
      // registries.md §3 "tags/list extras" [S]: the body carries `child` and `manifest` maps.
      paging: {
        link: "relative",
        extra: (page) => ({
          child: [],
          manifest: Object.fromEntries(
            page.map((tag) => [
              catalog.get("distroless/static")?.tags.get(tag) ?? "",
              {
                imageSizeBytes: "2048",
                mediaType: distroless.root.mediaType,
                tag: [tag],
                timeCreatedMs: "1723627800000",
                timeUploadedMs: "1723627800000",
              },
            ]),
          ),
        }),
      },
      routes(_request, url) {
        if (url.pathname !== "/v2/token") return undefined;
        const scopes = requestedScopes(url);
        // registries.md §3 "GCR rejects a token request whose scope is an empty string" [R];
        // unknown: the status (assumed 400).
        if (url.searchParams.has("scope") && scopes.length === 0) {
          return ociError(400, "INVALID_REQUEST", "empty scope");
        }
        // unknown in registries.md: the anonymous token's fields and lifetime; assumed
        // {"expires_in","issued_at","token"} with an hour, and no access for unknown repositories.
        const granted = scopes
          .map(pullScopeName)
          .filter((n): n is string => n !== undefined && catalog.get(n) !== undefined);
        return Response.json({
          expires_in: 3600,
          issued_at: new Date().toISOString(),
          token: world.mint(GCR, granted, 3600),
        });
      },
      ping: () =>
        ociError(401, "UNAUTHORIZED", "Unauthorized access.", null, {
          "www-authenticate": challenge,
          server: "Docker Registry",
        }),
      authorize(request, name) {
        const auth = world.authorization(request, GCR);
        // registries.md §3 "Public GCR repos do not need a token for any call" [S][T].
        if (catalog.get(name) && (auth.kind === "none" || auth.kind === "bearer")) return undefined;
        // registries.md §3 "gcr.io is sending 401 without a WWW-Authenticate header in the real
        // request" [S]: a repository the caller may not read (or that does not exist) gets a bare 401.
        return ociError(
          401,
          "UNAUTHORIZED",
          "You don't have the needed permissions to perform this operation, and you may have invalid credentials.",
        );
      },
      // registries.md §3 "Legacy blob" [T]: 302, application/json body {"errors":[]}, Location an
      // unsigned URL in the project's public bucket with a literal `sha256:`.
      blob: (_request, blob, name) =>
        new Response('{"errors":[]}', {
          status: 302,
          headers: {
            "content-type": "application/json",
            location: `https://${GCS}/us.artifacts.${name.split("/")[0]}.appspot.com/containers/images/sha256:${hexOf(blob.digest)}`,
            "docker-distribution-api-version": "registry/2.0",
          },
        }),
    }),
  );

  world.serve(GCS, "storage", (request, url) => {
    const m =
      /^\/us\.artifacts\.[a-z0-9-]+\.appspot\.com\/containers\/images\/(sha256:[0-9a-f]{64})$/.exec(
        url.pathname,
      );
    const blob = m ? blobs.get(m[1]!) : undefined;
    if (!blob) return xmlError(404, "NoSuchKey", "The specified key does not exist.");
    // registries.md §3: forwarding a registry Authorization to GCS "can cause problems" [R];
    // assumed: GCS refuses a bearer token it did not issue with 401.
    if (request.headers.has("authorization")) {
      return xmlError(401, "AuthenticationRequired", "Invalid Credentials");
    }
    // unknown in registries.md: Range on GCS; assumed honoured, as GCS does.
    return serveBytes(request, blob.bytes, {
      "content-type": "application/octet-stream",
      "x-goog-storage-class": "MULTI_REGIONAL",
    });
  });

  return {
    registry: "gcr.io",
    route: "gcr",
    hosts: [GCR, GCS],
    images: [
      { repository: "distroless/static", tag: "nonroot", image: distroless },
      { repository: "google-containers/busybox", tag: "1.27", image: busybox },
    ],
    paged: { repository: "distroless/static", tags },
    missingRepository: "distroless/does-not-exist",
    expectManifest: expectFrom(catalog, negotiation),
  };
}
