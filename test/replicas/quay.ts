/** quay.io replica (registries.md §2): registry and token server on quay.io, blobs on a CDN or S3. */

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

export const QUAY = "quay.io";
export const QUAY_CDN = "cdn01.quay.io";
export const QUAY_S3 = "quayio-production-s3.s3.amazonaws.com";

export async function quay(world: World): Promise<Replica> {
  const realm = "https://quay.io/v2/auth";
  world.trust(QUAY, QUAY);

  const nodeExporter = await buildImage({
    seed: "quay.io/prometheus/node-exporter",
    format: "docker",
    platforms: [LINUX_AMD64, LINUX_ARM64],
  });
  const etcd = await buildImage({
    seed: "quay.io/coreos/etcd",
    format: "docker",
    platforms: [LINUX_AMD64],
  });
  const catalog = new Catalog();
  const tags = ["latest", "master", "v1.7.0", "v1.8.0", "v1.8.1", "v1.8.2"];
  catalog.add("prometheus/node-exporter", nodeExporter, ...tags);
  catalog.add("coreos/etcd", etcd, "v3.5.15");
  const negotiation = { rule: "quay" } as const;
  const blobs = blobsOf([nodeExporter, etcd]);
  const isPublic = (name: string) => catalog.get(name) !== undefined;

  // registries.md §2 "Missing or private repo → 401, not 404" [S]: detail is an empty object and
  // the challenge names the repository.
  const unauthorized = (name: string) =>
    ociError(
      401,
      "UNAUTHORIZED",
      "access to the requested resource is not authorized",
      {},
      {
        "www-authenticate": bearer([
          ["realm", realm],
          ["service", "quay.io"],
          ["scope", `repository:${name}:pull`],
        ]),
      },
    );

  // Blob storage: registries.md §2 "Blob GET" [S][T]. MultiCDNStorage picks per rule; the replica
  // sends even blobs to the CloudFront-signed CDN and odd ones to the raw S3 presigned URL.
  const storageOf = (digest: string) =>
    [...blobs.keys()].indexOf(digest) % 2 ? QUAY_S3 : QUAY_CDN;
  const location = (digest: string) => {
    const host = storageOf(digest);
    const path = `/sha256/${hexOf(digest).slice(0, 2)}/${hexOf(digest)}`;
    const sig = signature(host, path);
    return host === QUAY_CDN
      ? `https://${host}${path}?Expires=1790000060&Signature=${sig}&Key-Pair-Id=APKAJ67PQLWGCSP66DGA`
      : `https://${host}${path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261201%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261201T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=${sig}`;
  };

  world.serve(
    QUAY,
    "registry",
    registryHandler({
      catalog,
      // registries.md §2 "Manifests" [S]: convert or fall back to schema 1 by tag; by digest as stored.
      negotiation,
      // registries.md §2 "tags/list" [S]: n and last, page = max(V2_PAGINATION_SIZE, 100),
      // absolute Link with n first.
      paging: { link: "absolute", origin: "https://quay.io", order: "n-first", defaultPage: 100 },
      routes(request, url) {
        if (url.pathname !== "/v2/auth") return undefined;
        // registries.md §2 "Token" [S]: {"token"} only (no expires_in, 3600 s); no scope and no
        // credentials → 401; malformed scope → 400; bad Basic → InvalidLogin; unknown namespace
        // or private repository → a downscoped token.
        const scopes = requestedScopes(url);
        if (request.headers.has("authorization")) {
          // unknown in registries.md: InvalidLogin's body; assumed quay's JSON error.
          return Response.json({ error: "Invalid Username or Password" }, { status: 401 });
        }
        if (scopes.length === 0) {
          return Response.json({ error: "Unauthorized" }, { status: 401 });
        }
        if (scopes.some((s) => !/^repository:[^:]+:[a-z,*]+$/.test(s))) {
          return ociError(400, "INVALID_REQUEST", "Unable to parse scope");
        }
        const granted = scopes
          .map(pullScopeName)
          .filter((n): n is string => n !== undefined && isPublic(n));
        return Response.json({ token: world.mint(QUAY, granted, 3600) });
      },
      // registries.md §2 "Ping" [T][S]: 401, text/html, body `true`, X-Sparse-Manifest-Support.
      ping: () =>
        new Response("true", {
          status: 401,
          headers: {
            "content-type": "text/html; charset=utf-8",
            "www-authenticate": bearer([
              ["realm", realm],
              ["service", "quay.io"],
            ]),
            // unknown in registries.md: the header's value; assumed "true".
            "x-sparse-manifest-support": "true",
          },
        }),
      authorize(request, name) {
        const auth = world.authorization(request, QUAY);
        // registries.md §2 "Public repos need no token at all" [S]: no Authorization is fine for a
        // public repository; a token must grant it.
        if (auth.kind === "none" && isPublic(name)) return undefined;
        if (auth.kind === "bearer" && auth.grant.repositories.includes(name)) return undefined;
        return unauthorized(name);
      },
      // registries.md §2 "Manifests" [S]: only Content-Type and Docker-Content-Digest (Flask adds
      // Content-Length; HEAD is Flask's automatic one [I]); no ETag.
      manifest: () => ({ etag: null }),
      blob(request, blob: Content) {
        if (request.method === "HEAD") {
          // registries.md §2 [T]: blob HEAD → 200 with digest and cache-control, no redirect.
          return new Response(null, {
            headers: {
              "content-type": "application/octet-stream",
              "content-length": String(blob.bytes.length),
              "docker-content-digest": blob.digest,
              "cache-control": "max-age=31436000",
            },
          });
        }
        // registries.md §2 "Blob GET → Flask redirect() = 302 (HTML body)" [S][T].
        const target = location(blob.digest);
        return new Response(
          `<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: <a href="${target}">${target}</a>. If not, click the link.\n`,
          {
            status: 302,
            headers: {
              "content-type": "text/html; charset=utf-8",
              location: target,
              "docker-content-digest": blob.digest,
              "accept-ranges": "bytes",
              "cache-control": "max-age=31536000",
            },
          },
        );
      },
    }),
  );

  const serveStorage = (
    host: string,
    check: (request: Request, url: URL) => Response | undefined,
  ) =>
    world.serve(host, "storage", (request, url) => {
      const m = /^\/sha256\/[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(url.pathname);
      const blob = m ? blobs.get(`sha256:${m[1]}`) : undefined;
      if (!blob) return xmlError(404, "NoSuchKey", "The specified key does not exist.");
      return (
        check(request, url) ??
        serveBytes(request, blob.bytes, { "content-type": "application/octet-stream" })
      );
    });
  // unknown in registries.md: whether the CloudFront variant rejects Authorization (assumed not);
  // its signature is checked (60 s CloudFront signed URL [S]).
  serveStorage(QUAY_CDN, (_request, url) =>
    url.searchParams.get("Signature") === signature(QUAY_CDN, url.pathname)
      ? undefined
      : xmlError(403, "AccessDenied", "Access denied"),
  );
  // registries.md §2: "The S3 variant rejects a forwarded Authorization" [I] (generic S3, renovate#3877).
  serveStorage(QUAY_S3, (request, url) => {
    if (request.headers.has("authorization")) {
      return xmlError(
        400,
        "InvalidArgument",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
      );
    }
    return url.searchParams.get("X-Amz-Signature") === signature(QUAY_S3, url.pathname)
      ? undefined
      : xmlError(
          403,
          "SignatureDoesNotMatch",
          "The request signature we calculated does not match",
        );
  });

  return {
    registry: "quay.io",
    route: "quay",
    hosts: [QUAY, QUAY_CDN, QUAY_S3],
    images: [
      { repository: "prometheus/node-exporter", tag: "v1.8.2", image: nodeExporter },
      { repository: "coreos/etcd", tag: "v3.5.15", image: etcd },
    ],
    paged: { repository: "prometheus/node-exporter", tags },
    missingRepository: "prometheus/does-not-exist",
    expectManifest: expectFrom(catalog, negotiation),
  };
}
