/**
 * Docker Hub replica (registries.md §1): registry-1.docker.io, its token server auth.docker.io
 * (auth.ipv6.docker.com for IPv6 clients), and the three blob storage hosts it redirects to.
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

export const HUB = "registry-1.docker.io";
export const HUB_AUTH = "auth.docker.io";
export const HUB_AUTH_IPV6 = "auth.ipv6.docker.com";
export const HUB_CDN = "production.cloudflare.docker.com";
export const HUB_CLOUDFRONT = "production.cloudfront.docker.com";
export const HUB_R2 = "docker-images-prod.6aa.r2.cloudflarestorage.com";

/** The Worker's egress address as Docker Hub reports it back in `docker-ratelimit-source`. */
const SOURCE = "2a06:98c0:3600::103";
const WINDOW = "w=21600";

export interface DockerHubOptions {
  /**
   * registries.md §1 "IPv6 clients get a different realm" [S][T]: Workers egress over IPv6, so
   * the ping may name auth.ipv6.docker.com instead of auth.docker.io.
   */
  ipv6?: boolean;
  /** Pulls left in the window; registries.md §1 "100 per 6 h per IPv4 or IPv6 /64" [D]. */
  pullsLeft?: number;
}

export interface DockerHubReplica extends Replica {
  /** The rate limit state: manifest GETs count, HEADs do not. */
  readonly limit: { readonly max: number; remaining: number };
}

export async function dockerHub(
  world: World,
  options: DockerHubOptions = {},
): Promise<DockerHubReplica> {
  const authHost = options.ipv6 ? HUB_AUTH_IPV6 : HUB_AUTH;
  const realm = `https://${authHost}/token`;
  const service = "registry.docker.io";
  const issuer = authHost;
  world.trust(issuer, HUB);

  // Official images have been pushed by BuildKit as OCI indexes with provenance attestations.
  const nginx = await buildImage({
    seed: "docker.io/library/nginx",
    format: "oci",
    platforms: [LINUX_AMD64, LINUX_ARM64],
    attestations: true,
  });
  // An older official image still stored as a Docker manifest list.
  const alpine = await buildImage({
    seed: "docker.io/library/alpine",
    format: "docker",
    platforms: [LINUX_AMD64, LINUX_ARM64],
    layerSizes: [4096],
  });
  const watchtower = await buildImage({
    seed: "docker.io/containrrr/watchtower",
    format: "docker",
    platforms: [LINUX_AMD64],
  });
  const secret = await buildImage({
    seed: "docker.io/alice/private",
    format: "docker",
    platforms: [LINUX_AMD64],
  });

  const catalog = new Catalog();
  const nginxTags = ["1.26", "1.26.2", "1.27", "1.27.1", "alpine", "latest", "mainline", "stable"];
  catalog.add("library/nginx", nginx, ...nginxTags);
  catalog.add("library/alpine", alpine, "3.20", "latest");
  catalog.add("containrrr/watchtower", watchtower, "1.7.1", "latest");
  catalog.add("alice/private", secret, "latest");
  const isPublic = (name: string) => name !== "alice/private" && catalog.get(name) !== undefined;

  const limit = { max: 100, remaining: options.pullsLeft ?? 100 };
  const rateHeaders = (): Record<string, string> => ({
    "ratelimit-limit": `${limit.max};${WINDOW}`,
    "ratelimit-remaining": `${Math.max(limit.remaining, 0)};${WINDOW}`,
    "docker-ratelimit-source": SOURCE,
  });

  // registries.md §1 "Ping/401" [T]: 401, JSON, Bearer realm+service; repo-scoped 401s add scope
  // and already carry docker-ratelimit-source.
  const unauthorized = (name?: string) =>
    ociError(
      401,
      "UNAUTHORIZED",
      "authentication required",
      name ? [{ Type: "repository", Class: "", Name: name, Action: "pull" }] : null,
      {
        "www-authenticate": bearer([
          ["realm", realm],
          ["service", service],
          ["scope", name ? `repository:${name}:pull` : undefined],
        ]),
        "docker-ratelimit-source": SOURCE,
      },
    );

  // Blob storage: registries.md §1 "Blob GET" [T]. Which host a blob lands on is Docker's choice;
  // the replica spreads blobs over all three so every pull meets each of them.
  const images = [nginx, alpine, watchtower, secret];
  const blobs = blobsOf(images);
  const storageOf = (digest: string) => {
    const i = [...blobs.keys()].indexOf(digest) % 3;
    return i === 0 ? HUB_CDN : i === 1 ? HUB_R2 : HUB_CLOUDFRONT;
  };
  const storagePath = (digest: string) =>
    `/registry-v2/docker/registry/v2/blobs/sha256/${hexOf(digest).slice(0, 2)}/${hexOf(digest)}/data`;
  const location = (digest: string) => {
    const host = storageOf(digest);
    const path = storagePath(digest);
    const sig = signature(host, path);
    if (host === HUB_CDN) return `https://${host}${path}?verify=1790000000-${sig}`;
    if (host === HUB_R2) {
      return `https://${host}${path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=4c0a3f%2F20261201%2Fauto%2Fs3%2Faws4_request&X-Amz-Date=20261201T000000Z&X-Amz-Expires=1200&X-Amz-SignedHeaders=host&X-Amz-Signature=${sig}`;
    }
    // unknown in registries.md: CloudFront's query (announced 2026-05 [R]); assumed signed-URL params.
    return `https://${host}${path}?Expires=1790000000&Signature=${sig}&Key-Pair-Id=K2HUBDOCKER`;
  };

  world.serve(
    HUB,
    "registry",
    registryHandler({
      catalog,
      negotiation: { rule: "distribution" },
      // registries.md §1 "tags/list" [S]: distribution's relative Link; whether Hub pages without
      // `n` is disputed [R]: assumed every tag at once.
      paging: { link: "relative" },
      ping: () => unauthorized(),
      authorize(request, name) {
        const auth = world.authorization(request, HUB);
        // registries.md §1 "Unknown scope, missing library/, or private repo" [T]: the token was
        // issued with "access":[]; the registry call gets 401 again.
        if (auth.kind !== "bearer" || !auth.grant.repositories.includes(name)) {
          return unauthorized(name);
        }
        return undefined;
      },
      manifest(request) {
        // registries.md §1 "Rate counting: GET counts as a pull, HEAD does not" [D]; 429 when the
        // limit is hit; the headers on every manifest answer [T].
        if (request.method === "GET") {
          if (limit.remaining <= 0) {
            return ociError(
              429,
              "TOOMANYREQUESTS",
              "You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit",
              null,
              rateHeaders(),
            );
          }
          limit.remaining--;
        }
        return rateHeaders();
      },
      // registries.md §1 "Blob GET" [T]: 307, octet-stream, length 0, Location on a CDN.
      blob: (_request, blob) =>
        new Response(null, {
          status: 307,
          headers: {
            "content-type": "application/octet-stream",
            "content-length": "0",
            "docker-content-digest": blob.digest,
            location: location(blob.digest),
          },
        }),
    }),
  );

  // registries.md §1 "Token" [T]: anonymous GET with service and (possibly several) scopes;
  // `token` and `access_token` hold the same JWT, expires_in 300, issued_at.
  world.serve(authHost, "token", (request, url) => {
    if (url.pathname !== "/token") return new Response("404 page not found", { status: 404 });
    const credentials = request.headers.get("authorization");
    if (credentials) {
      // unknown in registries.md: Hub's answer to bad credentials; assumed its usual 401 JSON.
      return Response.json({ details: "incorrect username or password" }, { status: 401 });
    }
    const granted = requestedScopes(url)
      .map(pullScopeName)
      .filter((name): name is string => name !== undefined && isPublic(name));
    const token = world.mint(issuer, granted, 300);
    return Response.json({
      token,
      access_token: token,
      expires_in: 300,
      issued_at: new Date().toISOString(),
    });
  });

  const serveStorage = (
    host: string,
    check: (request: Request, url: URL) => Response | undefined,
  ) =>
    world.serve(host, "storage", (request, url) => {
      const m =
        /^\/registry-v2\/docker\/registry\/v2\/blobs\/sha256\/[0-9a-f]{2}\/([0-9a-f]{64})\/data$/.exec(
          url.pathname,
        );
      const blob: Content | undefined = m ? blobs.get(`sha256:${m[1]}`) : undefined;
      if (!blob) return xmlError(404, "NoSuchKey", "The specified key does not exist.");
      const refused = check(request, url);
      if (refused) return refused;
      return serveBytes(request, blob.bytes, {
        "content-type": "application/octet-stream",
        // registries.md §1 "Range on the CDN target" [T]
        "cache-control": "public, max-age=14400",
        "cf-cache-status": "HIT",
        etag: `"${hexOf(blob.digest).slice(0, 32)}"`,
      });
    });
  // unknown in registries.md: whether production.cloudflare.docker.com rejects Authorization;
  // assumed it ignores it. Without a valid `verify` it refuses (assumed 403).
  serveStorage(HUB_CDN, (_request, url) =>
    url.searchParams.get("verify") === `1790000000-${signature(HUB_CDN, url.pathname)}`
      ? undefined
      : new Response("403 Forbidden", { status: 403, headers: { "content-type": "text/plain" } }),
  );
  // registries.md §1 "The target rejects Authorization: yes, for R2" [T]: 400 Missing x-amz-content-sha256.
  serveStorage(HUB_R2, (request, url) => {
    if (request.headers.has("authorization")) {
      return xmlError(400, "InvalidRequest", "Missing x-amz-content-sha256");
    }
    return url.searchParams.get("X-Amz-Signature") === signature(HUB_R2, url.pathname)
      ? undefined
      : xmlError(
          403,
          "SignatureDoesNotMatch",
          "The request signature we calculated does not match",
        );
  });
  // registries.md §1 CloudFront (2026-05) [R]; unknown: whether it rejects Authorization (assumed not).
  serveStorage(HUB_CLOUDFRONT, (_request, url) =>
    url.searchParams.get("Signature") === signature(HUB_CLOUDFRONT, url.pathname)
      ? undefined
      : xmlError(403, "AccessDenied", "Access denied"),
  );

  return {
    registry: "docker.io",
    route: "docker",
    hosts: [HUB, authHost, HUB_CDN, HUB_R2, HUB_CLOUDFRONT],
    images: [
      { repository: "library/nginx", tag: "1.27.1", image: nginx },
      { repository: "containrrr/watchtower", tag: "1.7.1", image: watchtower },
      { repository: "library/alpine", tag: "3.20", image: alpine },
    ],
    paged: { repository: "library/nginx", tags: nginxTags },
    missingRepository: "library/does-not-exist",
    expectManifest: expectFrom(catalog, { rule: "distribution" }),
    limit,
  };
}
