/** ghcr.io replica (registries.md §6): registry and token server on ghcr.io, blobs on an Azure SAS host. */

import { serveBytes } from "../helpers/fake-registry";
import { buildImage, LINUX_AMD64, LINUX_ARM64 } from "./content";
import { bearer, Catalog } from "./distribution";
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

export const GHCR = "ghcr.io";
export const GHCR_BLOBS = "pkg-containers.githubusercontent.com";

export async function ghcr(world: World): Promise<Replica> {
  const realm = "https://ghcr.io/token";
  world.trust(GHCR, GHCR);

  const controller = await buildImage({
    seed: "ghcr.io/fluxcd/source-controller",
    format: "oci",
    platforms: [LINUX_AMD64, LINUX_ARM64],
    attestations: true,
  });
  const podinfo = await buildImage({
    seed: "ghcr.io/stefanprodan/podinfo",
    format: "oci",
    platforms: [LINUX_AMD64],
  });
  const catalog = new Catalog();
  const tags = ["v1.3.0", "v1.4.0", "v1.4.1", "v1.5.0-rc.1", "latest"];
  catalog.add("fluxcd/source-controller", controller, ...tags);
  catalog.add("stefanprodan/podinfo", podinfo, "6.7.0");
  const negotiation = { rule: "distribution", acceptWord: "Accept" } as const;
  const blobs = blobsOf([controller, podinfo]);

  // registries.md §6 "Ping/401" [T]: the scope is a placeholder on /v2/ and the real repository on
  // repository paths; body {"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}.
  const unauthorized = (scopeName: string) =>
    new Response(
      JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }),
      {
        status: 401,
        headers: {
          "content-type": "application/json",
          "www-authenticate": bearer([
            ["realm", realm],
            ["service", "ghcr.io"],
            ["scope", `repository:${scopeName}:pull`],
          ]),
          "x-github-request-id": "C0DE:1234:5678AB:9ABCDE:66F00D00",
        },
      },
    );

  const sasPath = (digest: string) => `/ghcr1/blobs/sha256:${hexOf(digest)}`;

  world.serve(
    GHCR,
    "registry",
    registryHandler({
      catalog,
      // registries.md §6 "Manifests: strict Accept" [T]: "Accept header" with a capital A.
      negotiation,
      // registries.md §6 "tags/list" [R]: n/last with Link rel="next"; unknown: the Link's form
      // and the default page size (assumed distribution's relative Link, every tag without n).
      paging: { link: "relative" },
      routes(request, url) {
        if (url.pathname !== "/token") return undefined;
        // registries.md §6 "Token" [R]/[T]: {"token":…} with no expires_in; private or missing
        // package → 401 (2026) [T]; the placeholder scope is refused anonymously [R].
        const names = requestedScopes(url).map(pullScopeName);
        if (names.some((n) => n === undefined || !catalog.get(n))) {
          return new Response(
            JSON.stringify({
              errors: [{ code: "UNAUTHORIZED", message: "authentication required" }],
            }),
            { status: 401, headers: { "content-type": "application/json" } },
          );
        }
        // unknown in registries.md: the token's real lifetime; assumed 5 minutes.
        return Response.json({ token: world.mint(GHCR, names as string[], 300) });
      },
      ping: () => unauthorized("user/image"),
      authorize(request, name) {
        // registries.md §6 "Quirk": public content also accepts the literal `Bearer QQ==` [S][T].
        if (request.headers.get("authorization") === "Bearer QQ==" && catalog.get(name)) {
          return undefined;
        }
        const auth = world.authorization(request, GHCR);
        if (auth.kind !== "bearer" || !auth.grant.repositories.includes(name)) {
          return unauthorized(name);
        }
        return undefined;
      },
      // registries.md §6 "Blob" [T]: 307, length 0, octet-stream, Location an Azure SAS URL.
      blob: (_request, blob) => {
        const path = sasPath(blob.digest);
        const query = new URLSearchParams({
          se: "2026-12-01T00:15:00Z",
          sig: signature(GHCR_BLOBS, path),
          sp: "r",
          spr: "https",
          sr: "b",
          sv: "2019-12-12",
        });
        return new Response(null, {
          status: 307,
          headers: {
            "content-length": "0",
            "content-type": "application/octet-stream",
            "docker-content-digest": blob.digest,
            location: `https://${GHCR_BLOBS}${path}?${query}`,
          },
        });
      },
    }),
  );

  world.serve(GHCR_BLOBS, "storage", (request, url) => {
    const m = /^\/ghcr1\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    const blob = m ? blobs.get(m[1]!) : undefined;
    if (!blob) return xmlError(404, "BlobNotFound", "The specified blob does not exist.");
    // registries.md §6: whether pkg-containers rejects Authorization is unknown [I]; Azure Blob
    // itself rejects Bearer [T generic]: modelled so.
    if (/^bearer\s/i.test(request.headers.get("authorization") ?? "")) {
      return xmlError(
        400,
        "InvalidAuthenticationInfo",
        "Authentication scheme Bearer is not supported in this version.",
      );
    }
    if (url.searchParams.get("sig") !== signature(GHCR_BLOBS, url.pathname)) {
      return xmlError(403, "AuthenticationFailed", "Signature did not match.");
    }
    // unknown in registries.md: Range on the SAS host; assumed honoured, as Azure Blob does.
    return serveBytes(request, blob.bytes, {
      "content-type": "application/octet-stream",
      "x-ms-blob-type": "BlockBlob",
    });
  });

  return {
    registry: "ghcr.io",
    route: "ghcr",
    hosts: [GHCR, GHCR_BLOBS],
    images: [
      { repository: "fluxcd/source-controller", tag: "v1.4.1", image: controller },
      { repository: "stefanprodan/podinfo", tag: "6.7.0", image: podinfo },
    ],
    paged: { repository: "fluxcd/source-controller", tags },
    missingRepository: "fluxcd/does-not-exist",
    expectManifest: expectFrom(catalog, negotiation),
  };
}
