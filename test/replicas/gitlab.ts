/** registry.gitlab.com replica (registries.md §10): registry, token server on gitlab.com, a signed Google CDN. */

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
  signature,
  type Replica,
} from "./registry";
import type { World } from "./world";

export const GITLAB = "registry.gitlab.com";
export const GITLAB_AUTH = "gitlab.com";
export const GITLAB_CDN = "cdn.registry.gitlab-static.net";

export async function gitlab(world: World): Promise<Replica> {
  world.trust(GITLAB_AUTH, GITLAB);
  const runner = await buildImage({
    seed: "registry.gitlab.com/gitlab-org/gitlab-runner",
    format: "oci",
    platforms: [LINUX_AMD64, LINUX_ARM64],
  });
  const releaseCli = await buildImage({
    seed: "registry.gitlab.com/gitlab-org/release-cli",
    format: "docker",
    platforms: [LINUX_AMD64],
  });
  const catalog = new Catalog();
  const tags = [
    "alpine-v17.2.0",
    "alpine-v17.3.0",
    "alpine-v17.3.1",
    "bleeding",
    "latest",
    "v17.3.0",
  ];
  catalog.add("gitlab-org/gitlab-runner", runner, ...tags);
  catalog.add("gitlab-org/release-cli", releaseCli, "v0.18.0");
  // registries.md §10 "Manifests. Strict Accept (distribution fork, same messages)" [R].
  const negotiation = { rule: "distribution" } as const;
  const blobs = blobsOf([runner, releaseCli]);
  const challenge = (name?: string) =>
    bearer([
      ["realm", "https://gitlab.com/jwt/auth"],
      ["service", "container_registry"],
      ["scope", name ? `repository:${name}:pull` : undefined],
    ]);
  const cdnPath = (digest: string) =>
    `/gitlab/docker/registry/v2/blobs/sha256/${hexOf(digest).slice(0, 2)}/${hexOf(digest)}/data`;
  // registries.md §10 "the signature can end in `=`" [D].
  const cdnSignature = (path: string) => `${signature(GITLAB_CDN, path)}Zm9v=`;

  world.serve(
    GITLAB,
    "registry",
    registryHandler({
      catalog,
      negotiation,
      // unknown in registries.md: paging; assumed distribution's.
      paging: { link: "relative" },
      // registries.md §10 "Ping" [T]: JSON with detail null, realm and service.
      ping: () =>
        ociError(401, "UNAUTHORIZED", "authentication required", null, {
          "www-authenticate": challenge(),
        }),
      authorize(request, name) {
        const auth = world.authorization(request, GITLAB);
        // registries.md §10 "Inaccessible repo → token with no access entry" [S, old]: then 401.
        if (auth.kind === "bearer" && auth.grant.repositories.includes(name)) return undefined;
        return ociError(
          401,
          "UNAUTHORIZED",
          "authentication required",
          [{ Type: "repository", Class: "", Name: name, Action: "pull" }],
          { "www-authenticate": challenge(name) },
        );
      },
      // registries.md §10 "Blob. Redirect (307 if distribution code is reused [I])" to a Google
      // Cloud CDN signed URL [D].
      blob: (_request, blob) => {
        const path = cdnPath(blob.digest);
        const query = `Expires=1790000000&KeyName=gprd-registry-cdn&Signature=${cdnSignature(path)}`;
        return new Response(null, {
          status: 307,
          headers: {
            location: `https://${GITLAB_CDN}${path}?${query}`,
            "content-type": "application/octet-stream",
            "docker-content-digest": blob.digest,
          },
        });
      },
    }),
  );

  world.serve(GITLAB_AUTH, "token", (request, url) => {
    if (url.pathname !== "/jwt/auth") return new Response("Not Found", { status: 404 });
    // registries.md §10 "Bogus Basic credentials → 401 even for public projects" [T].
    if (request.headers.has("authorization")) {
      return ociError(
        401,
        "UNAUTHORIZED",
        "HTTP Basic: Access denied. The provided password or token is incorrect.",
      );
    }
    const scopes = requestedScopes(url);
    // registries.md §10 "No scope and no user → 403 DENIED" [S, old].
    if (scopes.length === 0) return ociError(403, "DENIED", "access forbidden");
    // registries.md §10 "Reply {token}"; "Inaccessible repo → token with no access entry" [S, old].
    const granted = scopes
      .map(pullScopeName)
      .filter((n): n is string => n !== undefined && catalog.get(n) !== undefined);
    return Response.json({ token: world.mint(GITLAB_AUTH, granted, 900) });
  });

  world.serve(GITLAB_CDN, "storage", (request, url) => {
    const m =
      /^\/gitlab\/docker\/registry\/v2\/blobs\/sha256\/[0-9a-f]{2}\/([0-9a-f]{64})\/data$/.exec(
        url.pathname,
      );
    const blob = m ? blobs.get(`sha256:${m[1]}`) : undefined;
    if (!blob || url.searchParams.get("Signature") !== cdnSignature(url.pathname)) {
      return new Response("Forbidden", { status: 403, headers: { "content-type": "text/plain" } });
    }
    // unknown in registries.md: whether the CDN rejects Authorization (assumed not) and Range
    // (assumed honoured, as Google Cloud CDN does).
    return serveBytes(request, blob.bytes, { "content-type": "application/octet-stream" });
  });

  return {
    registry: "registry.gitlab.com",
    route: "gitlab",
    hosts: [GITLAB, GITLAB_AUTH, GITLAB_CDN],
    images: [
      { repository: "gitlab-org/gitlab-runner", tag: "alpine-v17.3.0", image: runner },
      { repository: "gitlab-org/release-cli", tag: "v0.18.0", image: releaseCli },
    ],
    paged: { repository: "gitlab-org/gitlab-runner", tags },
    missingRepository: "gitlab-org/does-not-exist",
    expectManifest: expectFrom(catalog, negotiation),
  };
}
